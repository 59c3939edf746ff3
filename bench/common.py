"""What every benchmark shares: percentiles, timing loops, one-core pinning and the table."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from kabinet.devstack.nats import EmbeddedNats
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.devstack.smtp import SmtpSink

Row = dict[str, Any]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def latency_row(name: str, seconds: list[float], elapsed: float, **extra: Any) -> Row:
    """One table row: operations, rate, p50 and p99 in milliseconds."""
    return {
        "measure": name,
        "ops": len(seconds),
        "per_s": round(len(seconds) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 3),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 3),
        **extra,
    }


def measure(name: str, operation: Callable[[], object], count: int, warmup: int = 20) -> Row:
    """Run ``operation`` ``count`` times back to back and time each call."""
    for _ in range(warmup):
        operation()
    timings: list[float] = []
    clock = time.perf_counter
    started = clock()
    for _ in range(count):
        before = clock()
        operation()
        timings.append(clock() - before)
    return latency_row(name, timings, clock() - started)


async def measure_async(
    name: str, operation: Callable[[], Awaitable[object]], count: int, warmup: int = 20
) -> Row:
    """``measure`` for a coroutine function, awaited one call at a time."""
    for _ in range(warmup):
        await operation()
    timings: list[float] = []
    clock = time.perf_counter
    started = clock()
    for _ in range(count):
        before = clock()
        await operation()
        timings.append(clock() - before)
    return latency_row(name, timings, clock() - started)


async def paced(
    call: Callable[[], Awaitable[object]], *, rate: float, seconds: float
) -> tuple[list[float], float, int]:
    """Calls started at a steady ``rate``; latencies, elapsed time and failed calls."""
    latencies: list[float] = []
    failures = 0

    async def one() -> None:
        nonlocal failures
        before = time.perf_counter()
        try:
            await call()
        except grpc.aio.AioRpcError:
            failures += 1
            return
        latencies.append(time.perf_counter() - before)

    tasks = []
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - started, failures


async def closed_loop(
    call: Callable[[], Awaitable[object]], *, count: int, concurrency: int
) -> tuple[list[float], float]:
    """``count`` calls with ``concurrency`` in flight; per-call latencies and the elapsed time."""
    latencies: list[float] = []
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            before = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - before)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in this process within the block; one full collection before it.

    A client that imports a service's packages has a large heap, and a full collection of it
    pauses the client for 10 to 20 ms, which the calls in flight would be charged with as if the
    service had been slow (over a 5 s run that moved the p99 by 1 to 2 ms). ``timeit`` pauses the
    collector for the same reason.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one CPU for the measures ("per core" figures), then restore."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(previous)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def print_table(title: str, rows: list[Row]) -> None:
    """Rows as aligned columns under a title."""
    print(f"\n## {title}")
    if not rows:
        print("(no rows)")
        return
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


# The CPUs the benchmarks run on, read once: a benchmark may pin this process meanwhile.
_START_CPUS = frozenset(os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else {0})


def every_cpu() -> set[int]:
    """Every CPU this process may run on (the ones it was started with)."""
    return set(_START_CPUS)


def server_and_load_cpus() -> tuple[set[int], set[int]]:
    """(a server's CPU, the load generator's CPUs); the same CPU on a one-core machine."""
    available = sorted(_START_CPUS)
    return {available[0]}, set(available[1:]) or {available[0]}


@contextlib.contextmanager
def pinned(cpus: set[int]) -> Iterator[None]:
    """This process runs on ``cpus`` for the block's duration (where the OS allows pinning)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


@contextlib.contextmanager
def pinned_process(
    args: list[str], env: dict[str, str], cpus: set[int]
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process pinned to ``cpus`` for the block's duration, its output discarded."""
    process = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(15)


# The load comes from one address: the edge's per-IP limit on sensitive routes would measure
# itself instead of the service.
UNLIMITED_EDGE = {
    "KABINET_GATEWAY_RATE_LIMIT_IP": "1000000000",
    "KABINET_GATEWAY_RATE_LIMIT_SESSION": "1000000000",
}


@dataclass(frozen=True)
class Stack:
    """The infrastructure one benchmark runs its services on."""

    env: dict[str, str]  # what the gateway and every service need to reach it
    gateway_port: int


@contextlib.contextmanager
def embedded_stack(root: Path) -> Iterator[Stack]:
    """Embedded PostgreSQL (database ``kabinet``), NATS and an SMTP sink under ``root``, stopped
    after the block; the environment names them, the gateway's port and the edge without limits."""
    postgres = EmbeddedPostgres(root / "pg", free_port(), log=subprocess.DEVNULL)
    nats = EmbeddedNats(root / "nats", free_port(), free_port(), log=subprocess.DEVNULL)
    sink = SmtpSink(root / "mail", "127.0.0.1", free_port())
    postgres.start()
    try:
        nats.start()
        sink.start()
        postgres.create_database("kabinet")
        gateway_port = free_port()
        yield Stack(
            env={
                **os.environ,
                "KABINET_DATABASE_URL": postgres.database_url("kabinet"),
                "KABINET_NATS_URL": nats.url,
                "KABINET_SMTP_URL": sink.url,
                "KABINET_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
                "KABINET_GATEWAY_PORT": str(gateway_port),
                "KABINET_LOG_LEVEL": "WARNING",
                "KABINET_TELEMETRY": "none",
                **UNLIMITED_EDGE,
            },
            gateway_port=gateway_port,
        )
    finally:
        sink.stop()
        nats.stop()
        postgres.stop()
