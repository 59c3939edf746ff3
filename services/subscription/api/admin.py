"""``kabinet.subscription.v1.SubscriptionAdminService``: operators change the catalog.

Every method here is operator-only (``OPERATOR_METHODS``); plans are checked by the same rules
as the seed file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from kabinet.subscription.v1 import admin_pb2, admin_pb2_grpc
from kabinet.subscription.v1 import subscription_pb2 as pb
from subscription.api.grpc import ADMIN_SERVICE_NAME, OPERATOR_METHODS, plan_to_pb
from subscription.domain import errors
from subscription.domain.catalog import SeedError, parse_plan, parse_price
from subscription.domain.model import Plan
from subscription.domain.services import SubscriptionServices

__all__ = ["ADMIN_SERVICE_NAME", "OPERATOR_METHODS", "register_admin"]

Context = grpc.aio.ServicerContext[Any, Any]

_TIER = {pb.TIER_STANDARD: "standard", pb.TIER_PLUS: "plus", pb.TIER_PREMIUM: "premium"}


def plan_from_pb(plan: pb.Plan) -> Plan:
    """The operator's plan, checked by the seed's rules (``plan.invalid`` says what is wrong)."""
    raw = {
        "id": plan.id,
        "tier": _TIER.get(plan.tier, ""),
        "name": plan.name,
        "name_ru": plan.name_ru or plan.name,
        "features": list(plan.features),
        "on_sale": plan.on_sale,
        "options": [
            {
                "devices": o.devices,
                "term_months": o.term_months,
                "prices": {p.region: [p.currency, p.amount_minor] for p in o.prices},
            }
            for o in plan.options
        ],
    }
    try:
        return parse_plan(raw)
    except SeedError as exc:
        raise errors.plan_invalid(str(exc)) from None


class SubscriptionAdminServicer(admin_pb2_grpc.SubscriptionAdminServiceServicer):
    def __init__(self, services: SubscriptionServices) -> None:
        self._s = services

    async def SavePlan(
        self, request: admin_pb2.SavePlanRequest, context: Context
    ) -> admin_pb2.SavePlanResponse:
        """Create or replace a plan."""
        saved = await self._s.save_plan(plan_from_pb(request.plan))
        return admin_pb2.SavePlanResponse(plan=plan_to_pb(saved))

    async def SetPrice(
        self, request: admin_pb2.SetPriceRequest, context: Context
    ) -> admin_pb2.SetPriceResponse:
        """One option's price in one region."""
        try:
            price = parse_price(
                request.price.region, request.price.currency, request.price.amount_minor
            )
        except SeedError as exc:
            raise errors.plan_invalid(str(exc)) from None
        if not (1 <= request.devices <= 100 and 1 <= request.term_months <= 120):
            raise errors.plan_option_not_found(request.devices, request.term_months)
        saved = await self._s.set_price(
            request.plan_id, request.devices, request.term_months, price
        )
        return admin_pb2.SetPriceResponse(plan=plan_to_pb(saved))

    async def SetPlanOnSale(
        self, request: admin_pb2.SetPlanOnSaleRequest, context: Context
    ) -> admin_pb2.SetPlanOnSaleResponse:
        """A plan on sale or off it."""
        saved = await self._s.set_on_sale(request.plan_id, request.on_sale)
        return admin_pb2.SetPlanOnSaleResponse(plan=plan_to_pb(saved))


def register_admin(services: SubscriptionServices) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        admin_pb2_grpc.add_SubscriptionAdminServiceServicer_to_server(
            SubscriptionAdminServicer(services), server
        )

    return add
