"""kabinet.notified_cache on real PostgreSQL: values are answered from memory until a NOTIFY (sent
by a trigger in the changing transaction) says their group changed; nothing is served from memory
while the LISTEN is down, and everything kept is dropped when it comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from kabinet.db import create_pool
from kabinet.notified_cache import NotifiedCache

pytestmark = pytest.mark.integration

Key = tuple[str, str]  # (group, name)


@dataclass
class Rows:
    """A table ``kv`` whose trigger names the changed row's group on ``<schema>_kv``."""

    pool: asyncpg.Pool
    channel: str
    queried: list[list[Key]] = field(default_factory=list)
    # When set, each load waits for it before querying (to let a change overtake a load).
    hold: asyncio.Event | None = None

    async def load(self, conn: asyncpg.Connection, keys: Sequence[Key]) -> list[int | None]:
        self.queried.append(list(keys))
        if self.hold is not None:
            await self.hold.wait()
        rows = await conn.fetch(
            "SELECT grp, name, value FROM kv WHERE grp = ANY ($1) AND name = ANY ($2)",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        found = {(r["grp"], r["name"]): r["value"] for r in rows}
        return [found.get(k) for k in keys]

    async def write(self, group: str, name: str, value: int) -> None:
        await self.pool.execute(
            "INSERT INTO kv (grp, name, value) VALUES ($1, $2, $3)"
            " ON CONFLICT (grp, name) DO UPDATE SET value = $3",
            group,
            name,
            value,
        )

    async def write_unheard(self, group: str, value: int) -> None:
        """Change every value of ``group`` with no notification (as if it had been lost)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("ALTER TABLE kv DISABLE TRIGGER kv_notify")
            await conn.execute("UPDATE kv SET value = $2 WHERE grp = $1", group, value)
            await conn.execute("ALTER TABLE kv ENABLE TRIGGER kv_notify")

    def cache(self, max_entries: int = 1000) -> NotifiedCache[Key, str, int | None]:
        return NotifiedCache(
            self.pool,
            self.channel,
            self.load,
            group_of=lambda key: key[0],
            group_named=lambda payload: payload or None,
            max_entries=max_entries,
        )


@pytest.fixture
async def rows(database_url: str, fresh_schema: str) -> AsyncIterator[Rows]:
    pool = await create_pool(database_url, fresh_schema, min_size=1, max_size=6)
    await pool.execute(
        f"""
        CREATE SCHEMA "{fresh_schema}";
        CREATE TABLE kv (grp text, name text, value int, PRIMARY KEY (grp, name));
        CREATE FUNCTION kv_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(TG_TABLE_SCHEMA || '_kv', NEW.grp);
            RETURN NULL;
        END $$;
        CREATE TRIGGER kv_notify AFTER INSERT OR UPDATE ON kv
            FOR EACH ROW EXECUTE FUNCTION kv_notify();
        """
    )
    try:
        yield Rows(pool, f"{fresh_schema}_kv")
    finally:
        await pool.close()


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.01)


async def _started(cache: NotifiedCache[Key, str, int | None], established: int = 1) -> None:
    cache.start()

    async def listening() -> bool:
        return cache.listening and cache.established >= established

    await _until(listening)


async def test_a_kept_value_is_answered_from_memory_until_its_group_is_notified(
    rows: Rows,
) -> None:
    await rows.write("a", "x", 1)
    await rows.write("b", "y", 10)
    cache = rows.cache()
    await _started(cache)
    try:
        assert await cache.get(("a", "x")) == 1
        assert await cache.get(("b", "y")) == 10
        assert await cache.get(("a", "x")) == 1
        assert await cache.get(("b", "y")) == 10
        assert len(rows.queried) == 2, "kept values were queried again"

        # Another writer (another replica) changes group a: the trigger's NOTIFY drops it.
        await rows.write("a", "x", 2)

        async def changed() -> bool:
            return await cache.get(("a", "x")) == 2

        await _until(changed)
        queries = len(rows.queried)
        assert await cache.get(("b", "y")) == 10
        assert len(rows.queried) == queries, "group b was dropped by a change to group a"
    finally:
        await cache.close()


async def test_without_a_notification_the_kept_value_stands_and_forget_drops_it(
    rows: Rows,
) -> None:
    await rows.write("a", "x", 1)
    cache = rows.cache()
    await _started(cache)
    try:
        assert await cache.get(("a", "x")) == 1
        await rows.write_unheard("a", 5)
        await asyncio.sleep(0.2)
        assert await cache.get(("a", "x")) == 1  # answered from memory: nobody said it changed
        cache.forget("a")  # what the writing replica does right after its commit
        assert await cache.get(("a", "x")) == 5
    finally:
        await cache.close()


async def test_nothing_is_served_from_memory_while_not_listening_and_all_is_dropped_after(
    rows: Rows,
) -> None:
    await rows.write("a", "x", 1)
    cache = rows.cache()
    try:
        # Not started: every get is a query, nothing kept.
        assert await cache.get(("a", "x")) == 1
        assert await cache.get(("a", "x")) == 1
        assert len(rows.queried) == 2
        await _started(cache)
        assert await cache.get(("a", "x")) == 1
        # A change whose notification is lost (sent while nobody listened, here: never sent).
        await rows.write_unheard("a", 7)
        terminated = await rows.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%' AND query LIKE $1",
            f"%{rows.channel}%",
        )
        assert terminated == 1
        await _started(cache, established=2)  # listening again: what was kept is gone
        assert await cache.get(("a", "x")) == 7
    finally:
        await cache.close()


async def test_a_load_overtaken_by_a_change_is_answered_but_not_kept(rows: Rows) -> None:
    await rows.write("a", "x", 1)
    cache = rows.cache()
    await _started(cache)
    try:
        rows.hold = asyncio.Event()
        loading = asyncio.create_task(cache.get(("a", "x")))

        async def load_started() -> bool:
            return bool(rows.queried)

        await _until(load_started)
        cache.forget("a")  # a change is heard while the load is under way
        rows.hold.set()
        assert await loading == 1
        assert await cache.get(("a", "x")) == 1
        assert len(rows.queried) == 2, "a load that a change overtook was kept"
        assert await cache.get(("a", "x")) == 1
        assert len(rows.queried) == 2
    finally:
        await cache.close()


async def test_at_most_max_entries_are_kept_the_least_recently_used_go_first(rows: Rows) -> None:
    for name, value in (("x", 1), ("y", 2), ("z", 3)):
        await rows.write("a", name, value)
    cache = rows.cache(max_entries=2)
    await _started(cache)
    try:
        assert await cache.get(("a", "x")) == 1
        assert await cache.get(("a", "y")) == 2
        assert await cache.get(("a", "x")) == 1  # x is now the most recently used
        assert await cache.get(("a", "z")) == 3  # y goes
        assert len(rows.queried) == 3
        assert await cache.get(("a", "x")) == 1
        assert len(rows.queried) == 3
        assert await cache.get(("a", "y")) == 2
        assert len(rows.queried) == 4
    finally:
        await cache.close()


async def test_answers_from_memory_and_from_the_database_are_counted_for_operators(
    rows: Rows,
) -> None:
    reader = InMemoryMetricReader()
    cache = rows.cache()
    cache.report_to(
        MeterProvider(metric_readers=[reader]).get_meter("test"), "kv", {"service": "t"}
    )
    await rows.write("a", "x", 1)
    await _started(cache)
    try:
        for _ in range(3):
            assert await cache.get(("a", "x")) == 1
        assert await cache.get(("a", "y")) is None

        points: dict[tuple[str, str], float] = {}
        data = reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        points[(metric.name, str(point.attributes.get("from", "")))] = point.value
        assert points[("kv.answers", "memory")] == 2
        assert points[("kv.answers", "database")] == 2
        assert points[("kv.kept", "")] == 2
    finally:
        await cache.close()
