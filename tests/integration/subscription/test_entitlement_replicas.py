"""Two replicas of the subscription service on one database: each answers entitlement checks from
memory, and a change made through one is seen by the other (the entitlements trigger's NOTIFY)
and by the one that made it at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.subscription.v1 import admin_pb2, admin_pb2_grpc
from kabinet.subscription.v1 import subscription_pb2 as pb

pytestmark = pytest.mark.integration


async def _entitled(replica: Any, account: str, feature: str = "vpn") -> bool:
    answer = await replica.stub.CheckEntitlement(
        pb.CheckEntitlementRequest(account_id=account, feature=feature), timeout=5
    )
    return bool(answer.entitled)


async def _becomes_entitled(replica: Any, account: str, seconds: float = 5.0) -> float:
    """Seconds until ``replica`` answers entitled."""
    started = time.monotonic()
    while not await _entitled(replica, account):
        assert time.monotonic() - started < seconds, "the replica kept its stale answer"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@contextlib.asynccontextmanager
async def _two_replicas(
    start_subscription: Any, postgres: EmbeddedPostgres
) -> AsyncIterator[tuple[Any, Any]]:
    """Two subscription services on one new database."""
    database = f"subscription_{uuid.uuid4().hex[:10]}"
    postgres.create_database(database)
    async with (
        start_subscription(database=database) as one,
        start_subscription(database=database) as two,
    ):
        yield one, two


async def test_a_redemption_through_one_replica_reaches_the_others_answers(
    start_subscription, postgres: EmbeddedPostgres
) -> None:
    async with _two_replicas(start_subscription, postgres) as (one, two):
        owner = str(uuid.uuid4())
        # Both replicas answered "not entitled" and keep that answer.
        assert not await _entitled(one, owner)
        assert not await _entitled(two, owner)

        [code] = await one.issue(plan="plus")
        await one.redeem(owner, code)

        assert await _entitled(one, owner), "the replica that wrote must read its write at once"
        assert await _becomes_entitled(two, owner) < 5.0

        # And back: cancelling through the other replica takes the entitlement away from both.
        subscription_id = (
            (await two.stub.ListSubscriptions(pb.ListSubscriptionsRequest(account_id=owner)))
            .subscriptions[0]
            .id
        )
        await two.stub.CancelSubscription(
            pb.CancelSubscriptionRequest(account_id=owner, subscription_id=subscription_id),
            timeout=5,
        )
        assert not await _entitled(two, owner)
        deadline = time.monotonic() + 5
        while await _entitled(one, owner):
            assert time.monotonic() < deadline, "replica one kept the cancelled entitlement"
            await asyncio.sleep(0.01)


async def _required_tier(replica: Any, account: str) -> int:
    answer = await replica.stub.CheckEntitlement(
        pb.CheckEntitlementRequest(account_id=account, feature="parental_control"), timeout=5
    )
    return int(answer.required_tier)


async def test_a_plan_taken_off_sale_changes_the_tier_every_replica_names(
    start_subscription, postgres: EmbeddedPostgres
) -> None:
    async with _two_replicas(start_subscription, postgres) as (one, two):
        account = str(uuid.uuid4())
        assert await _required_tier(one, account) == pb.TIER_PREMIUM
        assert await _required_tier(two, account) == pb.TIER_PREMIUM
        async with grpc.aio.insecure_channel(one.settings.common.addresses.subscription) as ch:
            admin = admin_pb2_grpc.SubscriptionAdminServiceStub(ch)
            await admin.SetPlanOnSale(
                admin_pb2.SetPlanOnSaleRequest(plan_id="premium", on_sale=False),
                timeout=5,
                metadata=one.operator.metadata(),
            )
        # No plan on sale has the feature now: no tier is named, at once by the replica that
        # changed the plan, within moments by the other.
        assert await _required_tier(one, account) == pb.TIER_UNSPECIFIED
        deadline = time.monotonic() + 5
        while await _required_tier(two, account) != pb.TIER_UNSPECIFIED:
            assert time.monotonic() < deadline, "replica two kept naming a plan off sale"
            await asyncio.sleep(0.01)
