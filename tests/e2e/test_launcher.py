"""``make run`` as a newcomer uses it: the launcher starts everything, reports ready, serves, and
Ctrl-C leaves no process behind; a second start finds the data of the first."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from kabinet.devstack.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("launcher")]


def _environ(data_dir: Path) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KABINET_") and not k.startswith("PYTEST")
    }
    ports = {
        "KABINET_POSTGRES_PORT": free_port(),
        "KABINET_NATS_PORT": free_port(),
        "KABINET_NATS_MONITOR_PORT": free_port(),
        "KABINET_SMTP_PORT": free_port(),
        "KABINET_PAYMENTS_SANDBOX_PORT": free_port(),
        "KABINET_GATEWAY_PORT": free_port(),
        "KABINET_IDENTITY_ADDR": f"127.0.0.1:{free_port()}",
        "KABINET_SUBSCRIPTION_ADDR": f"127.0.0.1:{free_port()}",
        "KABINET_DISTRIBUTION_ADDR": f"127.0.0.1:{free_port()}",
        "KABINET_SUPPORT_ADDR": f"127.0.0.1:{free_port()}",
    }
    environ.update({k: str(v) for k, v in ports.items()})
    environ["KABINET_DATA_DIR"] = str(data_dir)
    environ["KABINET_IDENTITY_ARGON2_MEMORY_KIB"] = "1024"
    return environ


def _start(environ: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kabinet.devstack", "run"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("ready: "):
            return process, lines
    process.kill()
    process.communicate(timeout=30)  # reap it and close its pipe
    raise AssertionError("no 'ready:' line; output:\n" + "\n".join(lines[-60:]))


def _descendants_and_servers(data_dir: Path, root_pid: int) -> list[psutil.Process]:
    """Every process that belongs to this run: children of the launcher, and any server whose
    command line names its data folder (PostgreSQL runs as another user)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline and process.info["pid"] != os.getpid():
            found.append(process)
    with contextlib.suppress(psutil.NoSuchProcess):
        found += psutil.Process(root_pid).children(recursive=True)
    return found


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, _ = process.communicate(timeout=60)
    return out


async def _readyz(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{url}/readyz")


async def _social_sign_in_offer(url: str) -> tuple[list[str], str]:
    async with httpx.AsyncClient(timeout=10) as client:
        listed = await client.get(f"{url}/api/v1/auth/providers")
        started = await client.get(f"{url}/api/v1/auth/social/google/start")
    return [p["name"] for p in listed.json()["providers"]], started.headers["location"]


def test_run_starts_everything_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    environ = _environ(data_dir)
    process, lines = _start(environ)
    try:
        url = lines[-1].removeprefix("ready: ").strip()
        assert url == f"http://127.0.0.1:{environ['KABINET_GATEWAY_PORT']}"
        reply = asyncio.run(_readyz(url))
        assert reply.status_code == 200
        assert set(reply.json()["services"].values()) == {"up"}
        # No provider credentials given: social sign-in goes to the local stand-ins.
        names, location = asyncio.run(_social_sign_in_offer(url))
        assert names == ["google", "apple", "facebook", "yandex", "vk"]
        assert location.startswith("http://127.0.0.1:")
        assert "/google/authorize?" in location
        pids = [p.pid for p in _descendants_and_servers(data_dir, process.pid)]
        assert len(pids) >= 6  # PostgreSQL, NATS, four services, the gateway

        database = f"postgresql://postgres@127.0.0.1:{environ['KABINET_POSTGRES_PORT']}/kabinet"

        async def mark() -> None:
            conn = await asyncpg.connect(database)
            await conn.execute("CREATE TABLE launcher_marker (value text)")
            await conn.execute("INSERT INTO launcher_marker VALUES ('kept')")
            await conn.close()

        asyncio.run(mark())
    finally:
        output = _stop(process)
    assert process.returncode == 0, output[-3000:]
    assert "stopped" in output
    time.sleep(0.5)
    left = [pid for pid in pids if psutil.pid_exists(pid)]
    assert left == [], f"processes left behind: {left}"

    # A second run keeps the data of the first.
    process, lines = _start(environ)
    try:

        async def read() -> str:
            conn = await asyncpg.connect(database)
            try:
                return str(await conn.fetchval("SELECT value FROM launcher_marker"))
            finally:
                await conn.close()

        assert asyncio.run(read()) == "kept"
    finally:
        _stop(process)
    assert process.returncode == 0


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    environ = _environ(tmp_path / "data")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(environ["KABINET_GATEWAY_PORT"])))
        taken.listen()
        result = subprocess.run(
            [sys.executable, "-m", "kabinet.devstack", "run"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert "KABINET_GATEWAY_PORT" in result.stderr
    assert "in use" in result.stderr
