"""The PostgreSQL store on its own: replicas agreeing on signing keys, concurrent session
checks, and housekeeping."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from identity.app import MIGRATIONS
from identity.config import IdentitySettings, TokenSettings
from identity.domain.credentials import Credentials
from identity.domain.model import Account, AccountStatus, Client, Link, LinkPurpose
from identity.domain.password_hashing import Argon2Params, PasswordHasher
from identity.domain.services import build_services
from identity.mail import identity_templates
from identity.store.postgres import PostgresStore, SessionLiveness
from kabinet.db import create_pool, migrate_url
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.settings import CommonSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(postgres: EmbeddedPostgres) -> AsyncIterator[asyncpg.Pool]:
    """A fresh, migrated identity database (no service running on it)."""
    name = f"store_{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    url = postgres.database_url(name)
    await migrate_url(url, "identity", MIGRATIONS)
    pool = await create_pool(url, "identity", min_size=1, max_size=12)
    yield pool
    await pool.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def replica(pool: asyncpg.Pool, clock: Clock, hasher: PasswordHasher, **tokens: int):
    settings = IdentitySettings(
        common=CommonSettings(public_url="https://portal.kabinet.test"),
        tokens=TokenSettings(**tokens),
    )
    store = PostgresStore(pool, identity_templates())
    return build_services(store, Credentials(hasher), settings, clock)


@pytest.fixture(scope="module")
def hasher():
    with PasswordHasher(Argon2Params(memory_kib=1024, time_cost=1), max_workers=2) as it:
        yield it


async def test_replicas_starting_together_agree_on_one_key(pool, hasher) -> None:
    clock = Clock()
    replicas = [replica(pool, clock, hasher) for _ in range(8)]
    await asyncio.gather(*(r.start() for r in replicas))
    assert await pool.fetchval("SELECT count(*) FROM signing_keys") == 1
    kids = {r.keys.ring.current(clock()).kid for r in replicas}
    assert len(kids) == 1
    for r in replicas:
        await r.close()


async def test_rotation_is_seen_by_every_replica_and_old_keys_go(pool, hasher) -> None:
    clock = Clock()
    one = replica(pool, clock, hasher, key_rotate_every=3600, key_publish_ahead=600)
    two = replica(pool, clock, hasher, key_rotate_every=3600, key_publish_ahead=600)
    await one.start()
    await two.start()
    first = one.keys.ring.current(clock()).kid

    clock.now += timedelta(minutes=55)
    await one.keys.reload()  # due: creates the next key, published ahead
    await two.keys.reload()
    assert await pool.fetchval("SELECT count(*) FROM signing_keys") == 2
    assert {k["kid"] for k in one.keys.jwks()["keys"]} == {
        k["kid"] for k in two.keys.jwks()["keys"]
    }

    clock.now += timedelta(minutes=10)
    assert one.keys.ring.current(clock()).kid == two.keys.ring.current(clock()).kid != first

    # Two hours on, the first key's tokens are long expired: it leaves the table and the JWKS
    # (while the next rotation has made a third key, published ahead).
    clock.now += timedelta(hours=2)
    await two.keys.ensure()
    kids = {row["kid"] for row in await pool.fetch("SELECT kid FROM signing_keys")}
    assert first not in kids
    assert len(kids) == 2
    assert first not in {k["kid"] for k in two.keys.jwks()["keys"]}
    await one.close()
    await two.close()


async def test_concurrent_session_checks_are_answered_each(pool, hasher) -> None:
    clock = Clock()
    service = replica(pool, clock, hasher)
    await service.start()
    account = Account(
        id=uuid.uuid4(),
        email="checks@example.com",
        email_key="checks@example.com",
        status=AccountStatus.ACTIVE,
        password_hash=await hasher.hash("Some-pass-123"),
        language="en",
        created_at=clock(),
    )
    async with service.store.transaction() as tx:
        assert await tx.insert_account(account)
        live = [await service.sessions.open(tx, account, Client(), clock()) for _ in range(3)]
    await service.sessions.sign_out(str(live[1].session_id))
    store = service.store
    checks = [
        store.is_session_live(s.session_id, account.id, clock()) for s in live for _ in range(50)
    ]
    checks += [store.is_session_live(live[0].session_id, uuid.uuid4(), clock())]
    checks += [store.is_session_live(uuid.uuid4(), account.id, clock())]
    answers = await asyncio.gather(*checks)
    assert answers == [True] * 50 + [False] * 50 + [True] * 50 + [False, False]
    assert not await store.is_session_live(
        live[0].session_id, account.id, clock() + timedelta(days=31)
    )
    await service.close()


async def _opened_session(pool, hasher, clock: Clock):
    service = replica(pool, clock, hasher)
    await service.start()
    account = Account(
        id=uuid.uuid4(),
        email="window@example.com",
        email_key="window@example.com",
        status=AccountStatus.ACTIVE,
        password_hash=None,
        language="en",
        created_at=clock(),
    )
    async with service.store.transaction() as tx:
        assert await tx.insert_account(account)
        signed = await service.sessions.open(tx, account, Client(), clock())
    return service, account, signed.session_id


async def test_checks_coming_one_after_another_share_a_query(pool, hasher) -> None:
    clock = Clock()
    service, account, session_id = await _opened_session(pool, hasher, clock)
    liveness = SessionLiveness(pool, min_interval=1.0)
    try:
        alone = await liveness.is_live(session_id, account.id, clock())
        first = asyncio.ensure_future(liveness.is_live(session_id, account.id, clock()))
        await asyncio.sleep(0.05)  # time enough for a query of its own, were there no interval
        second = asyncio.ensure_future(liveness.is_live(session_id, account.id, clock()))
        answers = [alone, *await asyncio.gather(first, second)]
    finally:
        await liveness.close()  # the pool waits for its connection when it closes
        await service.close()

    assert answers == [True, True, True]
    assert liveness.queries == 2


async def test_a_check_after_a_revocation_is_refused_however_soon(pool, hasher) -> None:
    clock = Clock()
    service, account, session_id = await _opened_session(pool, hasher, clock)
    liveness = SessionLiveness(pool, min_interval=1.0)
    try:
        before = await liveness.is_live(session_id, account.id, clock())
        await service.sessions.sign_out(str(session_id))
        after = await liveness.is_live(session_id, account.id, clock())
    finally:
        await liveness.close()
        await service.close()

    assert (before, after) == (True, False)


async def test_housekeeping_deletes_only_what_nobody_needs(pool, hasher) -> None:
    clock = Clock()
    service = replica(pool, clock, hasher)
    await service.start()
    account = Account(
        id=uuid.uuid4(),
        email="old@example.com",
        email_key="old@example.com",
        status=AccountStatus.ACTIVE,
        password_hash=None,
        language="en",
        created_at=clock(),
    )
    async with service.store.transaction() as tx:
        await tx.insert_account(account)
        for days_ago, token in ((3, b"a" * 32), (0, b"b" * 32)):
            made = clock() - timedelta(days=days_ago)
            await tx.insert_link(
                Link(token, account.id, LinkPurpose.PASSWORD_RESET, made, made + timedelta(hours=1))
            )
        await tx.lock_client_throttle("192.0.2.1", clock() - timedelta(days=2))
        await tx.lock_client_throttle("192.0.2.2", clock())
    assert await service.purge() == 2
    assert await pool.fetchval("SELECT count(*) FROM links") == 1
    assert await pool.fetch("SELECT client_key FROM client_throttle") == [("192.0.2.2",)]
    await service.close()
