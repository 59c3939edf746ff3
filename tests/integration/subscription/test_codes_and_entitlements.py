"""The subscription service over a real grpc.aio channel on real PostgreSQL and NATS: codes issued
and redeemed (also concurrently), events in the outbox with each change, throttling shared by
replicas, entitlements, and the catalog seed upserted at start-up."""

import asyncio
import json
import uuid
from pathlib import Path

import grpc
import pytest

from kabinet.rpc.errors import domain_error_from_rpc
from kabinet.subscription.v1 import events_pb2
from kabinet.subscription.v1 import subscription_pb2 as pb
from subscription.domain import codes
from subscription.domain.catalog import DEFAULT_SEED

pytestmark = pytest.mark.integration


def account() -> str:
    return str(uuid.uuid4())


async def refused(call) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    error = domain_error_from_rpc(caught.value)
    return caught.value.code(), error.code, error.params


async def test_plans_are_served_from_the_seed_with_regional_prices(service) -> None:
    reply = await service.stub.ListPlans(pb.ListPlansRequest(region="RU"))
    assert [p.id for p in reply.plans] == ["standard", "plus", "premium"]
    assert [p.tier for p in reply.plans] == [pb.TIER_STANDARD, pb.TIER_PLUS, pb.TIER_PREMIUM]
    premium = reply.plans[2]
    assert "priority_support" in premium.features
    assert {(o.devices, o.term_months) for o in premium.options} == {
        (d, t) for d in (1, 3, 5, 10) for t in (12, 24)
    }
    assert {p.currency for o in premium.options for p in o.prices} == {"RUB"}
    one = await service.stub.GetPlan(pb.GetPlanRequest(plan_id="plus", region="US"))
    assert one.plan.name == "Plus"
    assert {p.currency for o in one.plan.options for p in o.prices} == {"USD"}
    status, code, _ = await refused(service.stub.GetPlan(pb.GetPlanRequest(plan_id="gold")))
    assert (status, code) == (grpc.StatusCode.NOT_FOUND, "plan.not_found")


async def test_a_redeemed_code_activates_and_its_events_commit_with_it(service) -> None:
    owner = account()
    [code] = await service.issue("premium", 5, 24)
    stored = await service.pool.fetchrow(
        "SELECT code_hash, prefix FROM activation_codes WHERE prefix = $1", code[:5]
    )
    assert bytes(stored["code_hash"]) == codes.parse(code).digest
    reply = await service.redeem(owner, code.lower())
    sub = reply.subscription
    assert not reply.renewed
    assert (sub.account_id, sub.plan_id, sub.devices) == (owner, "premium", 5)
    assert sub.status == pb.SUBSCRIPTION_STATUS_ACTIVE

    activated = [
        events_pb2.SubscriptionActivated.FromString(p)
        for p in await service.events("subscription.subscription.activated")
    ]
    mine = [e for e in activated if e.account_id == owner]
    assert [e.subscription_id for e in mine] == [sub.id]
    assert mine[0].code_prefix == code[:5]
    changed = [
        events_pb2.EntitlementsChanged.FromString(p)
        for p in await service.events("subscription.entitlements.changed")
    ]
    [entitlements] = [e for e in changed if e.account_id == owner]
    assert {e.feature for e in entitlements.entitlements} == set(sub.features)
    # No event carries the code itself.
    rows = await service.pool.fetch("SELECT payload FROM outbox")
    assert all(code.replace("-", "").encode() not in bytes(r["payload"]) for r in rows)

    listed = await service.stub.ListSubscriptions(pb.ListSubscriptionsRequest(account_id=owner))
    assert [s.id for s in listed.subscriptions] == [sub.id]


async def test_a_refused_redemption_writes_no_change_and_no_event(service) -> None:
    owner = account()
    before = await service.pool.fetchval("SELECT count(*) FROM outbox")
    status, code, _ = await refused(service.redeem(owner, codes.generate().value))
    assert (status, code) == (grpc.StatusCode.NOT_FOUND, "code.not_found")
    [real] = await service.issue()
    typo = real[:-1] + ("2" if real[-1] != "2" else "3")
    status, code, _ = await refused(service.redeem(owner, typo))
    assert (status, code) == (grpc.StatusCode.INVALID_ARGUMENT, "code.check_failed")
    status, code, _ = await refused(service.redeem(owner, "hello"))
    assert (status, code) == (grpc.StatusCode.INVALID_ARGUMENT, "code.malformed")
    assert await service.pool.fetchval("SELECT count(*) FROM outbox") == before
    assert (
        await service.pool.fetchval(
            "SELECT count(*) FROM subscriptions WHERE account_id = $1", uuid.UUID(owner)
        )
        == 0
    )


async def test_one_code_raced_by_two_accounts_goes_to_exactly_one(service) -> None:
    raced = await service.issue("standard", 1, 12, count=10)
    for code in raced:
        first, second = account(), account()
        results = await asyncio.gather(
            service.redeem(first, code), service.redeem(second, code), return_exceptions=True
        )
        wins = [r for r in results if isinstance(r, pb.RedeemCodeResponse)]
        losses = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(wins) == 1, results
        assert len(losses) == 1, results
        assert domain_error_from_rpc(losses[0]).code == "code.already_used"
        owner = await service.pool.fetchval(
            "SELECT redeemed_by FROM activation_codes WHERE code_hash = $1",
            codes.parse(code).digest,
        )
        assert str(owner) == wins[0].subscription.account_id
        count = await service.pool.fetchval(
            "SELECT count(*) FROM subscriptions WHERE account_id = ANY ($1::uuid[])",
            [uuid.UUID(first), uuid.UUID(second)],
        )
        assert count == 1


