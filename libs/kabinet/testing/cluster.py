"""The whole cluster in one test process: every service and the gateway on the test's event loop,
against real PostgreSQL, NATS and an SMTP sink, on free ports.

Running in-process (rather than as subprocesses) lets a test read spans from an in-memory
exporter and start in a second; ``tests/e2e/test_launcher.py`` covers the real ``make run`` path.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from kabinet.auth.operator import operator_metadata
from kabinet.config import load_settings
from kabinet.devstack.mailbox import Mailbox
from kabinet.devstack.ports import free_port, wait_for_port
from kabinet.devstack.providers import StandInProviders
from kabinet.devstack.psp import SandboxPsp
from kabinet.settings import CommonSettings

SERVICES = ("identity", "subscription", "distribution", "support")


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: Ctrl-C belongs to the test runner."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@dataclass
class Cluster:
    gateway_url: str
    environ: dict[str, str]
    mailbox: Mailbox
    stops: list[asyncio.Event] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    # Google, Apple, Facebook, Yandex ID and VK ID stand-ins that identity is pointed at.
    providers: StandInProviders | None = None
    # The sandbox payment provider the subscription service pays through.
    psp: SandboxPsp | None = None

    @property
    def common(self) -> CommonSettings:
        return load_settings(CommonSettings, self.environ)

    async def operator_metadata(self) -> tuple[tuple[str, str]]:
        """``authorization`` metadata for operator-only RPCs, as ``kabinet-admin`` makes it."""
        common = self.common
        return await operator_metadata(
            common.database_url, issuer=common.issuer, audience=common.api_audience
        )


def cluster_environ(
    database_url: str, nats_url: str, smtp_url: str, mailbox_dir: Path
) -> dict[str, str]:
    """Environment for a cluster on free ports (settings are read from it, not from os.environ)."""
    gateway_port = free_port()
    environ = {
        "KABINET_DATABASE_URL": database_url,
        "KABINET_NATS_URL": nats_url,
        "KABINET_SMTP_URL": smtp_url,
        "KABINET_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
        "KABINET_GATEWAY_HOST": "127.0.0.1",
        "KABINET_GATEWAY_PORT": str(gateway_port),
        "KABINET_MAILBOX_DIR": str(mailbox_dir),
        # Every test client is 127.0.0.1: the edge's per-IP limit would throttle the suite.
        "KABINET_GATEWAY_RATE_LIMIT_IP": "1000000",
        "KABINET_GATEWAY_RATE_LIMIT_SESSION": "1000000",
        # Tests run the subscription scheduler themselves, on a clock they move; one in the
        # cluster would take the scheduling lock from them now and then.
        "KABINET_SUBSCRIPTION_SCHEDULE_INTERVAL": "0",
        "KABINET_OBJECTSTORE_DIR": str(mailbox_dir.parent / "objects"),
        "KABINET_DISTRIBUTION_PLACEHOLDERS": "true",
        "KABINET_DISTRIBUTION_LINK_SECRET": "e2e-only-download-link-key-0123456789abcdef",
        # Tests pay for argon2 on every sign-in: keep the cost low there, the policy unchanged.
        "KABINET_IDENTITY_ARGON2_MEMORY_KIB": "1024",
        "KABINET_IDENTITY_ARGON2_TIME_COST": "1",
        # Requests from 127.0.0.1 play the edge (its X-Forwarded-For and region header are
        # believed); a test that needs an untrusted hop connects from 127.0.0.2.
        "KABINET_TRUSTED_PROXIES": "127.0.0.1/32",
        # Device apps poll every second here (RFC 8628's default of five would slow the tests).
        "KABINET_IDENTITY_DEVICE_INTERVAL": "1",
    }
    for name in SERVICES:
        environ[f"KABINET_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
    environ["KABINET_PAYMENTS_SANDBOX_URL"] = f"http://127.0.0.1:{free_port()}"
    environ["KABINET_PAYMENTS_WEBHOOK_SECRET"] = secrets.token_hex(32)
    return environ


@contextlib.asynccontextmanager
async def running_cluster(environ: dict[str, str], mailbox_dir: Path) -> AsyncIterator[Cluster]:
    """Start every service, then the gateway; stop them all (gateway first) on exit."""
    cluster = Cluster(
        gateway_url=f"http://127.0.0.1:{environ['KABINET_GATEWAY_PORT']}",
        environ=environ,
        mailbox=Mailbox(mailbox_dir),
    )
    try:
        cluster.providers = StandInProviders()
        cluster.providers.start()
        for key, value in cluster.providers.environ().items():
            environ.setdefault(key, value)
        if "KABINET_PAYMENTS_SANDBOX_URL" in environ:
            cluster.psp = SandboxPsp(
                f"{cluster.gateway_url}/api/v1/payments/webhooks/sandbox",
                environ["KABINET_PAYMENTS_WEBHOOK_SECRET"],
                port=int(environ["KABINET_PAYMENTS_SANDBOX_URL"].rsplit(":", 1)[1]),
            )
            cluster.psp.start()
        for name in SERVICES:
            app = importlib.import_module(f"{name}.app")
            config = importlib.import_module(f"{name}.config")
            settings_cls = getattr(config, f"{name.capitalize()}Settings")
            settings = load_settings(settings_cls, environ)
            stop, ready = asyncio.Event(), asyncio.Event()
            task = asyncio.create_task(app.serve(settings, stop=stop, ready=ready), name=name)
            cluster.stops.append(stop)
            cluster.tasks.append(task)
            waiter = asyncio.ensure_future(ready.wait())
            await asyncio.wait({waiter, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                waiter.cancel()
                task.result()  # raises what made the service fail to start
                raise RuntimeError(f"{name} stopped during start-up")
            if not ready.is_set():
                raise TimeoutError(f"{name} did not start in time")

        from gateway.app import create_app
        from gateway.config import GatewaySettings

        gateway_settings = load_settings(GatewaySettings, environ)
        server = _QuietServer(
            uvicorn.Config(
                create_app(gateway_settings),
                host="127.0.0.1",
                port=gateway_settings.port,
                log_config=None,
                access_log=False,
                lifespan="on",
            )
        )
        gateway_task = asyncio.create_task(server.serve(), name="gateway")
        await asyncio.to_thread(wait_for_port, "127.0.0.1", gateway_settings.port, 30)
        yield cluster
        server.should_exit = True
        await asyncio.wait_for(gateway_task, 30)
    finally:
        for stop in cluster.stops:
            stop.set()
        if cluster.tasks:
            await asyncio.wait(cluster.tasks, timeout=30)
        if cluster.providers is not None:
            cluster.providers.stop()
        if cluster.psp is not None:
            cluster.psp.stop()
