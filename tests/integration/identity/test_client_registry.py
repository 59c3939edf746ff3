"""The client registry on real PostgreSQL: the seed file is idempotent, an operator's secret
survives a re-seed, secrets are stored only as digests, and bad clients are refused whole."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from identity.app import MIGRATIONS
from identity.domain.oidc import ClientRegistry, OAuthClient, authenticate_client, load_seed
from identity.domain.secrets import hash_token
from identity.mail import identity_templates
from identity.oidc_app import DEFAULT_SEED
from identity.store.oidc import OidcPostgresStore
from kabinet.db import create_pool, migrate_url
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.errors import DomainError

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(postgres: EmbeddedPostgres) -> AsyncIterator[asyncpg.Pool]:
    name = f"oidc_{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    url = postgres.database_url(name)
    await migrate_url(url, "identity", MIGRATIONS)
    pool = await create_pool(url, "identity", min_size=1, max_size=4)
    yield pool
    await pool.close()


def _now() -> datetime:
    return datetime.now(UTC)


async def test_seed_is_idempotent_and_keeps_an_operators_secret(pool: asyncpg.Pool) -> None:
    store = OidcPostgresStore(pool, identity_templates())
    registry = ClientRegistry(store, _now)
    seed = load_seed(DEFAULT_SEED.read_text())
    await registry.seed(seed)
    await registry.seed(seed)
    listed = await registry.list()
    assert [c.client_id for c in listed] == sorted(c.client_id for c in seed)

    backend, secret = await registry.register(
        OAuthClient(
            client_id="backend-1",
            name="Backend",
            grant_types=("client_credentials",),
            scopes=("kabinet.tokens.validate",),
        ),
        confidential=True,
    )
    stored = await pool.fetchval(
        "SELECT secret_hash FROM oauth_clients WHERE client_id = 'backend-1'"
    )
    assert stored == hash_token(secret)
    assert secret.encode() not in stored
    # The file names the client without a secret: the operator's secret stays.
    await registry.seed([replace(backend, secret_hash=None, name="Backend v2")])
    async with store.connection() as db:
        found = await authenticate_client(db, "backend-1", secret)
        assert found.name == "Backend v2"
        with pytest.raises(DomainError) as wrong:
            await authenticate_client(db, "backend-1", secret[:-1] + "x")
        assert wrong.value.code == "oauth.invalid_client"

    await registry.disable("backend-1")
    async with store.connection() as db:
        with pytest.raises(DomainError):
            await authenticate_client(db, "backend-1", secret)


async def test_bad_clients_are_refused(pool: asyncpg.Pool) -> None:
    registry = ClientRegistry(OidcPostgresStore(pool, identity_templates()), _now)
    good = OAuthClient(
        client_id="site-1",
        name="Site",
        redirect_uris=("https://site.example/cb",),
        grant_types=("authorization_code",),
        scopes=("openid",),
    )
    await registry.register(good, confidential=False)
    with pytest.raises(DomainError) as taken:
        await registry.register(good, confidential=False)
    assert taken.value.code == "oidc.client_invalid"
    bad = [
        replace(good, client_id="x"),
        replace(good, client_id="site-2", redirect_uris=("http://site.example/cb",)),
        replace(good, client_id="site-3", redirect_uris=("https://site.example/cb#frag",)),
        replace(good, client_id="site-4", grant_types=("password",)),
        replace(good, client_id="site-5", grant_types=("client_credentials",)),  # public
        replace(good, client_id="site-6", redirect_uris=()),
    ]
    for client in bad:
        with pytest.raises(DomainError):
            await registry.register(client, confidential=False)
    assert [c.client_id for c in await registry.list()] == ["site-1"]


async def test_expired_codes_and_grants_are_deleted(pool: asyncpg.Pool) -> None:
    store = OidcPostgresStore(pool, identity_templates())
    registry = ClientRegistry(store, _now)
    await registry.register(
        OAuthClient(
            client_id="app-1",
            name="App",
            grant_types=("urn:ietf:params:oauth:grant-type:device_code",),
        ),
        confidential=False,
    )
    for user_code, age in (("BCDFGHJK", timedelta(days=2)), ("BCDFGHJM", timedelta(hours=1))):
        await pool.execute(
            "INSERT INTO device_grants (device_code_hash, user_code_hash, client_id, created_at,"
            " expires_at, interval_seconds, status)"
            " VALUES ($1, $2, 'app-1', now(), now() - $3::interval, 5, 'pending')",
            hash_token("device-" + user_code),
            hash_token(user_code),
            age,
        )
    async with store.transaction() as tx:
        deleted = await tx.delete_grants_expired_before(_now() - timedelta(days=1))
    assert deleted == 1
    left = await pool.fetchval("SELECT array_agg(user_code_hash) FROM device_grants")
    assert left == [hash_token("BCDFGHJM")]
