"""The embedded servers start, answer and keep their data."""

import asyncpg
import nats
import pytest

pytestmark = pytest.mark.integration


async def test_postgres_answers_with_the_wheel_version(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        version = await conn.fetchval("SHOW server_version")
        extensions = {
            r["name"] for r in await conn.fetch("SELECT name FROM pg_available_extensions")
        }
    finally:
        await conn.close()
    assert version.startswith("18.")
    assert {"citext", "pg_trgm"} <= extensions


async def test_nats_has_jetstream(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().account_info()
    finally:
        await nc.close()
    assert info.limits is not None
