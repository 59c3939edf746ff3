"""Event mechanics on the embedded servers: commit → handler latency and relay throughput.

PostgreSQL runs with durable settings (fsync and synchronous commit on, as ``make run`` does) and
NATS JetStream with file storage, both from the wheels, in a temporary directory.

* latency: a producing service (a child process that writes one event per transaction at a paced
  1,000 events/s and runs the outbox relay, as a Kabinet service does) and a consuming service
  (this process, one ``EventConsumer``); for each event, the time from the writer's COMMIT
  returning to the consumer's handler starting (after half a second of warm-up);
* throughput: a burst of 20,000 committed events drained by one relay, then handled by one
  consumer.

Run with ``python -m bench.events``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import nats
from google.protobuf.wrappers_pb2 import StringValue

from bench.common import percentile, print_table
from kabinet import db
from kabinet.devstack.nats import EmbeddedNats
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.events import (
    EventConsumer,
    OutboxRelay,
    ReceivedEvent,
    ensure_stream,
    outbox_lag,
    publish_event,
)

SCHEMA = "bench_events"
STREAM = "BENCH"
SUBJECT = "bench.item.created"
RATE = 1_000
LATENCY_SECONDS = 10.0
BURST = 20_000
# The producing process runs ``python -m bench.events`` from the repository root.
ROOT = Path(__file__).resolve().parents[1]


async def _wait_until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark did not finish in time")
        await asyncio.sleep(0.005)


async def produce(database_url: str, nats_url: str, rate: int, seconds: float) -> None:
    """The producing service: paced writes plus its relay; prints ``{event_id: commit_time}``."""
    pool = await db.create_pool(database_url, SCHEMA, min_size=4, max_size=30)
    relay = OutboxRelay(pool, SCHEMA, nats_url)
    relaying = asyncio.create_task(relay.run())
    committed: dict[str, float] = {}

    async def write(n: int, record: bool) -> None:
        event_id = uuid.uuid4()
        async with pool.acquire() as conn:
            async with conn.transaction():
                await publish_event(conn, SUBJECT, StringValue(value=str(n)), event_id=event_id)
            if record:
                # perf_counter is CLOCK_MONOTONIC: comparable across processes on one machine.
                committed[str(event_id)] = time.perf_counter()

    async def paced(total: int, record: bool) -> float:
        writers = []
        begin = time.perf_counter()
        for n in range(total):
            delay = begin + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writers.append(asyncio.create_task(write(n, record)))
        await asyncio.gather(*writers)
        return total / (time.perf_counter() - begin)

    await paced(rate // 2, record=False)  # warm-up: connections, prepared statements, caches
    offered = await paced(int(rate * seconds), record=True)

    async def relayed() -> bool:
        async with pool.acquire() as conn:
            pending, _ = await outbox_lag(conn)
        return pending == 0

    await _wait_until(relayed, 60)
    await relay.stop()
    await relaying
    await pool.close()
    print(json.dumps({"offered": offered, "committed": committed}))


async def _latency(database_url: str, nats_url: str) -> dict[str, Any]:
    started: dict[str, float] = {}

    async def handler(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        started[str(event.event_id)] = time.perf_counter()

    pool = await db.create_pool(database_url, SCHEMA, min_size=2, max_size=10)
    consumer = EventConsumer(
        pool, nats_url, stream=STREAM, durable="latency", subjects=[SUBJECT], handler=handler
    )
    consuming = asyncio.create_task(consumer.run())
    producer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.events",
        "produce",
        database_url,
        nats_url,
        str(RATE),
        str(LATENCY_SECONDS),
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await producer.communicate()
    if producer.returncode != 0:
        raise RuntimeError("the producing process failed")
    report = json.loads(out)
    committed: dict[str, float] = report["committed"]

    async def all_handled() -> bool:
        return all(key in started for key in committed)

    await _wait_until(all_handled, 60)
    await consumer.stop()
    await consuming
    await pool.close()
    latencies = [(started[k] - committed[k]) * 1000 for k in committed]
    return {
        "measure": f"commit → handler, paced {RATE}/s",
        "events": len(committed),
        "offered/s": round(report["offered"]),
        "p50 ms": round(statistics.median(latencies), 2),
        "p99 ms": round(percentile(latencies, 0.99), 2),
        "max ms": round(max(latencies), 2),
    }


async def _fill(pool: asyncpg.Pool, count: int, per_transaction: int = 500) -> None:
    for first in range(0, count, per_transaction):
        async with pool.acquire() as conn, conn.transaction():
            for n in range(first, min(first + per_transaction, count)):
                await publish_event(conn, SUBJECT, StringValue(value=str(n)))


async def _throughput(database_url: str, nats_url: str) -> list[dict[str, Any]]:
    pool = await db.create_pool(database_url, SCHEMA, min_size=2, max_size=10)
    await _fill(pool, BURST)
    relay = OutboxRelay(pool, SCHEMA, nats_url)

    async def drained() -> bool:
        async with pool.acquire() as conn:
            pending, _ = await outbox_lag(conn)
        return pending == 0

    begin = time.perf_counter()
    relaying = asyncio.create_task(relay.run())
    await _wait_until(drained, 120)
    relay_seconds = time.perf_counter() - begin
    await relay.stop()
    await relaying

    handled: set[uuid.UUID] = set()

    async def handler(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        handled.add(event.event_id)

    consumer = EventConsumer(
        pool, nats_url, stream=STREAM, durable="burst", subjects=[SUBJECT], handler=handler
    )

    async def consumed() -> bool:
        return len(handled) >= BURST

    begin = time.perf_counter()
    consuming = asyncio.create_task(consumer.run())
    await _wait_until(consumed, 300)
    consumer_seconds = time.perf_counter() - begin
    await consumer.stop()
    await consuming
    await pool.close()
    return [
        {
            "measure": "burst through one relay",
            "events": BURST,
            "events/s": round(BURST / relay_seconds),
        },
        {
            "measure": "burst through one consumer",
            "events": BURST,
            "events/s": round(BURST / consumer_seconds),
        },
    ]


async def run() -> list[dict[str, Any]]:
    """Start durable embedded servers, measure, and return one row per measure."""
    with tempfile.TemporaryDirectory(prefix="kabinet-bench-events-") as scratch:
        root = Path(scratch)
        postgres = EmbeddedPostgres(root / "pg", free_port(), durable=True, log=subprocess.DEVNULL)
        bus = EmbeddedNats(root / "nats", free_port(), free_port(), log=subprocess.DEVNULL)
        postgres.start()
        try:
            bus.start()
            try:
                conn = await asyncpg.connect(postgres.url)
                try:
                    await db.migrate(conn, SCHEMA, [("kabinet", db.SHARED_MIGRATIONS)])
                finally:
                    await conn.close()
                nc = await nats.connect(bus.url)
                try:
                    await ensure_stream(nc.jetstream(), STREAM, ["bench.>"])
                finally:
                    await nc.close()
                rows = [await _latency(postgres.url, bus.url)]
                rows += await _throughput(postgres.url, bus.url)
            finally:
                bus.stop()
        finally:
            postgres.stop()
    return rows


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    if argv[:1] == ["produce"]:
        asyncio.run(produce(argv[1], argv[2], int(argv[3]), float(argv[4])))
    else:
        print_table("Event path: outbox commit → consumer handler", asyncio.run(run()))


if __name__ == "__main__":
    main(sys.argv[1:])
