"""Operators change the catalog over the admin RPCs (checked by the seed's rules; a restart with
the same seed keeps their changes), and the operator-only methods are listed for enforcement."""

import uuid

import grpc
import pytest

from kabinet.rpc.errors import domain_error_from_rpc
from kabinet.subscription.v1 import admin_pb2, admin_pb2_grpc
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1.admin_pb2 import DESCRIPTOR as ADMIN
from kabinet.subscription.v1.subscription_pb2 import DESCRIPTOR as SUBSCRIPTION
from subscription.api.grpc import OPERATOR_METHODS

pytestmark = pytest.mark.integration


def test_operator_methods_name_real_methods_and_cover_codes_refunds_and_the_catalog() -> None:
    real = {
        f"/{service.full_name}/{method.name}"
        for file in (SUBSCRIPTION, ADMIN)
        for service in file.services_by_name.values()
        for method in service.methods
    }
    assert real >= OPERATOR_METHODS
    admin = {m for m in real if "SubscriptionAdminService" in m}
    assert admin <= OPERATOR_METHODS
    assert "/kabinet.subscription.v1.SubscriptionService/IssueCodes" in OPERATOR_METHODS
    assert "/kabinet.subscription.v1.SubscriptionService/RefundSubscription" in OPERATOR_METHODS
    # What customers and products call stays open.
    for name in ("CheckEntitlement", "CreateOrder", "RedeemCode", "ProtectDevice"):
        assert f"/kabinet.subscription.v1.SubscriptionService/{name}" not in OPERATOR_METHODS


async def test_operators_add_a_plan_and_set_a_price_and_a_restart_keeps_it(
    start_subscription, postgres
) -> None:
    database = f"subscription_{uuid.uuid4().hex[:10]}"
    postgres.create_database(database)
    async with start_subscription(database=database) as first:
        address = first.settings.common.addresses.subscription
        op = first.operator.metadata()
        async with grpc.aio.insecure_channel(address) as ch:
            admin = admin_pb2_grpc.SubscriptionAdminServiceStub(ch)
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await admin.SetPlanOnSale(
                    admin_pb2.SetPlanOnSaleRequest(plan_id="plus", on_sale=False), timeout=5
                )
            assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
            family = pb.Plan(
                id="family",
                tier=pb.TIER_PREMIUM,
                name="Family",
                name_ru="Семейный",
                features=["antivirus", "vpn", "parental_control"],
                on_sale=True,
                options=[
                    pb.PlanOption(
                        devices=10,
                        term_months=12,
                        prices=[pb.Price(region="RU", currency="RUB", amount_minor=799000)],
                    )
                ],
            )
            saved = await admin.SavePlan(
                admin_pb2.SavePlanRequest(plan=family), timeout=5, metadata=op
            )
            assert saved.plan.id == "family"
            priced = await admin.SetPrice(
                admin_pb2.SetPriceRequest(
                    plan_id="plus",
                    devices=3,
                    term_months=12,
                    price=pb.Price(region="RU", currency="RUB", amount_minor=123400),
                ),
                timeout=5,
                metadata=op,
            )
            [option] = [o for o in priced.plan.options if (o.devices, o.term_months) == (3, 12)]
            assert {(p.region, p.amount_minor) for p in option.prices} >= {("RU", 123400)}

            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await admin.SavePlan(
                    admin_pb2.SavePlanRequest(plan=pb.Plan(id="Bad Id", name="x")),
                    timeout=5,
                    metadata=op,
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert domain_error_from_rpc(bad.value).code == "plan.invalid"
            off = await admin.SetPlanOnSale(
                admin_pb2.SetPlanOnSaleRequest(plan_id="family", on_sale=False),
                timeout=5,
                metadata=op,
            )
            assert not off.plan.on_sale

    async with start_subscription(database=database) as again:
        plans = await again.stub.ListPlans(pb.ListPlansRequest(region="RU"))
        plus = next(p for p in plans.plans if p.id == "plus")
        [option] = [o for o in plus.options if (o.devices, o.term_months) == (3, 12)]
        assert option.prices[0].amount_minor == 123400  # the same seed: operators' price stays
        family = await again.stub.GetPlan(pb.GetPlanRequest(plan_id="family"))
        assert not family.plan.on_sale
