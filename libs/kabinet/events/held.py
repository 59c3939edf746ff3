"""A pool connection kept by a busy worker across consecutive units of work.

Handing a connection back to an asyncpg pool costs a round trip (the pool resets the session);
a relay or consumer working through a stream of events keeps one instead, and gives it back when
it goes idle or the connection breaks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


def is_broken(conn: Any) -> bool:
    """Whether a (pool) connection is closed; a pool proxy whose connection died counts too."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


class HeldConnection:
    """Lends the same pool connection until ``release()``; replaces it once it is closed."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._conn: Any = None

    @property
    def holding(self) -> bool:
        """Whether a connection is held right now."""
        return self._conn is not None

    @asynccontextmanager
    async def use(self) -> AsyncIterator[asyncpg.Connection]:
        """The held connection (acquired first if needed); dropped if it broke meanwhile."""
        if self._conn is not None and is_broken(self._conn):
            await self.release()
        if self._conn is None:
            self._conn = await self.pool.acquire()
        conn = self._conn
        try:
            yield conn
        finally:
            if is_broken(conn):
                await self.release()

    async def release(self) -> None:
        """Give the connection back to the pool (terminating it if it is broken)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await self.pool.release(conn)
        except Exception as exc:
            log.debug("connection release failed", extra={"error": repr(exc)})
