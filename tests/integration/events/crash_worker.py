"""A relay or consumer process that dies at the worst moment, for the crash tests.

``relay``: publishes one batch, gets JetStream's acks, then dies before marking the rows
published. ``consumer``: commits the handler's effect and the inbox row, then dies before the ack.
The process exits with ``os._exit`` (no cleanup, no goodbye to NATS or PostgreSQL), like a kill.

Usage: ``python crash_worker.py relay DATABASE_URL SCHEMA NATS_URL`` or
``python crash_worker.py consumer DATABASE_URL SCHEMA NATS_URL STREAM DURABLE SUBJECT``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

import asyncpg
from google.protobuf.wrappers_pb2 import StringValue

from kabinet import db
from kabinet.events import EventConsumer, OutboxRelay, ReceivedEvent

CRASHED = 17


class RelayDyingBeforeMark(OutboxRelay):
    async def _mark_published(self, conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
        os._exit(CRASHED)


class ConsumerDyingBeforeAck(EventConsumer):
    async def _ack(self, msg: Any) -> None:
        os._exit(CRASHED)


async def record_effect(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    await conn.execute(
        "INSERT INTO effects (event_id, value) VALUES ($1, $2)",
        event.event_id,
        event.parse(StringValue).value,
    )


async def main(role: str, database_url: str, schema: str, nats_url: str, *rest: str) -> None:
    pool = await db.create_pool(database_url, schema, min_size=1, max_size=5)
    if role == "relay":
        await RelayDyingBeforeMark(pool, schema, nats_url).run()
    else:
        stream, durable, subject = rest
        await ConsumerDyingBeforeAck(
            pool,
            nats_url,
            stream=stream,
            durable=durable,
            subjects=[subject],
            handler=record_effect,
            ack_wait=1.0,
        ).run()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