async def test_two_codes_of_one_plan_redeemed_at_once_make_one_subscription_twice_as_long(
    service,
) -> None:
    owner = account()
    a, b = await service.issue("plus", 1, 12, count=2)
    first, second = await asyncio.gather(service.redeem(owner, a), service.redeem(owner, b))
    assert first.subscription.id == second.subscription.id
    assert sorted([first.renewed, second.renewed]) == [False, True]
    listed = await service.stub.ListSubscriptions(pb.ListSubscriptionsRequest(account_id=owner))
    [only] = listed.subscriptions
    start, end = only.starts_at.ToDatetime(), only.ends_at.ToDatetime()
    assert (end.year - start.year, end.month, end.day) == (2, start.month, start.day)
    renewed = [
        events_pb2.SubscriptionRenewed.FromString(p)
        for p in await service.events("subscription.subscription.renewed")
    ]
    assert [e.subscription_id for e in renewed if e.account_id == owner] == [only.id]


async def test_entitlements_follow_redemptions(service) -> None:
    owner = account()
    check = await service.stub.CheckEntitlement(
        pb.CheckEntitlementRequest(account_id=owner, feature="vpn")
    )
    assert not check.entitled
    assert check.required_tier == pb.TIER_PLUS
    unknown = await service.stub.CheckEntitlement(
        pb.CheckEntitlementRequest(account_id=owner, feature="teleportation")
    )
    assert (unknown.entitled, unknown.required_tier) == (False, pb.TIER_UNSPECIFIED)
    [code] = await service.issue("plus", 1, 12)
    redeemed = await service.redeem(owner, code)
    check = await service.stub.CheckEntitlement(
        pb.CheckEntitlementRequest(account_id=owner, feature="vpn")
    )
    assert check.entitled
    assert check.entitlement.subscription_id == redeemed.subscription.id
    assert check.entitlement.tier == pb.TIER_PLUS
    listed = await service.stub.ListEntitlements(pb.ListEntitlementsRequest(account_id=owner))
    assert [e.feature for e in listed.entitlements] == ["antivirus", "password_manager", "vpn"]
    status, code, _ = await refused(
        service.stub.CheckEntitlement(pb.CheckEntitlementRequest(account_id="x", feature="vpn"))
    )
    assert (status, code) == (grpc.StatusCode.INVALID_ARGUMENT, "account.id_invalid")


async def test_guessing_is_throttled_in_postgresql_for_every_replica(
    service, start_subscription
) -> None:
    guesser = account()
    for _ in range(service.settings.redeem.max_failures):
        _, code, _ = await refused(service.redeem(guesser, codes.generate().value))
        assert code == "code.not_found"
    [real] = await service.issue()
    database = service.database_url.rsplit("/", 1)[1].split("?")[0]
    async with start_subscription(database=database) as replica:
        status, code, params = await refused(replica.redeem(guesser, real))
    assert (status, code) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "code.too_many_attempts")
    assert 0 < int(params["retry_after"]) <= service.settings.redeem.window
    assert (await service.redeem(account(), real)).subscription.plan_id == "plus"


async def test_the_seed_is_upserted_at_start_up(start_subscription, tmp_path: Path) -> None:
    seed = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))
    async with start_subscription() as first:
        database = first.database_url.rsplit("/", 1)[1].split("?")[0]
        [code] = await first.issue("plus", 1, 12)
    # An operator raises a price and takes Plus off the file.
    seed["plans"][0]["options"][0]["prices"]["RU"] = ["RUB", 249000]
    seed["plans"] = [p for p in seed["plans"] if p["id"] != "plus"]
    edited = tmp_path / "plans.json"
    edited.write_text(json.dumps(seed), encoding="utf-8")
    async with start_subscription(database=database, seed=str(edited)) as second:
        plans = (await second.stub.ListPlans(pb.ListPlansRequest(region="RU"))).plans
        assert [p.id for p in plans] == ["standard", "premium"]
        standard = next(o for o in plans[0].options if (o.devices, o.term_months) == (1, 12))
        assert [p.amount_minor for p in standard.prices] == [249000]
        off = (await second.stub.GetPlan(pb.GetPlanRequest(plan_id="plus"))).plan
        assert not off.on_sale
        # A code sold before still works.
        assert (await second.redeem(account(), code)).subscription.plan_id == "plus"
        counts = await _catalog_rows(second)
    # The same file again changes nothing (the off-sale plan keeps its options for its codes).
    async with start_subscription(database=database, seed=str(edited)) as third:
        assert await _catalog_rows(third) == counts == (3, 24, 72)


async def _catalog_rows(service) -> tuple[int, int, int]:
    return (
        await service.pool.fetchval("SELECT count(*) FROM plans"),
        await service.pool.fetchval("SELECT count(*) FROM plan_options"),
        await service.pool.fetchval("SELECT count(*) FROM plan_prices"),
    )
