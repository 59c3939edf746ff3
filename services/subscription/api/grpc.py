"""``kabinet.subscription.v1.SubscriptionService``: protobuf in, a use case, protobuf out.

Errors are ``DomainError``s that the server interceptor maps to statuses once; every rule lives in
``subscription.domain``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import grpc

from kabinet.protobuf import timestamp
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc
from subscription.domain.lifecycle import LifecycleServices
from subscription.domain.model import Order, OrderStatus, Plan, Subscription, SubscriptionStatus
from subscription.domain.orders import OrderServices
from subscription.domain.refunds import RefundServices
from subscription.domain.seats import SeatServices
from subscription.domain.services import SubscriptionServices
from subscription.events.outgoing import TIER_TO_PB, entitlement_to_pb

SERVICE_NAME = "kabinet.subscription.v1.SubscriptionService"
ADMIN_SERVICE_NAME = "kabinet.subscription.v1.SubscriptionAdminService"

# Methods only operators may call (the enforcement is kabinet.rpc's): issuing codes, refunds and
# every catalog change (the whole admin service, ``subscription.api.admin``).
OPERATOR_METHODS: frozenset[str] = frozenset(
    {
        f"/{SERVICE_NAME}/IssueCodes",
        f"/{SERVICE_NAME}/RefundSubscription",
        f"/{ADMIN_SERVICE_NAME}/SavePlan",
        f"/{ADMIN_SERVICE_NAME}/SetPrice",
        f"/{ADMIN_SERVICE_NAME}/SetPlanOnSale",
    }
)

_ORDER_STATUS = {
    OrderStatus.PENDING: pb.ORDER_STATUS_PENDING,
    OrderStatus.PAID: pb.ORDER_STATUS_PAID,
    OrderStatus.DECLINED: pb.ORDER_STATUS_DECLINED,
    OrderStatus.COMPLETED: pb.ORDER_STATUS_COMPLETED,
    OrderStatus.REFUNDED: pb.ORDER_STATUS_REFUNDED,
}

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


def status_to_pb(
    s: Subscription, now: datetime, grace: timedelta
) -> pb.SubscriptionStatus.ValueType:
    if s.status is SubscriptionStatus.CANCELLED:
        return pb.SUBSCRIPTION_STATUS_CANCELLED
    if s.status is SubscriptionStatus.REFUNDED:
        return pb.SUBSCRIPTION_STATUS_REFUNDED
    if s.is_active(now):
        return pb.SUBSCRIPTION_STATUS_ACTIVE
    if s.in_grace(now, grace):
        return pb.SUBSCRIPTION_STATUS_GRACE
    return pb.SUBSCRIPTION_STATUS_EXPIRED


def subscription_to_pb(
    subscription: Subscription,
    now: datetime,
    grace: timedelta = timedelta(0),
    in_use: int = 0,
) -> pb.Subscription:
    s = subscription
    return pb.Subscription(
        id=str(s.id),
        account_id=str(s.account_id),
        plan_id=s.plan_id,
        tier=TIER_TO_PB[s.tier],
        devices=s.devices,
        status=status_to_pb(s, now, grace),
        starts_at=timestamp(s.starts_at),
        ends_at=timestamp(s.ends_at),
        created_at=timestamp(s.created_at),
        features=list(s.features),
        auto_renew=s.auto_renew,
        devices_in_use=in_use,
    )


def order_to_pb(order: Order) -> pb.Order:
    o = order
    return pb.Order(
        id=str(o.id),
        plan_id=o.plan_id,
        devices=o.devices,
        term_months=o.term_months,
        buyer_email=o.buyer_email,
        region=o.region,
        language=o.language,
        currency=o.currency,
        amount_minor=o.amount_minor,
        status=_ORDER_STATUS[o.status],
        payment_url=o.payment_url or "" if o.status is OrderStatus.PENDING else "",
        subscription_id=str(o.subscription_id) if o.subscription_id else "",
        created_at=timestamp(o.created_at),
    )


class SubscriptionServicer(subscription_pb2_grpc.SubscriptionServiceServicer):
    """Each RPC calls one use case of ``SubscriptionServices``."""

    def __init__(
        self,
        services: SubscriptionServices,
        orders: OrderServices,
        seats: SeatServices,
        lifecycle: LifecycleServices,
        refunds: RefundServices,
    ) -> None:
        self._s = services
        self._refunds = refunds
        self._now = services.now
        self._orders = orders
        self._seats = seats
        self._life = lifecycle
        self._grace = services.grace

    def _sub(self, s: Subscription, in_use: int = 0) -> pb.Subscription:
        return subscription_to_pb(s, self._now(), self._grace, in_use)

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
        subscriptions, in_use = await self._s.list_subscriptions_with_seats(request.account_id)
        return pb.ListSubscriptionsResponse(
            subscriptions=[self._sub(s, in_use.get(s.id, 0)) for s in subscriptions]
        )

    async def RedeemCode(
        self, request: pb.RedeemCodeRequest, context: Context
    ) -> pb.RedeemCodeResponse:
        """Add an activation code to the account (new or renewed subscription)."""
        redeemed = await self._s.redeem(request.account_id, request.code)
        return pb.RedeemCodeResponse(
            subscription=self._sub(redeemed.subscription),
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

    # orders and payments

    async def CreateOrder(
        self, request: pb.CreateOrderRequest, context: Context
    ) -> pb.CreateOrderResponse:
        """A purchase order and the page where the buyer pays."""
        order = await self._orders.create_order(
            request.idempotency_key,
            request.plan_id,
            request.term_months,
            request.devices,
            request.buyer_email,
            request.region,
            request.language,
            request.account_id,
        )
        return pb.CreateOrderResponse(order=order_to_pb(order))

    async def GetOrder(self, request: pb.GetOrderRequest, context: Context) -> pb.GetOrderResponse:
        """An order's status."""
        return pb.GetOrderResponse(
            order=order_to_pb(await self._orders.get_order(request.order_id))
        )

    async def RenewSubscription(
        self, request: pb.RenewSubscriptionRequest, context: Context
    ) -> pb.RenewSubscriptionResponse:
        """A renewal purchase of one of the account's subscriptions."""
        order = await self._orders.renew(
            request.idempotency_key,
            request.account_id,
            request.subscription_id,
            request.term_months,
            request.region,
            request.language,
            request.buyer_email,
        )
        return pb.RenewSubscriptionResponse(order=order_to_pb(order))

    async def ConfirmPayment(
        self, request: pb.ConfirmPaymentRequest, context: Context
    ) -> pb.ConfirmPaymentResponse:
        """Apply the payment provider's verified notification once."""
        if request.outcome == pb.PAYMENT_OUTCOME_REFUNDED:
            refunded = await self._refunds.confirm_refund(
                request.provider,
                request.event_id,
                request.payment_id,
                request.order_id,
                request.refund_id,
                request.amount_minor,
                request.currency,
            )
            return pb.ConfirmPaymentResponse(order=order_to_pb(refunded))
        order = await self._orders.confirm_payment(
            request.provider,
            request.event_id,
            request.payment_id,
            request.order_id,
            request.outcome == pb.PAYMENT_OUTCOME_APPROVED,
            request.amount_minor,
            request.currency,
            request.payment_method,
        )
        return pb.ConfirmPaymentResponse(order=order_to_pb(order))

    # seats

    async def ProtectDevice(
        self, request: pb.ProtectDeviceRequest, context: Context
    ) -> pb.ProtectDeviceResponse:
        """Take a seat for a device."""
        done = await self._seats.protect(
            request.account_id, request.subscription_id, request.device_id, request.name
        )
        return pb.ProtectDeviceResponse(
            subscription_id=str(done.subscription.id),
            devices_in_use=done.in_use,
            devices=done.subscription.devices,
        )

    async def UnprotectDevice(
        self, request: pb.UnprotectDeviceRequest, context: Context
    ) -> pb.UnprotectDeviceResponse:
        """Free a device's seat."""
        freed = await self._seats.unprotect(request.account_id, request.device_id)
        return pb.UnprotectDeviceResponse(freed=freed)

    async def ListDevices(
        self, request: pb.ListDevicesRequest, context: Context
    ) -> pb.ListDevicesResponse:
        """The devices a subscription protects."""
        seats = await self._seats.devices(request.account_id, request.subscription_id)
        return pb.ListDevicesResponse(
            devices=[
                pb.Device(
                    device_id=s.device_id, name=s.name, protected_at=timestamp(s.protected_at)
                )
                for s in seats
            ]
        )

    # lifecycle

    async def SetAutoRenew(
        self, request: pb.SetAutoRenewRequest, context: Context
    ) -> pb.SetAutoRenewResponse:
        """Automatic renewal on or off."""
        sub = await self._life.set_auto_renew(
            request.account_id, request.subscription_id, request.auto_renew
        )
        return pb.SetAutoRenewResponse(subscription=self._sub(sub))

    async def CancelSubscription(
        self, request: pb.CancelSubscriptionRequest, context: Context
    ) -> pb.CancelSubscriptionResponse:
        """Stop one of the account's subscriptions."""
        sub = await self._life.cancel(request.account_id, request.subscription_id)
        return pb.CancelSubscriptionResponse(subscription=self._sub(sub))

    async def RefundSubscription(
        self, request: pb.RefundSubscriptionRequest, context: Context
    ) -> pb.RefundSubscriptionResponse:
        """Return the money through the provider, stop the subscription (operators)."""
        done = await self._refunds.refund(request.subscription_id)
        return pb.RefundSubscriptionResponse(
            subscription=self._sub(done.subscription),
            refunds=[
                pb.Refund(
                    order_id=str(r.order_id),
                    refund_id=r.refund_id,
                    amount_minor=r.amount_minor,
                    currency=r.currency,
                )
                for r in done.refunds
            ],
            status_only=done.status_only,
        )


def register(
    services: SubscriptionServices,
    orders: OrderServices,
    seats: SeatServices,
    lifecycle: LifecycleServices,
    refunds: RefundServices,
) -> Callable[[grpc.aio.Server], None]:
    """The function ``ServiceHost.serve`` calls to add this servicer to its server."""

    def add(server: grpc.aio.Server) -> None:
        subscription_pb2_grpc.add_SubscriptionServiceServicer_to_server(
            SubscriptionServicer(services, orders, seats, lifecycle, refunds), server
        )

    return add
