"""Event metrics are read on the service's loop, from the collecting thread, within a bound."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from kabinet.event_metrics import EventMetrics, EventSnapshot


class _Pool:
    """Answers the backlog and parked-count queries, slowly when asked to; counts readings (one
    connection taken per reading)."""

    def __init__(self) -> None:
        self.readings = 0
        self.delay = 0.0

    def acquire(self) -> _Pool:
        return self

    async def __aenter__(self) -> _Pool:
        self.readings += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetchrow(self, sql: str) -> dict[str, Any]:
        await asyncio.sleep(self.delay)
        return {"pending": 4, "age": 12.5}

    async def fetchval(self, sql: str) -> int:
        return 2


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop running in its own thread, as the service's does while Prometheus scrapes."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _metrics(loop: asyncio.AbstractEventLoop, pool: _Pool, **kwargs: Any) -> EventMetrics:
    meter = MeterProvider().get_meter("test")
    return EventMetrics(meter, "support", pool, loop, **kwargs)  # type: ignore[arg-type]


def test_a_reading_comes_from_the_pool_and_is_reused_briefly(
    loop: asyncio.AbstractEventLoop,
) -> None:
    pool = _Pool()
    metrics = _metrics(loop, pool, max_age=60.0)
    assert metrics.snapshot() == EventSnapshot(pending=4, oldest_age=12.5, parked=2)
    assert metrics.snapshot() is not None
    assert pool.readings == 1
    metrics.close()
    assert metrics.snapshot() is None


def test_a_slow_database_gives_no_reading_rather_than_a_stuck_scrape(
    loop: asyncio.AbstractEventLoop,
) -> None:
    pool = _Pool()
    pool.delay = 5.0
    metrics = _metrics(loop, pool, timeout=0.2)
    assert metrics.snapshot() is None


def test_the_loop_itself_never_waits_for_a_reading(loop: asyncio.AbstractEventLoop) -> None:
    pool = _Pool()
    metrics = _metrics(loop, pool)
    on_loop = asyncio.run_coroutine_threadsafe(_snapshot_on_loop(metrics), loop)
    assert on_loop.result(5) is None
    assert pool.readings == 0


async def _snapshot_on_loop(metrics: EventMetrics) -> EventSnapshot | None:
    return metrics.snapshot()
