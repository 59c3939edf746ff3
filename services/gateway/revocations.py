"""Keeps the gateway's RevocationList current from identity's session.revoked events.

An ephemeral ordered JetStream consumer replays the revocations of the last window (as long as an
access token can live) at start-up, then follows new ones, so a gateway that starts late still
refuses every token of a revoked session. It reconnects on its own; while NATS is away, tokens of
sessions revoked meanwhile are refused again as soon as it is back (and by ValidateToken always).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy

from gateway.auth import RevocationList
from kabinet.identity.v1 import events_pb2

log = logging.getLogger(__name__)

SUBJECT = "identity.session.revoked"
STREAM = "IDENTITY"


class RevocationFeed:
    """Runs in the gateway's lifespan: ``start()`` then ``stop()``."""

    def __init__(self, nats_url: str, revocations: RevocationList) -> None:
        self.nats_url = nats_url
        self.revocations = revocations
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="revocation-feed")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS away or stream not there yet: try again shortly
                log.warning("revocation feed interrupted", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=1.0)

    async def _follow(self) -> None:
        async def quiet(exc: Exception) -> None:
            log.debug("nats error", extra={"error": str(exc)})

        connection = await nats.connect(
            self.nats_url, connect_timeout=2, max_reconnect_attempts=-1, error_cb=quiet
        )
        try:
            since = datetime.now(UTC) - self.revocations.window
            subscription = await connection.jetstream().subscribe(
                SUBJECT,
                stream=STREAM,
                ordered_consumer=True,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_TIME,
                    opt_start_time=since,
                ),
            )
            self.ready.set()
            async for message in subscription.messages:
                event = events_pb2.SessionRevoked()
                try:
                    event.ParseFromString(message.data)
                except Exception:
                    log.warning("unreadable session.revoked event")
                    continue
                revoked_at = (
                    event.occurred_at.ToDatetime(UTC).timestamp()
                    if event.HasField("occurred_at")
                    else None
                )
                self.revocations.add(event.session_id, revoked_at)
                if self._stopping.is_set():
                    return
        finally:
            await connection.close()
