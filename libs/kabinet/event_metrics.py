"""A service's event-path metrics: outbox backlog, parked events, what the workers counted.

The values are read when metrics are collected (a Prometheus scrape, an OTLP export), not by a
polling loop: the collecting thread asks the service's event loop for one query on its pool and
waits a bounded time for it. A collection that cannot get an answer (database away, loop busy)
reports nothing for the database gauges, which Prometheus shows as a gap rather than a stale value.

Prometheus names (``KABINET_METRICS_ADDR``):

- ``kabinet_outbox_pending{service}``: events committed and not yet published to NATS;
- ``kabinet_outbox_oldest_age_seconds{service}``: how long the oldest of them has waited;
- ``kabinet_events_parked{service}``: events a consumer gave up on, not replayed yet;
- ``kabinet_events_published_total{service}``: events the relay published;
- ``kabinet_events_handled_total{service,consumer}`` and
  ``kabinet_events_parked_since_start_total{service,consumer}``: what each consumer did since start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import asyncpg
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from kabinet.events import count_parked, outbox_lag
from kabinet.events.consumer import EventConsumer
from kabinet.events.relay import OutboxRelay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventSnapshot:
    pending: int
    oldest_age: float
    parked: int


async def read_snapshot(pool: asyncpg.Pool) -> EventSnapshot:
    """Outbox backlog and parked events of the schema ``pool`` works in (the same queries
    ``kabinet-admin events`` uses)."""
    async with pool.acquire() as conn:
        pending, age = await outbox_lag(conn)
        return EventSnapshot(pending, age, await count_parked(conn))


class EventMetrics:
    """Observable instruments for one service; ``close`` stops them reporting."""

    def __init__(
        self,
        meter: metrics.Meter,
        service: str,
        pool: asyncpg.Pool,
        loop: asyncio.AbstractEventLoop,
        *,
        relay: OutboxRelay | None = None,
        consumers: Sequence[EventConsumer] = (),
        timeout: float = 2.0,
        max_age: float = 1.0,
    ) -> None:
        self.service = service
        self._pool = pool
        self._loop = loop
        self._relay = relay
        self._consumers = tuple(consumers)
        self._timeout = timeout
        self._max_age = max_age
        self._lock = threading.Lock()
        self._cached: tuple[float, EventSnapshot] | None = None
        self._closed = False
        labels = {"service": service}

        def from_snapshot(
            pick: Callable[[EventSnapshot], float],
        ) -> Callable[[CallbackOptions], list[Observation]]:
            def observe(options: CallbackOptions) -> list[Observation]:
                snapshot = self.snapshot()
                return [] if snapshot is None else [Observation(pick(snapshot), labels)]

            return observe

        meter.create_observable_gauge(
            "kabinet.outbox.pending",
            [from_snapshot(lambda s: s.pending)],
            unit="{event}",
            description="events committed and not yet published to NATS",
        )
        meter.create_observable_gauge(
            "kabinet.outbox.oldest_age",
            [from_snapshot(lambda s: s.oldest_age)],
            unit="s",
            description="how long the oldest unpublished event has waited",
        )
        meter.create_observable_gauge(
            "kabinet.events.parked",
            [from_snapshot(lambda s: s.parked)],
            unit="{event}",
            description="events a consumer gave up on and that were not replayed yet",
        )
        meter.create_observable_counter(
            "kabinet.events.published",
            [self._published],
            unit="{event}",
            description="events the outbox relay published since the process started",
        )
        meter.create_observable_counter(
            "kabinet.events.handled",
            [self._per_consumer(lambda c: c.stats.handled)],
            unit="{event}",
            description="events a consumer handled since the process started",
        )
        meter.create_observable_counter(
            "kabinet.events.parked_since_start",
            [self._per_consumer(lambda c: c.stats.parked)],
            unit="{event}",
            description="events a consumer parked since the process started",
        )

    def close(self) -> None:
        """Report nothing from now on (instruments cannot be removed from a meter)."""
        self._closed = True

    def snapshot(self) -> EventSnapshot | None:
        """The current values, read on the service's loop; None when they cannot be had."""
        if self._closed:
            return None
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._max_age:
                return self._cached[1]
            if self._on_own_loop() or self._loop.is_closed():
                return None  # waiting here would block the loop that must answer
            try:
                future = asyncio.run_coroutine_threadsafe(read_snapshot(self._pool), self._loop)
            except RuntimeError:
                return None
            try:
                snapshot = future.result(self._timeout)
            except Exception as exc:
                future.cancel()
                log.warning("event metrics unavailable", extra={"error": repr(exc)})
                return None
            self._cached = (time.monotonic(), snapshot)
            return snapshot

    def _on_own_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _published(self, options: CallbackOptions) -> Iterable[Observation]:
        if self._closed or self._relay is None:
            return []
        return [Observation(self._relay.stats.published, {"service": self.service})]

    def _per_consumer(
        self, count: Callable[[EventConsumer], int]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            if self._closed:
                return []
            return [
                Observation(count(c), {"service": self.service, "consumer": c.durable})
                for c in self._consumers
            ]

        return observe
