"""CheckEntitlement through the subscription service, on one core.

Starts PostgreSQL (durable, as ``make run`` does) and NATS in a temporary directory, and the
subscription service as a subprocess (``python -m subscription``) pinned to one CPU, and
identity, whose key signs the operator token that issuing the codes needs. The client
runs in this process, pinned to another CPU when there is one. 500 accounts get a Plus
subscription by redeeming issued codes; the calls then ask about a random account and a feature
it has (``vpn``) or lacks (``parental_control``, answered with the tier that has it), half each:

* the most calls per second per core (the service runs on one CPU) with 32 in flight;
* p50/p99 at a steady 2,000 calls per second (goal: p99 at most 5 ms).

Both are measured twice, each time on a service of its own: as deployed, answering from the
entitlements it keeps in memory (``kabinet.notified_cache``), and with
``KABINET_SUBSCRIPTION_ENTITLEMENT_CACHE=0``, every check a query (concurrent checks share one,
``kabinet.batching``): what checks of accounts not asked about lately cost. This process does
not collect garbage while it times the calls (``bench.common.collector_paused``).

Run with ``python -m bench.entitlements``.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from bench.common import (
    Row,
    closed_loop,
    collector_paused,
    latency_row,
    paced,
    pinned,
    print_table,
    server_and_load_cpus,
)
from kabinet.auth.operator import operator_metadata
from kabinet.devstack.nats import EmbeddedNats
from kabinet.devstack.ports import free_port, wait_for_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.settings import CommonSettings
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc

ACCOUNTS = 500
SECONDS = 5.0
RATE = 2_000
FEATURES = ("vpn", "parental_control")


async def _wait_serving(stub: Any, service: Any, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if service.poll() is not None:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
            raise RuntimeError(f"the subscription service exited during start-up:\n{tail}")
        try:
            await stub.ListPlans(pb.ListPlansRequest(), timeout=1)
            return
        except grpc.aio.AioRpcError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _operator(database_url: str) -> tuple[tuple[str, str]]:
    """An operator token signed with identity's key, once identity has made one."""
    common = CommonSettings()
    deadline = time.monotonic() + 60
    while True:
        try:
            return await operator_metadata(
                database_url, issuer=common.issuer, audience=common.api_audience
            )
        except (asyncpg.PostgresError, LookupError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _client_measures(
    address: str, service: Any, log: Path, database_url: str, label: str
) -> list[Row]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = subscription_pb2_grpc.SubscriptionServiceStub(channel)
        await _wait_serving(stub, service, log)
        issued = await stub.IssueCodes(
            pb.IssueCodesRequest(plan_id="plus", devices=3, term_months=12, count=ACCOUNTS),
            metadata=await _operator(database_url),
        )
        accounts = [str(uuid.uuid4()) for _ in range(ACCOUNTS)]
        for account, code in zip(accounts, issued.codes, strict=True):
            await stub.RedeemCode(pb.RedeemCodeRequest(account_id=account, code=code))
        picks = random.Random(7)
        requests = [
            pb.CheckEntitlementRequest(account_id=picks.choice(accounts), feature=f)
            for f in FEATURES * 1000
        ]
        picks.shuffle(requests)
        turn = 0

        def check() -> Awaitable[pb.CheckEntitlementResponse]:
            nonlocal turn
            turn += 1
            return stub.CheckEntitlement(requests[turn % len(requests)], timeout=5)

        answer = await stub.CheckEntitlement(requests[0])
        assert answer.entitled or answer.required_tier == pb.TIER_PREMIUM
        await closed_loop(check, count=2_000, concurrency=16)
        with collector_paused():
            latencies, elapsed = await closed_loop(check, count=int(RATE * SECONDS), concurrency=32)
        most = latency_row(
            f"CheckEntitlement per core (service on 1 CPU), 32 in flight, {label}",
            latencies,
            elapsed,
        )
        with collector_paused():
            latencies, elapsed, failures = await paced(check, rate=RATE, seconds=SECONDS)
        steady = latency_row(
            f"CheckEntitlement over gRPC, paced {RATE}/s, {label}",
            latencies,
            elapsed,
            failed=failures,
        )
        steady["goal"] = "p99 ≤ 5 ms at 2000/s"
        return [most, steady]


def _start_service(name: str, root: Path, cpu: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", name],
        env={**os.environ, **env, "KABINET_LOG_LEVEL": "ERROR", "KABINET_TELEMETRY": "none"},
        stdout=subprocess.DEVNULL,
        stderr=(root / f"{name}.log").open("wb"),
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )


def run() -> list[Row]:
    """Measure CheckEntitlement through the service; one row per measure."""
    return [
        *_run_service(cache="50000", label="answers kept in memory"),
        *_run_service(cache="0", label="every check a query"),
    ]


def _run_service(cache: str, label: str) -> list[Row]:
    service_cpus, client_cpus = server_and_load_cpus()
    service_cpu, client_cpu = min(service_cpus), min(client_cpus)
    with tempfile.TemporaryDirectory(prefix="kabinet-bench-entitlements-") as tmp:
        root = Path(tmp)
        postgres = EmbeddedPostgres(root / "pg", free_port(), durable=True, log=subprocess.DEVNULL)
        bus = EmbeddedNats(root / "nats", free_port(), free_port(), log=subprocess.DEVNULL)
        postgres.start()
        bus.start()
        processes: list[subprocess.Popen[bytes]] = []
        try:
            postgres.create_database("bench")
            address = f"127.0.0.1:{free_port()}"
            env = {
                "KABINET_DATABASE_URL": postgres.database_url("bench"),
                "KABINET_NATS_URL": bus.url,
                "KABINET_SUBSCRIPTION_ADDR": address,
                "KABINET_IDENTITY_ADDR": f"127.0.0.1:{free_port()}",
                "KABINET_SUBSCRIPTION_ENTITLEMENT_CACHE": cache,
            }
            # Identity signs the operator token that issuing codes needs; it idles meanwhile.
            processes.append(_start_service("identity", root, client_cpu, env))
            service = _start_service("subscription", root, service_cpu, env)
            processes.append(service)
            # Subscription checks the operator token against identity's keys: wait for it.
            wait_for_port("127.0.0.1", int(env["KABINET_IDENTITY_ADDR"].rsplit(":", 1)[1]), 60)
            with pinned(client_cpus):
                return asyncio.run(
                    _client_measures(
                        address,
                        service,
                        root / "subscription.log",
                        env["KABINET_DATABASE_URL"],
                        label,
                    )
                )
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)
            bus.stop()
            postgres.stop()


if __name__ == "__main__":
    print_table("CheckEntitlement", run())
