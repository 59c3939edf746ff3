"""Entitlements: what the read model holds, live checks and the tier that would be needed."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from subscription.domain.entitlements import derive, required_tier
from subscription.domain.model import Subscription, Tier
from subscription.domain.services import SubscriptionServices

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def sub(tier: Tier, features: tuple[str, ...], days: int) -> Subscription:
    return Subscription(
        id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        plan_id=tier.key,
        tier=tier,
        devices=1,
        features=features,
        starts_at=NOW - timedelta(days=400),
        ends_at=NOW + timedelta(days=days),
        created_at=NOW - timedelta(days=400),
    )


def test_each_feature_is_held_by_the_subscription_that_lasts_longest() -> None:
    short = sub(Tier.PREMIUM, ("antivirus", "vpn"), 10)
    long = sub(Tier.STANDARD, ("antivirus",), 300)
    ended = sub(Tier.PREMIUM, ("parental_control",), -1)
    held = {e.feature: e for e in derive([short, long, ended], NOW)}
    assert held["antivirus"].subscription_id == long.id
    assert held["vpn"].subscription_id == short.id
    assert "parental_control" not in held


def test_on_equal_ends_the_higher_tier_holds_the_feature() -> None:
    low, high = sub(Tier.STANDARD, ("antivirus",), 30), sub(Tier.PLUS, ("antivirus",), 30)
    [only] = derive([low, high], NOW)
    assert only.tier is Tier.PLUS


async def test_required_tier_is_the_cheapest_plan_that_includes_the_feature(
    services: SubscriptionServices,
) -> None:
    plans = await services.list_plans()
    assert required_tier(plans, "antivirus") is Tier.STANDARD
    assert required_tier(plans, "vpn") is Tier.PLUS
    assert required_tier(plans, "priority_support") is Tier.PREMIUM
    assert required_tier(plans, "teleportation") is None


async def test_check_and_list_follow_redemptions_and_time(
    services: SubscriptionServices, clock: Any
) -> None:
    account = str(uuid.uuid4())
    before = await services.check_entitlement(account, "VPN")
    assert not before.entitled
    assert before.required_tier is Tier.PLUS
    [code] = (await services.issue_codes("plus", 1, 12, 1)).codes
    redeemed = await services.redeem(account, code)
    after = await services.check_entitlement(account, "vpn")
    assert after.entitlement is not None
    assert after.entitlement.subscription_id == redeemed.subscription.id
    assert [e.feature for e in await services.list_entitlements(account)] == [
        "antivirus",
        "password_manager",
        "vpn",
    ]
    assert not (await services.check_entitlement(account, "parental_control")).entitled
    clock.now = redeemed.subscription.ends_at
    assert not (await services.check_entitlement(account, "vpn")).entitled
    assert await services.list_entitlements(account) == []
