"""The whole cluster in one test process: every service and the gateway on the test's event loop,
against real PostgreSQL, NATS and an SMTP sink, on free ports.

Running in-process (rather than as subprocesses) lets a test read spans from an in-memory
exporter and start in a second; ``tests/e2e/test_launcher.py`` covers the real ``make run`` path.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from kabinet.config import load_settings
from kabinet.devstack.mailbox import Mailbox
from kabinet.devstack.ports import free_port, wait_for_port
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

    @property
    def common(self) -> CommonSettings:
        return load_settings(CommonSettings, self.environ)


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
        "KABINET_OBJECTSTORE_DIR": str(mailbox_dir.parent / "objects"),
        "KABINET_DISTRIBUTION_PLACEHOLDERS": "true",
        "KABINET_DISTRIBUTION_LINK_SECRET": "e2e-only-download-link-key-0123456789abcdef",
        # Tests pay for argon2 on every sign-in: keep the cost low there, the policy unchanged.
        "KABINET_IDENTITY_ARGON2_MEMORY_KIB": "1024",
        "KABINET_IDENTITY_ARGON2_TIME_COST": "1",
    }
    for name in SERVICES:
        environ[f"KABINET_{name.upper()}_ADDR"] = f"127.0.0.1:{free_port()}"
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
