"""LISTEN on a PostgreSQL channel, and keep listening across server restarts.

The relay and the consumers are woken by NOTIFY instead of polling hard. A LISTEN lives on one
connection; when PostgreSQL restarts that connection dies silently from the worker's point of view,
so the listener watches it (termination callback plus a periodic ``SELECT 1``) and LISTENs again on
a fresh one. Each time it (re)starts listening it also wakes the worker, since notifications sent
while nobody listened are lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from kabinet.events.held import is_broken

log = logging.getLogger(__name__)


class PgListener:
    """Sets ``wake`` on each notification on ``channel``; run ``run()`` as a task, cancel to stop.

    The LISTEN connection is taken from ``pool`` and held for as long as it is healthy.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        channel: str,
        wake: asyncio.Event,
        *,
        keepalive: float = 5.0,
        retry_max_delay: float = 5.0,
        on_payload: Callable[[str], bool] | None = None,
        on_established: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.channel = channel
        self.wake = wake
        self.keepalive = keepalive
        self.retry_max_delay = retry_max_delay
        self.on_payload = on_payload
        self.on_established = on_established
        self.established = 0
        # True while notifications are being heard; what was sent while False is lost.
        self.listening = False

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self.on_payload is None or self.on_payload(payload):
            self.wake.set()

    async def run(self) -> None:
        """Listen until cancelled, re-establishing the LISTEN whenever its connection is lost."""
        delay = 0.05
        while True:
            before = self.established
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "listen connection lost",
                    extra={"channel": self.channel, "error": repr(exc)},
                )
            if self.established > before:
                delay = 0.05  # it worked for a while: retry soon, then back off again
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_delay)

    async def _listen_once(self) -> None:
        lost = asyncio.Event()

        def on_termination(_conn: object) -> None:
            self.listening = False
            lost.set()

        conn = await self.pool.acquire()
        try:
            conn.add_termination_listener(on_termination)
            await conn.add_listener(self.channel, self._notified)
            self.established += 1
            self.listening = True
            if self.on_established is not None:
                self.on_established()
            log.info("listening", extra={"channel": self.channel})
            self.wake.set()
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), self.keepalive)
                except TimeoutError:
                    await conn.execute("SELECT 1", timeout=self.keepalive)
            raise ConnectionError("listen connection terminated")
        finally:
            self.listening = False
            if not is_broken(conn):
                conn.remove_termination_listener(on_termination)
            await self._release(conn)

    async def _release(self, conn: Any) -> None:
        try:
            if not is_broken(conn):
                await conn.remove_listener(self.channel, self._notified)
            await self.pool.release(conn, timeout=self.keepalive)
        except Exception as exc:
            log.debug("listen connection release failed", extra={"error": repr(exc)})
