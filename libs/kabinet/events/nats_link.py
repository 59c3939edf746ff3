"""A NATS connection for long-lived workers, which outlives any outage.

nats-py reconnects on its own, but only ``max_reconnect_attempts`` times (60 × 2 s by default);
then it closes the client for good. A relay or a consumer must keep going after a longer outage,
so ``NatsLink`` notices a closed client and builds a new one, waiting for the server's port first
(so that nats-py doesn't burn its budget, or print tracebacks, against a server that isn't there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


def addresses(url: str) -> list[tuple[str, int]]:
    """(host, port) of each server of a NATS URL list (``nats://a:4222,nats://b``)."""
    found = []
    for part in url.split(","):
        split = urlsplit(part.strip() if "://" in part else f"nats://{part.strip()}")
        found.append((split.hostname or "127.0.0.1", split.port or 4222))
    return found


async def _port_open(host: str, port: int, timeout: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class NatsLink:
    """Hands out a connected NATS client, replacing it whenever nats-py has given up on it.

    ``max_reconnect_attempts`` and ``reconnect_time_wait`` are nats-py's own reconnect budget for
    one client; past it the client closes and the next ``client()`` call connects afresh.
    ``on_reconnected`` is called when nats-py got the client back by itself (requests in flight
    at the time, such as a pull request, may have been lost), ``on_closed`` when a client closed.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        max_reconnect_attempts: int = 60,
        reconnect_time_wait: float = 2.0,
        connect_timeout: float = 2.0,
        retry_max_delay: float = 1.0,
        on_reconnected: Callable[[], None] | None = None,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.max_reconnect_attempts = max_reconnect_attempts
        self.reconnect_time_wait = reconnect_time_wait
        self.connect_timeout = connect_timeout
        self.retry_max_delay = retry_max_delay
        self.on_reconnected = on_reconnected
        self.on_closed = on_closed
        self.connections = 0
        self._nc: Client | None = None
        self._lock = asyncio.Lock()
        self._closing = False

    @property
    def current(self) -> Client | None:
        """The client in use, if any (it may be reconnecting)."""
        return self._nc

    async def client(self) -> Client:
        """A client that is connected or still within nats-py's reconnect budget.

        Blocks, retrying with backoff, while no server answers.
        """
        nc = self._nc
        if nc is not None and not nc.is_closed:
            return nc
        async with self._lock:
            if self._nc is not None and not self._nc.is_closed:
                return self._nc
            self._nc = await self._connect()
            self.connections += 1
            return self._nc

    async def close(self) -> None:
        """Close the current client (pending publishes are flushed by nats-py)."""
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            self._closing = True
            try:
                await nc.close()
            except Exception as exc:
                log.warning(
                    "nats close failed", extra={"connection": self.name, "error": repr(exc)}
                )
            finally:
                self._closing = False

    async def _connect(self) -> Client:
        delay = 0.05
        servers = addresses(self.url)
        while True:
            reachable = False
            for host, port in servers:
                if await _port_open(host, port, self.connect_timeout):
                    reachable = True
                    break
            if reachable:
                try:
                    nc = await nats.connect(**self._options())
                except (nats.errors.Error, OSError, TimeoutError) as exc:
                    log.warning(
                        "nats connect failed",
                        extra={"connection": self.name, "error": repr(exc)},
                    )
                else:
                    log.info("nats connected", extra={"connection": self.name})
                    return nc
            else:
                log.debug("nats not reachable yet", extra={"connection": self.name})
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_delay)

    def _options(self) -> dict[str, Any]:
        name = self.name

        async def on_error(exc: Exception) -> None:
            # Refused connections and dropped sockets are the outage itself, which the
            # disconnected/closed callbacks report; keep them out of the warnings.
            quiet = isinstance(exc, OSError | nats.errors.UnexpectedEOF | TimeoutError)
            log.log(
                logging.DEBUG if quiet else logging.WARNING,
                "nats error",
                extra={"connection": name, "error": repr(exc)},
            )

        async def on_disconnected() -> None:
            if not self._closing:
                log.warning("nats disconnected", extra={"connection": name})

        async def on_reconnected() -> None:
            log.info("nats reconnected", extra={"connection": name})
            if self.on_reconnected is not None:
                self.on_reconnected()

        async def on_closed() -> None:
            log.info("nats connection closed", extra={"connection": name})
            if self.on_closed is not None:
                self.on_closed()

        return {
            "servers": [part.strip() for part in self.url.split(",")],
            "name": name,
            "allow_reconnect": True,
            "max_reconnect_attempts": self.max_reconnect_attempts,
            "reconnect_time_wait": self.reconnect_time_wait,
            "connect_timeout": self.connect_timeout,
            "error_cb": on_error,
            "disconnected_cb": on_disconnected,
            "reconnected_cb": on_reconnected,
            "closed_cb": on_closed,
        }
