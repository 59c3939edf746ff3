"""Two replicas of the subscription service on one database: each answers entitlement checks from
memory, and a change made through one is seen by the other (the entitlements trigger's NOTIFY)
and by the one that made it at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from kabinet.devstack.postgres import EmbeddedPostgres
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


async def test_a_redemption_through_one_replica_reaches_the_others_answers(
    start_subscription, postgres: EmbeddedPostgres
) -> None:
    database = f"subscription_{uuid.uuid4().hex[:10]}"
    postgres.create_database(database)
    async with (
        start_subscription(database=database) as one,
        start_subscription(database=database) as two,
    ):
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
