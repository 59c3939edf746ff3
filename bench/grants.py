"""OAuth grants per second per core through the gateway's token endpoint.

Starts PostgreSQL, NATS and an SMTP sink from the wheels, then identity and the gateway as real
processes, **both pinned to the same one CPU** (so the figure is grants per second per core of
Kabinet, PostgreSQL aside, as Keycloak's published figures count Keycloak's vCPUs), and this load
generator on the other CPU. A confidential client comes from a seed file (its secret's SHA-256);
a person is registered, activated and signed in, and that client gets one authorization code
(with PKCE) per concurrent chain of refresh tokens.

* ``refresh_token`` grant: ``POST /oauth2/token`` with client_secret_basic, each chain spending
  its refresh token and keeping the next (rotation, a database transaction each);
* ``client_credentials`` grant: ``POST /oauth2/token`` with client_secret_basic (a signed token,
  no database write).

Keycloak publishes 120 grants/s per vCPU for each of these; the goal here is at least 240/s per
core. Run with ``python -m bench.grants`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from bench.common import (
    Row,
    closed_loop,
    embedded_stack,
    latency_row,
    pinned_process,
    server_and_load_cpus,
)
from kabinet.devstack.mailbox import Mailbox
from kabinet.devstack.ports import free_port, wait_for_port
from kabinet.testing.accounts import PASSWORD, activated_account

CLIENT_ID = "bench-site"
REDIRECT = "http://127.0.0.1:9/callback"
CONCURRENCY = 16
GRANTS = 3_000
GOAL_PER_CORE = 240


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes have used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _seed(path: Path, secret: str) -> None:
    path.write_text(
        json.dumps(
            {
                "clients": [
                    {
                        "client_id": CLIENT_ID,
                        "name": "Bench site",
                        "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
                        "redirect_uris": [REDIRECT],
                        "grant_types": [
                            "authorization_code",
                            "refresh_token",
                            "client_credentials",
                        ],
                        "scopes": ["openid", "kabinet.tokens.validate"],
                        "first_party": True,
                    }
                ]
            }
        )
    )


async def _refresh_tokens(http: httpx.AsyncClient, mailbox: Mailbox, secret: str) -> list[str]:
    """Sign a person in once, then one code (and so one refresh chain) per concurrent worker."""
    access = await activated_account(http, mailbox, "bench-grants@example.com", PASSWORD)
    cookie = {"cookie": f"__Host-kabinet_at={access}"}
    chains = []
    for _ in range(CONCURRENCY):
        verifier = secrets.token_urlsafe(48)
        challenge = hashlib.sha256(verifier.encode()).digest()
        params = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "code_challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        reply = await http.get("/oauth2/authorize?" + urlencode(params), headers=cookie)
        code = parse_qs(urlsplit(reply.headers["location"]).query)["code"][0]
        exchanged = await http.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            auth=(CLIENT_ID, secret),
        )
        exchanged.raise_for_status()
        chains.append(exchanged.json()["refresh_token"])
    return chains


async def _measure(base: str, mailbox: Mailbox, secret: str, pids: list[int]) -> list[Row]:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        chains: asyncio.Queue[str] = asyncio.Queue()
        for token in await _refresh_tokens(http, mailbox, secret):
            chains.put_nowait(token)
        errors = 0

        async def refresh() -> None:
            nonlocal errors
            token = await chains.get()
            reply = await http.post(
                "/oauth2/token",
                data={"grant_type": "refresh_token", "refresh_token": token},
                auth=(CLIENT_ID, secret),
            )
            if reply.status_code == 200:
                chains.put_nowait(reply.json()["refresh_token"])
            else:  # a broken chain would stall its worker: count it and stop the run loudly
                errors += 1
                raise RuntimeError(f"refresh failed: {reply.status_code} {reply.text}")

        async def client_credentials() -> None:
            nonlocal errors
            reply = await http.post(
                "/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(CLIENT_ID, secret),
            )
            if reply.status_code != 200:
                errors += 1

        rows = []
        for name, call in (
            ("refresh_token", refresh),
            ("client_credentials", client_credentials),
        ):
            await closed_loop(call, count=200, concurrency=CONCURRENCY)  # warm up
            errors = 0
            cpu_before = _cpu_seconds(pids)
            latencies, elapsed = await closed_loop(call, count=GRANTS, concurrency=CONCURRENCY)
            cpu = _cpu_seconds(pids) - cpu_before
            row = latency_row(
                f"{name} grant, gateway + identity on 1 core, {CONCURRENCY} in flight",
                latencies,
                elapsed,
                errors=errors,
            )
            # Grants per CPU-second of gateway + identity: the per-core figure even when other
            # processes share the core (per_s is what the core delivered in this run).
            row["per_cpu_s"] = round(len(latencies) / cpu, 1) if cpu else 0.0
            row["goal_per_core"] = GOAL_PER_CORE
            row["keycloak_per_vcpu"] = 120
            rows.append(row)
        return rows


def run() -> list[Row]:
    """Measure and return the table rows."""
    service_cpus, load_cpus = server_and_load_cpus()
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="kabinet-bench-") as scratch:
        root = Path(scratch)
        seed = root / "clients.json"
        _seed(seed, secret)
        with embedded_stack(root) as stack:
            gateway_port, identity_port = stack.gateway_port, free_port()
            env = {
                **stack.env,
                "KABINET_IDENTITY_ADDR": f"127.0.0.1:{identity_port}",
                "KABINET_IDENTITY_CLIENTS_SEED": str(seed),
            }
            with (
                pinned_process([sys.executable, "-m", "identity"], env, service_cpus) as identity,
                pinned_process([sys.executable, "-m", "gateway"], env, service_cpus) as gateway,
            ):
                wait_for_port("127.0.0.1", identity_port, 60)
                wait_for_port("127.0.0.1", gateway_port, 60)
                if hasattr(os, "sched_setaffinity"):
                    os.sched_setaffinity(0, load_cpus)
                base = f"http://127.0.0.1:{gateway_port}"
                return asyncio.run(
                    _measure(base, Mailbox(root / "mail"), secret, [identity.pid, gateway.pid])
                )


if __name__ == "__main__":
    from bench.common import print_table

    print_table("OAuth grants through the token endpoint", run())
