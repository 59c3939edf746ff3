"""Parked events: the ones a consumer gave up on, for operators to inspect and replay.

A replay request only marks the row; the running ``EventConsumer`` of that consumer name is woken
by NOTIFY (``<schema>_replay``), runs its handler for the event with the inbox in one transaction
and marks the row replayed, or records the new error and leaves it parked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

_COLUMNS = (
    "id, consumer, stream, subject, event_id, event_type, deliveries, error, parked_at,"
    " replay_requested_at, replayed_at"
)


@dataclass(frozen=True)
class ParkedEvent:
    """A parked event as an operator sees it (the payload stays in the table)."""

    id: uuid.UUID
    consumer: str
    stream: str
    subject: str
    event_id: uuid.UUID
    event_type: str
    deliveries: int
    error: str
    parked_at: datetime
    replay_requested_at: datetime | None
    replayed_at: datetime | None


async def list_parked(
    conn: asyncpg.Connection,
    consumer: str | None = None,
    *,
    include_replayed: bool = False,
    limit: int = 100,
) -> list[ParkedEvent]:
    """Parked events of this schema (of one consumer if given), oldest first.

    Replayed ones are left out unless ``include_replayed``.
    """
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM parked_events"  # noqa: S608 - constant column list
        " WHERE ($1::text IS NULL OR consumer = $1) AND ($2 OR replayed_at IS NULL)"
        " ORDER BY parked_at, id LIMIT $3",
        consumer,
        include_replayed,
        limit,
    )
    return [ParkedEvent(**dict(row)) for row in rows]


async def count_parked(conn: asyncpg.Connection) -> int:
    """How many parked events of this schema wait (not replayed yet)."""
    return int(await conn.fetchval("SELECT count(*) FROM parked_events WHERE replayed_at IS NULL"))


async def request_replay(conn: asyncpg.Connection, parked_id: uuid.UUID) -> bool:
    """Ask the consumer to run its handler again for parked event ``parked_id``.

    Returns False when there is no such parked event or it was replayed already.
    """
    status = await conn.execute(
        "UPDATE parked_events SET replay_requested_at = clock_timestamp()"
        " WHERE id = $1 AND replayed_at IS NULL",
        parked_id,
    )
    return status.endswith(" 1")
