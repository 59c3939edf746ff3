"""PostgreSQL access: one asyncpg pool per service on its own schema, and migrations.

Each service owns one schema (``identity``, ``subscription``, ...). Its pool sets ``search_path``
to that schema, so the service's SQL never names it and can't reach another service's tables by
accident. Migrations are ordered SQL files, applied once each at start-up under an advisory lock so
that several replicas starting together don't race. The shared mechanics (outbox, inbox, mail
queue) have migrations of their own in ``kabinet/migrations``, applied to every service schema
before the service's own.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar, cast

import asyncpg

UnitT = TypeVar("UnitT")

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SCHEMA = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Errors that mean "the database is not reachable right now", not "the query is wrong".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,  # refused, reset, aborted: the server is away
    TimeoutError,  # connecting or acquiring from the pool took too long
)


@dataclass(frozen=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def check_schema_name(schema: str) -> str:
    if not _SCHEMA.match(schema):
        raise ValueError(f"not a valid schema name: {schema!r}")
    return schema


async def create_pool(
    url: str, schema: str, *, min_size: int = 2, max_size: int = 10, application: str = ""
) -> asyncpg.Pool:
    """A pool whose connections work in ``schema``."""
    check_schema_name(schema)
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        server_settings={
            "search_path": schema,
            "application_name": application or f"kabinet-{schema}",
        },
    )
    assert pool is not None
    return pool


def read_migrations(source: str, directory: Path) -> list[Migration]:
    """The migrations in ``directory``, ordered; file names are ``NNNN_what_it_does.sql``."""
    found: list[Migration] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path}")
        found.append(Migration(source, int(match.group(1)), path.stem, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version number in {directory}")
    return found


async def migrate(
    conn: asyncpg.Connection, schema: str, sources: Sequence[tuple[str, Path]]
) -> list[str]:
    """Apply every migration of ``sources`` not yet applied to ``schema``; returns their names.

    The shared mechanics' migrations come first. A migration that was applied and then edited is
    refused (its checksum no longer matches): write a new one instead.
    """
    check_schema_name(schema)
    applied: list[str] = []
    lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big")
    lock_key -= 1 << 63 if lock_key >= 1 << 63 else 0
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   source text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (source, version))"""
        )
        done = {
            (r["source"], r["version"]): r["checksum"]
            for r in await conn.fetch("SELECT source, version, checksum FROM schema_migrations")
        }
        for source, directory in sources:
            for migration in read_migrations(source, directory):
                key = (migration.source, migration.version)
                if key in done:
                    if done[key] != migration.checksum:
                        raise RuntimeError(
                            f"migration {source}/{migration.name} changed after it was applied"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (source, version, name, checksum)"
                        " VALUES ($1, $2, $3, $4)",
                        migration.source,
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied.append(f"{source}/{migration.name}")
                log.info("migration applied", extra={"schema": schema, "migration": migration.name})
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
        await conn.execute("RESET search_path")
    return applied


async def migrate_url(url: str, schema: str, service_migrations: Path) -> list[str]:
    """Open one connection to ``url`` and migrate ``schema`` (shared mechanics, then service)."""
    conn = await asyncpg.connect(url)
    try:
        return await migrate(
            conn, schema, [("kabinet", SHARED_MIGRATIONS), (schema, service_migrations)]
        )
    finally:
        await conn.close()


class UnitsOfWork(Generic[UnitT]):
    """A service store's two ways in: ``transaction()`` (all or nothing) and ``connection()``
    (reads), each yielding the store's per-connection object (its ports' implementation) made by
    ``make_unit``. Services subclass it with their own unit type."""

    def __init__(self, pool: asyncpg.Pool, make_unit: Callable[[asyncpg.Connection], UnitT]):
        self._pool = pool
        self._make_unit = make_unit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitT]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield self._make_unit(cast(asyncpg.Connection, conn))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[UnitT]:
        async with self._pool.acquire() as conn:
            yield self._make_unit(cast(asyncpg.Connection, conn))
