"""/api/v1/plans, /api/v1/subscriptions and /api/v1/entitlements: what is on sale, what the
signed-in person has, and adding an activation code."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody

from gateway.auth import Principal
from gateway.clients import ServiceClients
from gateway.schemas import (
    CodeBody,
    Entitlement,
    Plan,
    PlanOption,
    PlanPrice,
    Subscription,
)
from gateway.timestamps import iso
from kabinet.subscription.v1 import subscription_pb2 as pb

_TIER = {pb.TIER_STANDARD: "standard", pb.TIER_PLUS: "plus", pb.TIER_PREMIUM: "premium"}
_STATUS = {
    pb.SUBSCRIPTION_STATUS_ACTIVE: "active",
    pb.SUBSCRIPTION_STATUS_EXPIRED: "expired",
    pb.SUBSCRIPTION_STATUS_GRACE: "grace",
    pb.SUBSCRIPTION_STATUS_CANCELLED: "cancelled",
    pb.SUBSCRIPTION_STATUS_REFUNDED: "refunded",
}


def plan_out(plan: pb.Plan, language: str) -> Plan:
    return Plan(
        id=plan.id,
        tier=_TIER.get(plan.tier, "unknown"),
        name=plan.name_ru if language == "ru" and plan.name_ru else plan.name,
        features=list(plan.features),
        options=[
            PlanOption(
                devices=o.devices,
                term_months=o.term_months,
                prices=[
                    PlanPrice(region=p.region, currency=p.currency, amount_minor=p.amount_minor)
                    for p in o.prices
                ],
            )
            for o in plan.options
        ],
    )


def subscription_out(sub: pb.Subscription, renewed: bool = False) -> Subscription:
    return Subscription(
        id=sub.id,
        plan_id=sub.plan_id,
        tier=_TIER.get(sub.tier, "unknown"),
        devices=sub.devices,
        status=_STATUS.get(sub.status, "unknown"),
        features=list(sub.features),
        starts_at=iso(sub.starts_at),
        ends_at=iso(sub.ends_at),
        renewed=renewed,
        auto_renew=sub.auto_renew,
        devices_in_use=sub.devices_in_use,
    )


def _entitlement(entitlement: pb.Entitlement) -> Entitlement:
    return Entitlement(
        feature=entitlement.feature,
        subscription_id=entitlement.subscription_id,
        tier=_TIER.get(entitlement.tier, "unknown"),
        valid_until=iso(entitlement.valid_until),
    )


class PlansController(Controller):
    path = "/api/v1/plans"
    tags = ["subscriptions"]  # noqa: RUF012

    @get("/", summary="The plans on sale, with prices in a region (RU, US, EU...)")
    async def list_plans(
        self,
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
        region: FromQuery[str] = "",
    ) -> list[Plan]:
        reply = await clients.subscription.ListPlans(pb.ListPlansRequest(region=region[:8]))
        return [plan_out(p, language) for p in reply.plans]


class SubscriptionsController(Controller):
    path = "/api/v1/subscriptions"
    tags = ["subscriptions"]  # noqa: RUF012
    request_max_body_size = 4096

    @get("/", summary="The signed-in account's subscriptions, latest end first")
    async def list_subscriptions(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> list[Subscription]:
        reply = await clients.subscription.ListSubscriptions(
            pb.ListSubscriptionsRequest(account_id=principal.account_id)
        )
        return [subscription_out(s) for s in reply.subscriptions]

    @post(
        "/codes", status_code=200, summary="Add an activation code: a new or renewed subscription"
    )
    async def redeem_code(
        self,
        data: JSONBody[CodeBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Subscription:
        reply = await clients.subscription.RedeemCode(
            pb.RedeemCodeRequest(account_id=principal.account_id, code=data.code)
        )
        return subscription_out(reply.subscription, reply.renewed)


class EntitlementsController(Controller):
    path = "/api/v1/entitlements"
    tags = ["subscriptions"]  # noqa: RUF012

    @get("/", summary="Everything the signed-in account's live subscriptions include")
    async def list_entitlements(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> list[Entitlement]:
        reply = await clients.subscription.ListEntitlements(
            pb.ListEntitlementsRequest(account_id=principal.account_id)
        )
        return [_entitlement(e) for e in reply.entitlements]
