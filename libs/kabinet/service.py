"""The lifecycle every service process shares, written once.

A service's ``app.py`` builds its domain objects on a ``ServiceHost`` and calls ``serve``; the host
owns the rest: telemetry, the PostgreSQL pool on the service's schema and its migrations, the
service's JetStream stream, the outbox relay, the mail sender, the event consumers and the gRPC
server with health and reflection. On SIGTERM (or SIGINT) it shuts down in order: health goes
NOT_SERVING and the server stops accepting and finishes in-flight calls, consumers drain, the relay
and the mail sender finish their batch, the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import grpc
import nats
from opentelemetry import metrics

from kabinet.db import create_pool, migrate_url
from kabinet.event_metrics import EventMetrics
from kabinet.events.consumer import EventConsumer, Handler
from kabinet.events.relay import OutboxRelay
from kabinet.events.streams import STREAMS, ensure_stream
from kabinet.mail.sender import MailSender
from kabinet.rpc.callers import identity_keys, policy_interceptor, service_policy
from kabinet.rpc.interceptors import ServerInterceptor
from kabinet.rpc.server import start_server
from kabinet.settings import CommonSettings
from kabinet.telemetry import Telemetry, setup_telemetry

log = logging.getLogger(__name__)

DAY = 24 * 3600.0

Register = Callable[[grpc.aio.Server], None]


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    subjects: tuple[str, ...]
    handler: Handler
    max_deliver: int


class ServiceHost:
    """Runs one service: ``async with ServiceHost(...) as host: ...; await host.serve(...)``."""

    def __init__(
        self,
        name: str,
        common: CommonSettings,
        *,
        migrations: Path,
        telemetry: Telemetry | None = None,
        pool_size: int = 10,
        grace: float = 10.0,
    ) -> None:
        if not common.database_url or not common.nats_url:
            raise RuntimeError(
                "KABINET_DATABASE_URL and KABINET_NATS_URL must be set (make run sets them)"
            )
        self.name = name
        self.schema = name
        self.common = common
        self.migrations = migrations
        self.grace = grace
        self._pool_size = pool_size
        self._telemetry = telemetry
        self._owns_telemetry = telemetry is None
        self._consumers: list[ConsumerSpec] = []
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the host is not started")
        return self._pool

    def meter(self, name: str) -> metrics.Meter:
        """A meter for the service's own metrics (exported with the platform's)."""
        if self._telemetry is None:
            raise RuntimeError("the host is not started")
        return self._telemetry.meter(name)

    async def __aenter__(self) -> ServiceHost:
        if self._telemetry is None:
            # gRPC must be instrumented before any channel or server exists.
            self._telemetry = setup_telemetry(self.name, self.common)
        applied = await migrate_url(self.common.database_url, self.schema, self.migrations)
        if applied:
            log.info("migrations applied", extra={"applied": applied})
        self._pool = await create_pool(
            self.common.database_url, self.schema, max_size=self._pool_size
        )
        try:
            await self._ensure_own_stream()
        except BaseException:
            # A host that could not start is not exited: release what it holds here.
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._owns_telemetry and self._telemetry is not None:
            self._telemetry.shutdown()

    async def _ensure_own_stream(self) -> None:
        stream = self.name.upper()
        connection = await nats.connect(self.common.nats_url, connect_timeout=5)
        try:
            await ensure_stream(
                connection.jetstream(),
                stream,
                STREAMS[stream],
                replicas=self.common.stream_replicas,
                max_age=self.common.stream_max_age_days * DAY or None,
            )
        finally:
            await connection.close()

    def consume(
        self,
        *,
        stream: str,
        durable: str,
        subjects: Sequence[str],
        handler: Handler,
        max_deliver: int = 5,
    ) -> None:
        """Run ``handler`` once per event on ``subjects``: durable, idempotent, ack after commit."""
        self._consumers.append(
            ConsumerSpec(stream, f"{self.name}-{durable}", tuple(subjects), handler, max_deliver)
        )

    async def serve(
        self,
        register: Sequence[Register],
        service_names: Sequence[str],
        *,
        stop: asyncio.Event | None = None,
        ready: asyncio.Event | None = None,
        callers: grpc.aio.ServerInterceptor | None = None,
    ) -> None:
        """Serve until ``stop`` is set, or until SIGTERM/SIGINT when no event is given.

        ``callers`` authenticates gRPC callers (``kabinet.rpc.callers``); by default the policy
        is the one the service's ``<name>.api`` modules declare (``OPERATOR_METHODS``,
        ``METHOD_SCOPES``), with tokens verified against identity's JWKS (fetched only when a
        caller presents a token)."""
        stop = stop or self._stop_on_signals()
        kept = self.common.stream_max_age_days
        relay = OutboxRelay(
            self.pool,
            self.schema,
            self.common.nats_url,
            # A redelivery can come while the stream still has the event: a day's margin more.
            inbox_retention=(kept + 1) * DAY if kept else None,
        )
        consumers = [
            EventConsumer(
                self.pool,
                self.common.nats_url,
                stream=spec.stream,
                durable=spec.durable,
                subjects=list(spec.subjects),
                handler=spec.handler,
                max_deliver=spec.max_deliver,
            )
            for spec in self._consumers
        ]
        workers: list[Any] = [relay, *consumers]
        if self.common.smtp_url:
            workers.append(
                MailSender(self.pool, self.schema, self.common.smtp_url, self.common.mail_from)
            )
        else:
            log.warning("KABINET_SMTP_URL is not set: mail stays queued in the outbox")
        event_metrics = (
            EventMetrics(
                self._telemetry.meter(f"kabinet.events.{self.name}"),
                self.name,
                self.pool,
                asyncio.get_running_loop(),
                relay=relay,
                consumers=consumers,
            )
            if self._telemetry is not None
            else None
        )
        tasks = [
            asyncio.create_task(worker.run(), name=type(worker).__name__) for worker in workers
        ]
        remote_keys = None
        if callers is None:
            remote_keys = identity_keys(self.common.addresses.identity)
            callers = policy_interceptor(
                service_policy(f"{self.name}.api"),
                remote_keys,
                issuer=self.common.issuer,
                audience=self.common.api_audience,
            )
        interceptors: list[grpc.aio.ServerInterceptor] = [ServerInterceptor(), callers]
        server = await start_server(
            self.common.addresses.of(self.name), register, service_names, interceptors=interceptors
        )
        log.info("serving", extra={"address": self.common.addresses.of(self.name)})
        if ready is not None:
            ready.set()
        try:
            crashed = asyncio.ensure_future(_first_failure(tasks))
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({crashed, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if crashed.done() and crashed.exception() is not None:
                raise crashed.exception()  # type: ignore[misc]
            crashed.cancel()
            waiter.cancel()
        finally:
            log.info("stopping")
            if event_metrics is not None:
                event_metrics.close()
            await server.stop(self.grace)
            if remote_keys is not None:
                await remote_keys.close()
            for worker in reversed(workers):
                with contextlib.suppress(Exception):
                    await worker.stop()
            _, pending = await asyncio.wait(tasks, timeout=self.grace)
            for task in pending:
                task.cancel()
            log.info("stopped")

    @staticmethod
    def _stop_on_signals() -> asyncio.Event:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return stop


async def _first_failure(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Returns (raising its error) when a background worker dies on its own."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    await asyncio.Event().wait()  # workers ended normally: keep serving until stopped


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it comes with ``uvicorn[standard]``), else None:
    asyncio's own.

    A service spends much of its time in the loop: gRPC hands each completed operation over
    through it, and every asyncpg query is a socket write and read. uvloop does these in C; an
    asyncpg round trip costs the process several times less CPU on it.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_main(name: str, settings_cls: type[Any], serve: Callable[[Any], Any]) -> int:
    """The body of every ``python -m <service>``: read config, set up logs, serve until stopped."""
    import sys

    from kabinet.config import ConfigError, load_settings
    from kabinet.logs import setup_logging

    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.common.log_level, settings.common.log_format, name)
    # Everything imported so far lives as long as the process: the collector's full passes need
    # not walk it again (tens of thousands of objects, a pause of 20 ms or more each time, which
    # every call in flight waits out).
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings))
    except (OSError, RuntimeError) as exc:
        log.error("cannot serve", extra={"error": str(exc)})
        return 1
    return 0
