"""Distribution's use cases on real PostgreSQL (its own schema): concurrent uploads of the same
installer leave one artifact and no orphan object; publishing queues its event in the outbox;
entitlement snapshots keep the newest; a withdrawn release is no longer offered."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from distribution.app import MIGRATIONS
from distribution.domain import errors
from distribution.domain.model import (
    Channel,
    Entitlement,
    PlanInfo,
    Platform,
    Rights,
    SnapshotUpdate,
    Tier,
    UploadHeader,
)
from distribution.domain.seed import DEFAULT_SEED, load_seed, read_seed
from distribution.domain.services import DistributionServices, LinkRules
from distribution.mail import distribution_templates
from distribution.store.postgres import PostgresStore
from kabinet.db import create_pool, migrate_url
from kabinet.errors import DomainError
from kabinet.objectstore import LocalDirectoryStore

DATA = b"an installer " * 10_000


class Everyone:
    """Subscription's answers: every account may download everything."""

    async def rights(self, account_id: uuid.UUID) -> Rights:
        until = datetime.now(UTC) + timedelta(days=1)
        return Rights((Entitlement("vpn", Tier.PREMIUM, until),))

    async def plans(self) -> list[PlanInfo]:
        return []

    def forget(self, account_id: uuid.UUID) -> None:
        return None


@pytest.fixture
async def pool(database_url: str, fresh_schema: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate_url(database_url, fresh_schema, MIGRATIONS)
    pool = await create_pool(database_url, fresh_schema, min_size=1, max_size=6)
    yield pool
    await pool.close()


@pytest.fixture
async def services(pool: asyncpg.Pool, tmp_path: Path) -> DistributionServices:
    services = DistributionServices(
        PostgresStore(pool, distribution_templates()),
        LocalDirectoryStore(tmp_path),
        Everyone(),
        lambda: datetime.now(UTC),
        LinkRules(b"k" * 32, timedelta(minutes=10), "https://portal.example", 10**8),
    )
    await load_seed(services, read_seed(DEFAULT_SEED), placeholders=False)
    return services


async def once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def header(language: str = "multi") -> UploadHeader:
    return UploadHeader(
        "vpn",
        "7.0.0",
        Channel.STABLE,
        Platform.WINDOWS,
        language,
        "vpn-7.0.0.exe",
        "application/octet-stream",
        hashlib.sha256(DATA).hexdigest(),
    )


async def test_concurrent_uploads_of_one_installer_leave_one(
    services: DistributionServices, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    results = await asyncio.gather(
        *(services.upload(header(), once(DATA)) for _ in range(4)), return_exceptions=True
    )
    stored = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(stored) == 1
    assert len(refused) == 3, results
    assert {r.code for r in refused} == {errors.ARTIFACT_EXISTS}
    assert await pool.fetchval("SELECT count(*) FROM artifacts") == 1
    assert await pool.fetchval("SELECT count(*) FROM releases") == 1
    files = [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    assert len(files) == 1  # the losers' objects were removed again
    assert files[0].read_bytes() == DATA


async def test_publish_queues_its_event_and_withdraw_stops_the_offer(
    services: DistributionServices, pool: asyncpg.Pool
) -> None:
    release, _ = await services.upload(header(), once(DATA))
    published = await services.publish(str(release.id))
    assert published.latest
    assert await services.publish(str(release.id)) == published  # again: nothing changes
    subjects = [r["subject"] for r in await pool.fetch("SELECT subject FROM outbox")]
    assert subjects == ["distribution.release.published"]
    account = str(uuid.uuid4())
    offers = {o.application.id: o for o in await services.list_downloads(account, None, "en")}
    assert [r.version for r in offers["vpn"].releases] == ["7.0.0"]
    await services.withdraw(str(release.id))
    offers = {o.application.id: o for o in await services.list_downloads(account, None, "en")}
    assert offers["vpn"].releases == ()


async def test_snapshots_keep_the_newest(services: DistributionServices) -> None:
    account = uuid.uuid4()
    now = datetime.now(UTC).replace(microsecond=0)
    newer = SnapshotUpdate(account, now, Rights((Entitlement("vpn", Tier.PLUS, now),)))
    older = SnapshotUpdate(account, now - timedelta(seconds=1), Rights())
    async with services.store.transaction() as tx:
        assert await tx.save_snapshot(newer)
    async with services.store.transaction() as tx:
        assert not await tx.save_snapshot(older)
    async with services.store.connection() as db:
        assert await db.snapshot(account) == newer.rights


async def test_concurrent_sends_to_devices_stop_at_the_limit(
    services: DistributionServices, pool: asyncpg.Pool
) -> None:
    account = str(uuid.uuid4())
    results = await asyncio.gather(
        *(
            services.send_to_device(account, "anna@example.com", "en", "vpn", Platform.IOS)
            for _ in range(8)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 3
    assert {r.code for r in refused} == {errors.TOO_MANY_SENDS}
    assert await pool.fetchval("SELECT count(*) FROM mail_outbox") == 5
