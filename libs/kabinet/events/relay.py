"""The outbox relay: publishes committed outbox rows to JetStream and marks them published.

One loop per service schema (several replicas may run it: rows are claimed with
``FOR UPDATE SKIP LOCKED``). It is woken by NOTIFY from the outbox trigger and polls slowly as a
fallback. A batch is published pipelined (every publish sent, then all acks awaited) and marked
with one UPDATE; a row is marked only after JetStream acknowledged it. A crash between the two
re-publishes the row later with the same ``Nats-Msg-Id``: JetStream drops the copy within its
duplicate window, and the consumers' inbox drops it after. For the same reason the marking
transaction does not wait for the WAL flush, which keeps a disk stall out of the event path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.js import JetStreamContext

from kabinet.db import check_schema_name
from kabinet.events import headers as h
from kabinet.events.held import HeldConnection
from kabinet.events.lifecycle import Lifecycle
from kabinet.events.listener import PgListener
from kabinet.events.nats_link import NatsLink

log = logging.getLogger(__name__)

_CLAIM = (
    "SELECT id, subject, event_type, payload, headers FROM outbox"
    " WHERE published_at IS NULL ORDER BY created_at, seq LIMIT $1 FOR UPDATE SKIP LOCKED"
)
# Marking need not wait for the disk: a mark lost in a crash only re-publishes events, which
# JetStream and the inboxes drop. So this transaction commits without waiting for the WAL flush.
_MARK = (
    "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))"
    " UPDATE outbox SET published_at = clock_timestamp() FROM relaxed"
    " WHERE id = ANY($1::uuid[])"
)
# How long the relay keeps its connection while waiting for more work.
_IDLE_RELEASE = 0.1
# How often a relay waiting for acks checks that its NATS connection is still up.
_ACK_CHECK = 0.1
# Longest pause between attempts while NATS or PostgreSQL is away.
_MAX_RETRY_DELAY = 2.0

_PURGE = (
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at IS NOT NULL"
    " AND published_at < clock_timestamp() - make_interval(secs => $1) LIMIT 10000)"
)
# The consumers' inbox rows outlive what the streams keep (a consumer made later replays the
# stream from its start, and the inbox must still know those events); then they can go.
_PURGE_INBOX = (
    "DELETE FROM inbox WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM inbox"
    " WHERE handled_at < clock_timestamp() - make_interval(secs => $1) LIMIT 10000)"
)


@dataclass(frozen=True)
class RelayStats:
    """What a relay has done since it was created."""

    published: int
    batches: int
    failed_publishes: int
    nats_connections: int
    listens: int


def message_headers(row: Any) -> dict[str, str]:
    """The NATS headers of an outbox row: its stored trace headers plus id and type."""
    stored = row["headers"]
    headers: dict[str, str] = {}
    if stored:
        loaded = json.loads(stored) if isinstance(stored, str) else stored
        headers.update({str(k): str(v) for k, v in loaded.items()})
    headers[h.MSG_ID] = str(row["id"])
    headers[h.EVENT_TYPE] = row["event_type"]
    return headers


class OutboxRelay:
    """Publishes ``schema``'s outbox to JetStream until ``stop()``.

    ``pool`` must work in ``schema`` (``kabinet.db.create_pool``); the relay holds two of its
    connections (the LISTEN and, while busy, the one it relays with), so stop the relay before
    closing the pool. ``nats_max_reconnect_attempts``/``nats_reconnect_time_wait`` are nats-py's
    budget for one client; when it runs out the relay connects again by itself, however long
    NATS stays away. Streams must exist for the subjects written (``ensure_streams``); an event
    no stream captures stays in the outbox, retried with backoff, without holding back others
    (unless a whole batch of them piles up).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        nats_url: str,
        *,
        batch_size: int = 500,
        poll_interval: float = 5.0,
        publish_timeout: float = 5.0,
        retention: float | None = 24 * 3600.0,
        inbox_retention: float | None = None,
        purge_interval: float = 300.0,
        nats_max_reconnect_attempts: int = 60,
        nats_reconnect_time_wait: float = 2.0,
        listen_keepalive: float = 5.0,
    ) -> None:
        self.pool = pool
        self.schema = check_schema_name(schema)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout
        self.retention = retention
        self.inbox_retention = inbox_retention
        self.purge_interval = purge_interval
        self._link = NatsLink(
            nats_url,
            name=f"kabinet-relay-{schema}",
            max_reconnect_attempts=nats_max_reconnect_attempts,
            reconnect_time_wait=nats_reconnect_time_wait,
        )
        self._wake = asyncio.Event()
        self._life = Lifecycle()
        self._listener = PgListener(
            pool, f"{schema}_outbox", self._wake, keepalive=listen_keepalive
        )
        self._js: tuple[Client, JetStreamContext] | None = None
        self._published = 0
        self._batches = 0
        self._failed = 0
        self._next_purge = 0.0

    @property
    def stats(self) -> RelayStats:
        """Counters for metrics and tests."""
        return RelayStats(
            published=self._published,
            batches=self._batches,
            failed_publishes=self._failed,
            nats_connections=self._link.connections,
            listens=self._listener.established,
        )

    async def run(self) -> None:
        """Relay until ``stop()`` is called; survives NATS and PostgreSQL outages."""
        self._life.begin()
        listener = asyncio.create_task(self._listener.run(), name=f"outbox-listen-{self.schema}")
        log.info("outbox relay started", extra={"schema": self.schema})
        held = HeldConnection(self.pool)
        failures = 0
        try:
            while not self._life.stop_requested:
                self._wake.clear()
                try:
                    more = await self._relay_batch(held)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await held.release()
                    failures += 1
                    delay = min(0.05 * 2**failures, _MAX_RETRY_DELAY)
                    # Once per outage at warning level; the retries after it are routine.
                    log.log(
                        logging.WARNING if failures == 1 else logging.DEBUG,
                        "outbox relay batch failed",
                        extra={"schema": self.schema, "error": repr(exc), "retry_in": delay},
                    )
                    await self._life.sleep(delay)
                    continue
                if failures:
                    log.info("outbox relay recovered", extra={"schema": self.schema})
                failures = 0
                await self._maybe_purge()
                if not more:
                    await self._wait_for_work(held)
        finally:
            await held.release()
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await self._link.close()
            self._js = None
            self._life.end()
            log.info("outbox relay stopped", extra={"schema": self.schema})

    async def stop(self) -> None:
        """Finish the batch in hand, then stop ``run()`` and wait for it to return."""
        self._life.stopping.set()
        self._wake.set()
        await self._life.stopped.wait()

    async def _wait_for_work(self, held: HeldConnection) -> None:
        """Wait for a NOTIFY (or the poll interval); the connection is kept only briefly."""
        wait = self.poll_interval
        if held.holding:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(_IDLE_RELEASE, wait))
                return
            await held.release()
            wait -= _IDLE_RELEASE
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(wait, 0.0))

    async def _jetstream(self) -> JetStreamContext | None:
        """The JetStream context of a connected client; None once a stop was requested."""
        nc = await self._life.unless_stopped(self._link.client())
        if nc is None:
            return None
        if self._js is None or self._js[0] is not nc:
            self._js = (nc, nc.jetstream(timeout=self.publish_timeout))
        if not nc.is_connected:
            # nats-py is reconnecting: don't pile publishes into its buffer; retry soon.
            raise ConnectionError("NATS is reconnecting")
        return self._js[1]

    async def _relay_batch(self, held: HeldConnection) -> bool:
        """Publish one batch; returns whether more rows may be waiting.

        Raises when some rows could not be published, so that the loop backs off before the
        next try (the acknowledged ones are marked all the same).
        """
        js = await self._jetstream()
        if js is None:
            return False
        async with held.use() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.batch_size)
            if not rows:
                return False
            acked = await self._publish(js, rows)
            if acked:
                await self._mark_published(conn, acked)
        self._published += len(acked)
        self._batches += 1
        if len(acked) < len(rows):
            raise ConnectionError(f"{len(rows) - len(acked)} events not acknowledged by NATS")
        return len(rows) == self.batch_size

    async def _publish(self, js: JetStreamContext, rows: Sequence[Any]) -> list[uuid.UUID]:
        """Send every row, then wait for the acks; returns the ids JetStream acknowledged."""
        sent: list[tuple[uuid.UUID, asyncio.Future[Any]]] = []
        try:
            for row in rows:
                # No wait_stall: with one, nats-py wraps every call in wait_for, which yields to
                # the event loop once per message and makes a batch crawl on a busy loop. The
                # batch is far below nats-py's limit of pending publishes, so nothing stalls.
                future = await js.publish_async(
                    row["subject"], row["payload"], headers=message_headers(row)
                )
                sent.append((row["id"], future))
        except Exception as exc:
            log.warning(
                "outbox publish interrupted",
                extra={"schema": self.schema, "error": repr(exc), "sent": len(sent)},
            )
        if not sent:
            self._failed += len(rows)
            raise ConnectionError("no event could be sent to NATS")
        pending = await self._acks({f for _, f in sent})
        for future in pending:
            future.cancel()
        acked: list[uuid.UUID] = []
        errors: dict[str, int] = {}
        for event_id, future in sent:
            if future.cancelled():
                errors["timeout"] = errors.get("timeout", 0) + 1
            elif (error := future.exception()) is not None:
                key = type(error).__name__ if isinstance(error, BaseException) else repr(error)
                errors[key] = errors.get(key, 0) + 1
            else:
                acked.append(event_id)
        failed = len(rows) - len(acked)
        if failed:
            self._failed += failed
            log.warning(
                "outbox events not acknowledged",
                extra={"schema": self.schema, "failed": failed, "errors": errors},
            )
        return acked

    async def _acks(self, futures: set[asyncio.Future[Any]]) -> set[asyncio.Future[Any]]:
        """Wait for the acks; returns the futures still pending after the publish timeout, or as
        soon as the connection drops (nats-py would leave them pending until then)."""
        nc = self._js[0] if self._js is not None else None
        deadline = asyncio.get_running_loop().time() + self.publish_timeout
        pending = futures
        while pending:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or (nc is not None and not nc.is_connected):
                break
            _, pending = await asyncio.wait(pending, timeout=min(left, _ACK_CHECK))
        return pending

    async def _mark_published(self, conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
        await conn.execute(_MARK, ids)

    async def _maybe_purge(self) -> None:
        """Delete sent outbox rows past ``retention`` and inbox rows past ``inbox_retention``."""
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.purge_interval
        for table, statement, age in (
            ("outbox", _PURGE, self.retention),
            ("inbox", _PURGE_INBOX, self.inbox_retention),
        ):
            if age is None:
                continue
            try:
                async with self.pool.acquire() as conn:
                    status = await conn.execute(statement, age)
            except Exception as exc:
                log.warning(
                    "purge failed",
                    extra={"schema": self.schema, "table": table, "error": repr(exc)},
                )
                continue
            removed = int(status.split()[-1]) if status else 0
            if removed:
                log.info(
                    "old rows purged",
                    extra={"schema": self.schema, "table": table, "removed": removed},
                )
