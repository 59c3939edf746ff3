"""Token-checked requests through the gateway, one core, against the embedded servers.

Starts PostgreSQL, NATS and an SMTP sink from the wheels, then identity and the gateway as real
processes (``python -m identity``, ``python -m gateway`` under uvicorn), the gateway pinned to one
CPU and this load generator to the other. A person is registered, activated from the mail and
signed in; then keep-alive connections send ``GET /api/v1/auth/session`` with the bearer token
(signature, claims and revocation checked at the edge) and, for comparison in the same run,
``GET /healthz`` (no token).

Run with ``python -m bench.gateway`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Row, embedded_stack, latency_row, pinned_process, server_and_load_cpus
from kabinet.devstack.mailbox import Mailbox
from kabinet.devstack.ports import free_port, wait_for_port
from kabinet.testing.accounts import PASSWORD, activated_account

CONNECTIONS = 32
SECONDS = 8.0


async def _load(port: int, request: bytes, seconds: float) -> tuple[list[float], float, int]:
    """Keep-alive connections, one request in flight each; returns latencies, elapsed, errors."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return latencies, time.perf_counter() - began, errors


async def _sign_in(base: str, mailbox: Mailbox) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        return await activated_account(http, mailbox, "bench@example.com", PASSWORD)


def run() -> list[Row]:
    """Measure and return the table rows."""
    gateway_cpus, load_cpus = server_and_load_cpus()
    with (
        tempfile.TemporaryDirectory(prefix="kabinet-bench-") as scratch,
        embedded_stack(Path(scratch)) as stack,
    ):
        root = Path(scratch)
        gateway_port, identity_port = stack.gateway_port, free_port()
        env = {**stack.env, "KABINET_IDENTITY_ADDR": f"127.0.0.1:{identity_port}"}
        with (
            pinned_process([sys.executable, "-m", "identity"], env, load_cpus),
            pinned_process([sys.executable, "-m", "gateway"], env, gateway_cpus),
        ):
            wait_for_port("127.0.0.1", identity_port, 60)
            wait_for_port("127.0.0.1", gateway_port, 60)
            base = f"http://127.0.0.1:{gateway_port}"
            token = asyncio.run(_sign_in(base, Mailbox(root / "mail")))
            os.sched_setaffinity(0, load_cpus)
            checked = (
                "GET /api/v1/auth/session HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
            bare = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
            asyncio.run(_load(gateway_port, checked, 1.0))  # warm up
            rows = []
            for name, request in (("token-checked", checked), ("no token (/healthz)", bare)):
                latencies, elapsed, errors = asyncio.run(_load(gateway_port, request, SECONDS))
                rows.append(
                    latency_row(
                        f"gateway {name}, 1 core, {CONNECTIONS} connections",
                        latencies,
                        elapsed,
                        errors=errors,
                    )
                )
            rows[0]["vs_no_token"] = f"{100 * rows[0]['per_s'] / rows[1]['per_s']:.0f}%"
            return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table("Token-checked gateway requests", run())
