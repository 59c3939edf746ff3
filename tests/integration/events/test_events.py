"""Outbox, relay and consumers on real PostgreSQL and NATS JetStream, including their faults.

Each test has its own schema and its own stream (``T<hex>`` capturing ``t<hex>.>``); the fault
tests start private servers so that they can kill and restart them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import nats
import pytest
from google.protobuf.wrappers_pb2 import Int32Value, StringValue
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import kabinet
from kabinet import db
from kabinet.devstack.nats import EmbeddedNats
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.events import (
    EventConsumer,
    EventTypeMismatchError,
    OutboxRelay,
    ReceivedEvent,
    ensure_stream,
    list_parked,
    outbox_lag,
    publish_event,
    request_replay,
)

pytestmark = pytest.mark.integration

CRASH_WORKER = Path(__file__).with_name("crash_worker.py")
CRASHED = 17


class Worker(Protocol):
    async def run(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Stream:
    """A stream only one test uses: its name and the subject prefix it captures."""

    name: str
    prefix: str

    @property
    def subject(self) -> str:
        return f"{self.prefix}.item.created"


def new_stream() -> Stream:
    token = uuid.uuid4().hex[:10]
    return Stream(name=f"T{token.upper()}", prefix=f"t{token}")


async def create_stream(nats_url: str, stream: Stream, **options: Any) -> None:
    nc = await nats.connect(nats_url)
    try:
        await ensure_stream(nc.jetstream(), stream.name, [f"{stream.prefix}.>"], **options)
    finally:
        await nc.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0
) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds (a hang, not a speed test)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(*workers: Worker) -> AsyncIterator[None]:
    """Run the workers for the block, then stop them (a crashed worker fails the test)."""
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield
    finally:
        for worker in workers:
            await asyncio.wait_for(worker.stop(), 30)
        for task in tasks:
            await task


async def migrate_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await db.migrate(conn, schema, [("kabinet", db.SHARED_MIGRATIONS)])
        await conn.execute(
            f'CREATE TABLE "{schema}".effects (event_id uuid NOT NULL, value text NOT NULL)'
        )
    finally:
        await conn.close()


@pytest.fixture
async def pool(database_url: str, fresh_schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a freshly migrated schema with an ``effects`` table for handlers to write."""
    await migrate_schema(database_url, fresh_schema)
    created = await db.create_pool(database_url, fresh_schema, min_size=1, max_size=10)
    yield created
    await created.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA "{fresh_schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def stream(nats_url: str) -> AsyncIterator[Stream]:
    made = new_stream()
    await create_stream(nats_url, made)
    yield made
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(made.name)
    finally:
        await nc.close()


async def write_events(
    pool: asyncpg.Pool, subject: str, values: list[str], *, per_transaction: int = 1
) -> list[uuid.UUID]:
    """Commit one event per value, ``per_transaction`` events to a transaction."""
    ids: list[uuid.UUID] = []
    for first in range(0, len(values), per_transaction):
        async with pool.acquire() as conn, conn.transaction():
            for value in values[first : first + per_transaction]:
                ids.append(await publish_event(conn, subject, StringValue(value=value)))
    return ids


