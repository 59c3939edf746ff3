"""The subscription service started in-process on real PostgreSQL and NATS.

Each test module gets its own database (the service always works in the schema ``subscription``)
and its own gRPC port, and talks to the service over a real grpc.aio channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
import pytest

from kabinet.db import create_pool
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.settings import CommonSettings, ServiceAddresses
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc
from kabinet.testing.operators import TestOperator
from subscription.app import serve
from subscription.config import RedeemSettings, SubscriptionSettings


@dataclass
class RunningSubscription:
    """A started subscription service and what a test needs to talk to it and look inside."""

    stub: subscription_pb2_grpc.SubscriptionServiceAsyncStub
    pool: asyncpg.Pool
    settings: SubscriptionSettings
    database_url: str
    operator: TestOperator

    async def issue(
        self, plan: str = "plus", devices: int = 3, term: int = 12, count: int = 1
    ) -> list[str]:
        reply = await self.stub.IssueCodes(
            pb.IssueCodesRequest(plan_id=plan, devices=devices, term_months=term, count=count),
            metadata=self.operator.metadata(),
        )
        return list(reply.codes)

    async def redeem(self, account_id: str, code: str) -> pb.RedeemCodeResponse:
        return await self.stub.RedeemCode(pb.RedeemCodeRequest(account_id=account_id, code=code))

    async def events(self, subject: str) -> list[bytes]:
        rows = await self.pool.fetch(
            "SELECT payload FROM outbox WHERE subject = $1 ORDER BY created_at, seq", subject
        )
        return [bytes(row["payload"]) for row in rows]


@contextlib.asynccontextmanager
async def running_subscription(
    postgres: EmbeddedPostgres, nats_url: str, *, database: str | None = None, **overrides: Any
) -> AsyncIterator[RunningSubscription]:
    """Start the service on a database of its own (or ``database``); ``overrides`` replace
    settings fields."""
    if database is None:
        database = f"subscription_{uuid.uuid4().hex[:10]}"
        postgres.create_database(database)
    database_url = postgres.database_url(database)
    settings = SubscriptionSettings(
        common=CommonSettings(
            database_url=database_url,
            nats_url=nats_url,
            addresses=ServiceAddresses(subscription=f"127.0.0.1:{free_port()}"),
        ),
        redeem=RedeemSettings(max_failures=3, window=3600),
    )
    settings = dataclasses.replace(settings, **overrides)
    operator = TestOperator(issuer=settings.common.issuer, audience=settings.common.api_audience)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(
            settings,
            stop=stop,
            ready=ready,
            callers=operator.interceptor("subscription.api"),
        )
    )
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiting}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # raises the start-up failure
    assert ready.is_set(), "the subscription service did not start within 60 s"
    channel = grpc.aio.insecure_channel(settings.common.addresses.subscription)
    pool = await create_pool(database_url, "subscription", min_size=1, max_size=4)
    try:
        yield RunningSubscription(
            stub=subscription_pb2_grpc.SubscriptionServiceStub(channel),  # type: ignore[arg-type]
            pool=pool,
            settings=settings,
            database_url=database_url,
            operator=operator,
        )
    finally:
        await pool.close()
        await channel.close()
        stop.set()
        await asyncio.wait_for(task, 60)


@pytest.fixture(scope="module")
async def service(postgres: EmbeddedPostgres, nats_url: str) -> AsyncIterator[RunningSubscription]:
    """The subscription service for this test module (3 failed redemptions throttle)."""
    async with running_subscription(postgres, nats_url) as it:
        yield it


@pytest.fixture(scope="module")
def start_subscription(
    postgres: EmbeddedPostgres, nats_url: str
) -> Callable[..., AbstractAsyncContextManager[RunningSubscription]]:
    """Start another subscription service: ``async with start_subscription(...)``."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[RunningSubscription]:
        return running_subscription(postgres, nats_url, **overrides)

    return start
