"""``kabinet.subscription.v1.SubscriptionService``: protobuf in, a use case, protobuf out.

Errors are ``DomainError``s that the server interceptor maps to statuses once; every rule lives in
``subscription.domain``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import grpc

from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc
from subscription.domain.model import Plan, Subscription
from subscription.domain.services import SubscriptionServices
from subscription.events.outgoing import TIER_TO_PB, entitlement_to_pb, timestamp

SERVICE_NAME = "kabinet.subscription.v1.SubscriptionService"

Context = grpc.aio.ServicerContext[Any, Any]


def plan_to_pb(plan: Plan) -> pb.Plan:
    return pb.Plan(
        id=plan.id,
        tier=TIER_TO_PB[plan.tier],
        name=plan.name,
        name_ru=plan.name_ru,
        features=list(plan.features),
        on_sale=plan.on_sale,
        options=[
            pb.PlanOption(
                devices=o.devices,
                term_months=o.term_months,
                prices=[
                    pb.Price(region=p.region, currency=p.currency, amount_minor=p.amount_minor)
                    for p in o.prices
                ],
            )
            for o in plan.options
        ],
    )


def subscription_to_pb(subscription: Subscription, now: datetime) -> pb.Subscription:
    s = subscription
    return pb.Subscription(
        id=str(s.id),
        account_id=str(s.account_id),
        plan_id=s.plan_id,
        tier=TIER_TO_PB[s.tier],
        devices=s.devices,
        status=(
            pb.SUBSCRIPTION_STATUS_ACTIVE if s.is_active(now) else pb.SUBSCRIPTION_STATUS_EXPIRED
        ),
        starts_at=timestamp(s.starts_at),
        ends_at=timestamp(s.ends_at),
        created_at=timestamp(s.created_at),
        features=list(s.features),
    )


class SubscriptionServicer(subscription_pb2_grpc.SubscriptionServiceServicer):
    """Each RPC calls one use case of ``SubscriptionServices``."""

    def __init__(self, services: SubscriptionServices) -> None:
        self._s = services
        self._now = services.now

    async def ListPlans(
        self, request: pb.ListPlansRequest, context: Context
    ) -> pb.ListPlansResponse:
        """The plans on sale with the region's prices."""
        plans = await self._s.list_plans(request.region)
        return pb.ListPlansResponse(plans=[plan_to_pb(p) for p in plans])

    async def GetPlan(self, request: pb.GetPlanRequest, context: Context) -> pb.GetPlanResponse:
        """One plan with the region's prices."""
        plan = await self._s.get_plan(request.plan_id, request.region)
        return pb.GetPlanResponse(plan=plan_to_pb(plan))

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: Context
    ) -> pb.ListSubscriptionsResponse:
        """The account's subscriptions, latest end first."""
        subscriptions = await self._s.list_subscriptions(request.account_id)
        now = self._now()
        return pb.ListSubscriptionsResponse(
            subscriptions=[subscription_to_pb(s, now) for s in subscriptions]
        )

    async def RedeemCode(
        self, request: pb.RedeemCodeRequest, context: Context
    ) -> pb.RedeemCodeResponse:
        """Add an activation code to the account (new or renewed subscription)."""
        redeemed = await self._s.redeem(request.account_id, request.code)
        return pb.RedeemCodeResponse(
            subscription=subscription_to_pb(redeemed.subscription, self._now()),
            renewed=redeemed.renewed,
        )

    async def IssueCodes(
        self, request: pb.IssueCodesRequest, context: Context
    ) -> pb.IssueCodesResponse:
        """New activation codes for a plan option (operators)."""
        batch = await self._s.issue_codes(
            request.plan_id, request.devices, request.term_months, request.count
        )
        return pb.IssueCodesResponse(codes=list(batch.codes), batch_id=str(batch.batch_id))

    async def CheckEntitlement(
        self, request: pb.CheckEntitlementRequest, context: Context
    ) -> pb.CheckEntitlementResponse:
        """Whether the account may use the feature now; else the cheapest tier that has it."""
        check = await self._s.check_entitlement(request.account_id, request.feature)
        if check.entitlement is not None:
            return pb.CheckEntitlementResponse(
                entitled=True, entitlement=entitlement_to_pb(check.entitlement)
            )
        return pb.CheckEntitlementResponse(
            entitled=False,
            required_tier=(
                TIER_TO_PB[check.required_tier] if check.required_tier else pb.TIER_UNSPECIFIED
            ),
        )

    async def ListEntitlements(
        self, request: pb.ListEntitlementsRequest, context: Context
    ) -> pb.ListEntitlementsResponse:
        """Everything the account's live subscriptions include."""
        entitlements = await self._s.list_entitlements(request.account_id)
        return pb.ListEntitlementsResponse(
            entitlements=[entitlement_to_pb(e) for e in entitlements]
        )


def register(services: SubscriptionServices) -> Callable[[grpc.aio.Server], None]:
    """The function ``ServiceHost.serve`` calls to add this servicer to its server."""

    def add(server: grpc.aio.Server) -> None:
        subscription_pb2_grpc.add_SubscriptionServiceServicer_to_server(
            SubscriptionServicer(services), server
        )

    return add