async def record_effect(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
    """The handler most tests use: one row per run that committed."""
    await conn.execute(
        "INSERT INTO effects (event_id, value) VALUES ($1, $2)",
        event.event_id,
        event.parse(StringValue).value,
    )


async def effects(pool: asyncpg.Pool) -> tuple[int, int]:
    """(rows, distinct event ids) written by handlers."""
    row = await pool.fetchrow("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM effects")
    assert row is not None
    return int(row["n"]), int(row["d"])


async def effects_reach(pool: asyncpg.Pool, count: int) -> bool:
    try:
        return (await effects(pool))[1] >= count
    except db.CONNECTION_ERRORS:
        return False


async def pending_in_outbox(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        pending, _ = await outbox_lag(conn)
    return pending


async def stream_messages(nats_url: str, stream: Stream) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(stream.name)
    finally:
        await nc.close()
    return int(info.state.messages)


async def settled(nats_url: str, stream: Stream, durable: str) -> bool:
    """The durable consumer has nothing left to deliver and nothing unacknowledged."""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(stream.name, durable)
    finally:
        await nc.close()
    return info.num_pending == 0 and info.num_ack_pending == 0


def consumer(pool: asyncpg.Pool, nats_url: str, stream: Stream, **options: Any) -> EventConsumer:
    settings: dict[str, Any] = {
        "stream": stream.name,
        "durable": "effects",
        "subjects": [f"{stream.prefix}.>"],
        "handler": record_effect,
        "retry_base_delay": 0.05,
        "retry_max_delay": 0.2,
        **options,
    }
    return EventConsumer(pool, nats_url, **settings)


async def run_crash_worker(*args: str) -> int:
    libs = Path(kabinet.__file__).resolve().parents[1]
    path = os.pathsep.join([str(libs), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CRASH_WORKER),
        *args,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return await asyncio.wait_for(process.wait(), 60)


# --- the outbox and the relay -------------------------------------------------------------------


async def test_publish_event_refuses_to_run_outside_a_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await publish_event(conn, "t.item.created", StringValue(value="x"))
        async with conn.transaction():
            with pytest.raises(ValueError, match="not a valid event subject"):
                await publish_event(conn, "t.item.*", StringValue(value="x"))
    assert await pending_in_outbox(pool) == 0


async def test_an_event_of_a_rolled_back_transaction_is_never_published(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    class Abort(Exception):
        pass

    async def write_then_fail() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await publish_event(conn, stream.subject, StringValue(value="rolled back"))
            raise Abort

    with pytest.raises(Abort):
        await write_then_fail()
    (marker,) = await write_events(pool, stream.subject, ["committed"])
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    worker = consumer(pool, nats_url, stream)
    async with running(relay, worker):
        await eventually(lambda: effects_reach(pool, 1), "the committed event's effect")
        await eventually(lambda: settled(nats_url, stream, "effects"), "the consumer to settle")
    rows = await pool.fetch("SELECT event_id, value FROM effects")
    assert [(r["event_id"], r["value"]) for r in rows] == [(marker, "committed")]
    assert await stream_messages(nats_url, stream) == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_events_carry_id_type_and_trace_and_continue_the_trace(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    seen: list[ReceivedEvent] = []

    async def handler(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        seen.append(event)

    with tracer.start_as_current_span("use case") as use_case:
        async with pool.acquire() as conn, conn.transaction():
            event_id = await publish_event(conn, stream.subject, StringValue(value="hello"))
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    worker = consumer(pool, nats_url, stream, handler=handler, tracer=tracer)

    async def handled() -> bool:
        return bool(seen)

    async with running(relay, worker):
        await eventually(handled, "the event to be handled")

    (event,) = seen
    assert event.event_id == event_id
    assert event.subject == stream.subject
    assert event.event_type == "google.protobuf.StringValue"
    assert event.headers["Nats-Msg-Id"] == str(event_id)
    assert event.headers["Kabinet-Event-Type"] == "google.protobuf.StringValue"
    assert event.deliveries == 1
    assert event.parse(StringValue).value == "hello"
    with pytest.raises(EventTypeMismatchError):
        event.parse(Int32Value)
    trace_id = f"{use_case.get_span_context().trace_id:032x}"
    assert event.headers["traceparent"].split("-")[1] == trace_id
    (span,) = [s for s in exporter.get_finished_spans() if s.name.endswith(" process")]
    assert span.kind is trace.SpanKind.CONSUMER
    assert span.context is not None
    assert span.parent is not None
    assert span.context.trace_id == use_case.get_span_context().trace_id
    assert span.attributes is not None
    assert span.attributes["messaging.message.id"] == str(event_id)
    async with pool.acquire() as conn:
        assert await outbox_lag(conn) == (0, 0.0)


async def test_outbox_lag_counts_what_waits(pool: asyncpg.Pool, stream: Stream) -> None:
    await write_events(pool, stream.subject, ["a", "b", "c"])
    async with pool.acquire() as conn:
        pending, age = await outbox_lag(conn)
    assert pending == 3
    assert age > 0


async def test_two_relays_on_one_schema_publish_each_event_once(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    await write_events(pool, stream.subject, [str(n) for n in range(2000)], per_transaction=100)
    relays = [OutboxRelay(pool, fresh_schema, nats_url, batch_size=50) for _ in range(2)]
    async with running(*relays):
        await eventually(lambda: pending_in_outbox_is(pool, 0), "the outbox to drain")
    assert sum(relay.stats.published for relay in relays) == 2000
    assert all(relay.stats.published > 0 for relay in relays)
    assert await stream_messages(nats_url, stream) == 2000


async def pending_in_outbox_is(pool: asyncpg.Pool, count: int) -> bool:
    try:
        return await pending_in_outbox(pool) == count
    except db.CONNECTION_ERRORS:
        return False


async def test_an_event_no_stream_captures_waits_without_holding_back_the_others(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    orphan = f"x{uuid.uuid4().hex[:10]}.item.created"
    await write_events(pool, orphan, ["nobody listens"])
    await write_events(pool, stream.subject, ["a", "b"])
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    async with running(relay):
        await eventually(lambda: pending_in_outbox_is(pool, 1), "the two others to go out")
    assert await stream_messages(nats_url, stream) == 2
    assert relay.stats.failed_publishes >= 1
    waiting = await pool.fetchval("SELECT subject FROM outbox WHERE published_at IS NULL")
    assert waiting == orphan


async def test_ensure_stream_is_idempotent_and_updates_subjects(nats_url: str) -> None:
    made = new_stream()
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        first = await ensure_stream(js, made.name, [f"{made.prefix}.>"])
        again = await ensure_stream(js, made.name, [f"{made.prefix}.>"])
        widened = await ensure_stream(
            js, made.name, [f"{made.prefix}.>", f"{made.prefix}x.>"], duplicate_window=60
        )
        await js.delete_stream(made.name)
    finally:
        await nc.close()
    assert first.config.storage == "file"
    assert first.config.duplicate_window == 120
    assert again.config.subjects == [f"{made.prefix}.>"]
    assert sorted(widened.config.subjects or []) == [f"{made.prefix}.>", f"{made.prefix}x.>"]
    assert widened.config.duplicate_window == 60


# --- consumers --------------------------------------------------------------------------------


async def test_a_failing_event_in_a_shared_transaction_does_not_cost_the_others(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    attempts: dict[str, int] = {}

    async def fails_twice(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        value = event.parse(StringValue).value
        attempts[value] = attempts.get(value, 0) + 1
        if value == "7" and attempts[value] <= 2:
            raise RuntimeError("transient")
        await record_effect(conn, event)

    await write_events(pool, stream.subject, [str(n) for n in range(20)], per_transaction=20)
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    async with running(relay):
        await eventually(lambda: pending_in_outbox_is(pool, 0), "the events to be published")
    # All twenty wait on the stream, so the consumer takes them in shared transactions.
    worker = consumer(pool, nats_url, stream, handler=fails_twice)
    async with running(worker):
        await eventually(lambda: effects_reach(pool, 20), "all effects")
        await eventually(lambda: settled(nats_url, stream, "effects"), "the consumer to settle")
    assert await effects(pool) == (20, 20)
    # "7" failed in the shared transaction, then alone (a failed delivery), then succeeded.
    assert attempts["7"] == 3
    assert worker.stats.retried == 1
    assert worker.stats.handled == 20
    # Those that shared its transaction were rolled back with it and handled again alone.
    assert any(n == 2 for value, n in attempts.items() if value != "7")


async def test_stop_finishes_the_event_in_hand_and_acks_it(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        entered.set()
        await release.wait()
        await record_effect(conn, event)

    await write_events(pool, stream.subject, ["slow"])
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    worker = consumer(pool, nats_url, stream, handler=slow)
    task = asyncio.create_task(worker.run())
    async with running(relay):
        await asyncio.wait_for(entered.wait(), 20)
        stopping = asyncio.create_task(worker.stop())
        await asyncio.sleep(0.1)
        assert not stopping.done()  # it waits for the handler
        release.set()
        await asyncio.wait_for(stopping, 20)
        await task
    assert await effects(pool) == (1, 1)
    assert await settled(nats_url, stream, "effects")


async def test_a_poison_event_is_parked_listed_and_replayed_once(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, fresh_schema: str
) -> None:
    broken = True
    attempts = 0

    async def handler(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        nonlocal attempts
        attempts += 1
        if broken:
            raise ValueError("cannot handle this event")
        await record_effect(conn, event)

    (event_id,) = await write_events(pool, stream.subject, ["poison"])
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    worker = consumer(pool, nats_url, stream, handler=handler, max_deliver=3)

    async def parked_count() -> bool:
        async with pool.acquire() as conn:
            return len(await list_parked(conn, "effects")) == 1

    async def replayed() -> bool:
        async with pool.acquire() as conn:
            rows = await list_parked(conn, "effects", include_replayed=True)
        return rows[0].replayed_at is not None

    async def error_recorded(text: str) -> bool:
        async with pool.acquire() as conn:
            (row,) = await list_parked(conn, "effects")
        return row.replay_requested_at is None and text in row.error

    async with running(relay, worker):
        await eventually(parked_count, "the event to be parked")
        await eventually(lambda: settled(nats_url, stream, "effects"), "the message to end")
        async with pool.acquire() as conn:
            (parked,) = await list_parked(conn, "effects")
            assert await list_parked(conn, "someone-else") == []
        assert parked.event_id == event_id
        assert parked.deliveries == 3
        assert parked.subject == stream.subject
        assert parked.error == "ValueError: cannot handle this event"
        assert attempts == 3
        assert worker.stats.parked == 1

        # Still broken: the replay fails, the event stays parked with the new error.
        async with pool.acquire() as conn:
            await conn.execute("UPDATE parked_events SET error = 'old'")
            assert await request_replay(conn, parked.id)
        await eventually(lambda: error_recorded("ValueError"), "the failed replay")
        assert attempts == 4

        broken = False
        async with pool.acquire() as conn:
            assert await request_replay(conn, parked.id)
        await eventually(replayed, "the replay")
        async with pool.acquire() as conn:
            assert not await request_replay(conn, parked.id)  # already replayed
            assert await list_parked(conn) == []
            handled = await conn.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = 'effects' AND event_id = $1",
                event_id,
            )
    assert attempts == 5
    assert handled == 1
    assert await effects(pool) == (1, 1)
    assert worker.stats.replayed == 1


# --- faults -------------------------------------------------------------------------------------


async def test_nats_killed_while_events_are_committed_loses_and_duplicates_nothing(
    pool: asyncpg.Pool, make_nats: Callable[[], EmbeddedNats], fresh_schema: str
) -> None:
    bus = make_nats()
    stream = new_stream()
    await create_stream(bus.url, stream)
    relay = OutboxRelay(pool, fresh_schema, bus.url, nats_reconnect_time_wait=0.1)
    worker = consumer(pool, bus.url, stream, ack_wait=2.0, nats_reconnect_time_wait=0.1)
    values = [str(n) for n in range(1000)]
    async with running(relay, worker):
        await write_events(pool, stream.subject, values[:300], per_transaction=10)
        bus.kill()
        await write_events(pool, stream.subject, values[300:], per_transaction=10)
        bus.start()
        await eventually(lambda: effects_reach(pool, 1000), "all 1000 effects", timeout=40)
        await eventually(lambda: pending_in_outbox_is(pool, 0), "the outbox to drain")
        await eventually(lambda: settled(bus.url, stream, "effects"), "the consumer to settle")
    assert await effects(pool) == (1000, 1000)


async def test_relay_outlives_an_outage_longer_than_the_nats_reconnect_budget(
    pool: asyncpg.Pool, make_nats: Callable[[], EmbeddedNats], fresh_schema: str
) -> None:
    bus = make_nats()
    stream = new_stream()
    await create_stream(bus.url, stream)
    # nats-py gives up after 2 attempts 0.1 s apart; the outage lasts much longer.
    budget: dict[str, Any] = {"nats_max_reconnect_attempts": 2, "nats_reconnect_time_wait": 0.1}
    relay = OutboxRelay(pool, fresh_schema, bus.url, **budget)
    worker = consumer(pool, bus.url, stream, ack_wait=2.0, **budget)
    async with running(relay, worker):
        await write_events(pool, stream.subject, ["before"])
        await eventually(lambda: effects_reach(pool, 1), "the first effect")
        bus.stop()
        await write_events(pool, stream.subject, [f"during {n}" for n in range(10)])
        await asyncio.sleep(2.0)
        assert await pending_in_outbox(pool) == 10  # the writes succeeded and wait
        bus.start()
        await eventually(lambda: effects_reach(pool, 11), "the effects after the outage")
        await eventually(lambda: pending_in_outbox_is(pool, 0), "the outbox to drain")
    assert await effects(pool) == (11, 11)
    # nats-py closed the first client for good; the workers made new ones.
    assert relay.stats.nats_connections >= 2
    assert worker.stats.nats_connections >= 2


async def test_relay_and_consumer_keep_working_across_a_postgres_restart(
    make_postgres: Callable[[], EmbeddedPostgres], stream: Stream, nats_url: str
) -> None:
    server = make_postgres()
    server.create_database("events")
    url = server.database_url("events")
    await migrate_schema(url, "svc")
    pool = await db.create_pool(url, "svc", min_size=1, max_size=10)
    try:
        # Only NOTIFY can wake this relay within the test: its fallback poll is a minute.
        relay = OutboxRelay(pool, "svc", nats_url, poll_interval=60.0)
        worker = consumer(pool, nats_url, stream)

        async def listening_again() -> bool:
            return relay.stats.listens >= 2 and worker.stats.listens >= 2

        async with running(relay, worker):
            await write_events(pool, stream.subject, ["before"])
            await eventually(lambda: effects_reach(pool, 1), "the first effect")
            server.stop()
            server.start()
            await eventually(listening_again, "the LISTENs to be re-established")
            await eventually(lambda: committed(pool, stream.subject, "after"), "a new write")
            await eventually(lambda: effects_reach(pool, 2), "the effect after the restart")
        assert await effects(pool) == (2, 2)
    finally:
        await pool.close()


async def committed(pool: asyncpg.Pool, subject: str, value: str) -> bool:
    try:
        await write_events(pool, subject, [value])
    except db.CONNECTION_ERRORS:
        return False
    return True


@pytest.mark.parametrize("duplicate_window", [120.0, 0.5], ids=["jetstream-dedup", "inbox-dedup"])
async def test_a_relay_crash_between_publish_and_mark_duplicates_no_effect(
    pool: asyncpg.Pool, nats_url: str, database_url: str, duplicate_window: float, fresh_schema: str
) -> None:
    stream = new_stream()
    await create_stream(nats_url, stream, duplicate_window=duplicate_window)
    try:
        await write_events(pool, stream.subject, [str(n) for n in range(50)], per_transaction=50)
        assert await run_crash_worker("relay", database_url, fresh_schema, nats_url) == CRASHED
        assert await pending_in_outbox(pool) == 50  # published, but not marked
        assert await stream_messages(nats_url, stream) == 50
        await asyncio.sleep(duplicate_window + 0.2 if duplicate_window < 1 else 0)
        relay = OutboxRelay(pool, fresh_schema, nats_url)
        worker = consumer(pool, nats_url, stream)
        async with running(relay, worker):
            await eventually(lambda: pending_in_outbox_is(pool, 0), "the re-publish")
            await eventually(lambda: effects_reach(pool, 50), "the effects")
            await eventually(lambda: settled(nats_url, stream, "effects"), "the consumer")
        assert await effects(pool) == (50, 50)
        copies = await stream_messages(nats_url, stream)
        if duplicate_window < 1:
            assert copies == 100  # outside the window JetStream kept both: the inbox dropped one
            assert worker.stats.duplicates == 50
        else:
            assert copies == 50
    finally:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(stream.name)
        finally:
            await nc.close()


async def test_a_consumer_crash_before_the_ack_gets_a_redelivery_and_one_effect(
    pool: asyncpg.Pool, stream: Stream, nats_url: str, database_url: str, fresh_schema: str
) -> None:
    (event_id,) = await write_events(pool, stream.subject, ["once"])
    relay = OutboxRelay(pool, fresh_schema, nats_url)
    async with running(relay):
        await eventually(lambda: pending_in_outbox_is(pool, 0), "the publish")
    code = await run_crash_worker(
        "consumer",
        database_url,
        fresh_schema,
        nats_url,
        stream.name,
        "effects",
        f"{stream.prefix}.>",
    )
    assert code == CRASHED
    assert await effects(pool) == (1, 1)  # committed, never acknowledged
    assert not await settled(nats_url, stream, "effects")

    calls = 0

    async def counting(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        nonlocal calls
        calls += 1
        await record_effect(conn, event)

    worker = consumer(pool, nats_url, stream, handler=counting, ack_wait=1.0)
    async with running(worker):
        await eventually(lambda: settled(nats_url, stream, "effects"), "the redelivery")
    assert worker.stats.duplicates == 1
    assert calls == 0
    assert await effects(pool) == (1, 1)
    assert await pool.fetchval("SELECT event_id FROM effects") == event_id


async def test_the_relay_purges_sent_events_and_inbox_rows_past_their_retention(
    pool: asyncpg.Pool, nats_url: str, fresh_schema: str
) -> None:
    old, recent = uuid.uuid4(), uuid.uuid4()
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, handled_at) VALUES"
        " ('c', $1, now() - interval '40 days'), ('c', $2, now() - interval '2 days')",
        old,
        recent,
    )
    relay = OutboxRelay(
        pool, fresh_schema, nats_url, inbox_retention=31 * 24 * 3600.0, purge_interval=0.05
    )
    async with running(relay):
        await eventually(
            lambda: _inbox_ids(pool, {recent}), "the inbox row past its retention to go"
        )
    assert {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")} == {recent}


async def _inbox_ids(pool: asyncpg.Pool, wanted: set[uuid.UUID]) -> bool:
    return {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")} == wanted
