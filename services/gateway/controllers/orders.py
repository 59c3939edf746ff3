"""Buying and renewing, the payment provider's webhook, automatic renewal, cancel, devices.

``POST /api/v1/orders`` (anyone; a signed-in caller's account gets the subscription) answers the
order with the page where the buyer pays; ``GET /api/v1/orders/{id}`` its status. The provider
tells the outcome to ``POST /api/v1/payments/webhooks/sandbox``: the HMAC-SHA256 signature over
timestamp and body is checked here in constant time, an old timestamp is refused, and the
subscription service refuses an event id it has seen.
"""

from __future__ import annotations

import json
import time
from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from gateway.auth import Principal
from gateway.clients import ServiceClients
from gateway.context import optional_principal
from gateway.controllers.subscriptions import subscription_out
from gateway.schemas import Subscription
from gateway.subscription_schemas import (
    AutoRenewBody,
    Device,
    DeviceBody,
    Order,
    OrderBody,
    RenewBody,
    Seat,
    WebhookResult,
)
from gateway.timestamps import iso
from kabinet import webhooks
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2
from kabinet.subscription.v1 import subscription_pb2 as pb

_ORDER_STATUS = {
    pb.ORDER_STATUS_PENDING: "pending",
    pb.ORDER_STATUS_PAID: "paid",
    pb.ORDER_STATUS_DECLINED: "declined",
    pb.ORDER_STATUS_COMPLETED: "completed",
    pb.ORDER_STATUS_REFUNDED: "refunded",
}
_OUTCOME = {
    "payment.approved": pb.PAYMENT_OUTCOME_APPROVED,
    "payment.declined": pb.PAYMENT_OUTCOME_DECLINED,
    "payment.refunded": pb.PAYMENT_OUTCOME_REFUNDED,
}
IDEMPOTENCY_HEADER = "idempotency-key"


def order_out(order: pb.Order) -> Order:
    return Order(
        id=order.id,
        status=_ORDER_STATUS.get(order.status, "unknown"),
        plan_id=order.plan_id,
        devices=order.devices,
        term_months=order.term_months,
        currency=order.currency,
        amount_minor=order.amount_minor,
        payment_url=order.payment_url,
        subscription_id=order.subscription_id,
    )


def _idempotency_key(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if not key:
        raise DomainError(ErrorKind.INVALID_ARGUMENT, "order.idempotency_key_missing")
    return key[:200]


class OrdersController(Controller):
    path = "/api/v1/orders"
    tags = ["subscriptions"]  # noqa: RUF012
    request_max_body_size = 4096

    @post("/", status_code=201, summary="Buy a plan option: the order and its payment page")
    async def create_order(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[OrderBody],
        clients: NamedDependency[ServiceClients],
    ) -> Order:
        key = _idempotency_key(request)
        # Anonymous buyers are welcome; a signed-in one is checked like every API caller.
        principal = await optional_principal(request, state)
        reply = await clients.subscription.CreateOrder(
            pb.CreateOrderRequest(
                idempotency_key=key,
                plan_id=data.plan_id,
                term_months=data.term_months,
                devices=data.devices,
                buyer_email=data.email,
                region=data.region,
                language=data.language,
                account_id=principal.account_id if principal else "",
            )
        )
        return order_out(reply.order)

    @get("/{order_id:str}", summary="An order's status")
    async def get_order(
        self, order_id: FromPath[str], clients: NamedDependency[ServiceClients]
    ) -> Order:
        reply = await clients.subscription.GetOrder(pb.GetOrderRequest(order_id=order_id[:64]))
        return order_out(reply.order)


class PaymentWebhooksController(Controller):
    path = "/api/v1/payments/webhooks"
    tags = ["subscriptions"]  # noqa: RUF012
    request_max_body_size = 16384

    @post("/sandbox", status_code=200, summary="The sandbox payment provider's notifications")
    async def sandbox(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> WebhookResult:
        body = await request.body()
        settings = state.settings
        try:
            webhooks.verify(
                settings.payments_webhook_secret,
                request.headers.get(webhooks.SIGNATURE_HEADER, ""),
                body,
                time.time(),
                settings.payments_webhook_tolerance,
            )
        except webhooks.SignatureError:
            raise DomainError(ErrorKind.UNAUTHENTICATED, "webhook.signature_invalid") from None
        try:
            event = json.loads(body)
            data = event["data"]
            request_pb = pb.ConfirmPaymentRequest(
                provider="sandbox",
                event_id=str(event["id"])[:100],
                payment_id=str(data["payment_id"])[:100],
                order_id=str(data["order_id"])[:64],
                outcome=_OUTCOME[event["type"]],
                amount_minor=int(data["amount_minor"]),
                currency=str(data["currency"])[:3],
                payment_method=str(data.get("payment_method") or "")[:100],
                refund_id=str(data.get("refund_id") or "")[:100],
            )
        except (ValueError, KeyError, TypeError):
            raise DomainError(ErrorKind.INVALID_ARGUMENT, "webhook.payload_invalid") from None
        reply = await clients.subscription.ConfirmPayment(request_pb)
        return WebhookResult(
            order_id=reply.order.id, status=_ORDER_STATUS.get(reply.order.status, "unknown")
        )


class SubscriptionActionsController(Controller):
    """Renew, automatic renewal, cancel and devices of one of the signed-in account's
    subscriptions."""

    path = "/api/v1/subscriptions/{subscription_id:str}"
    tags = ["subscriptions"]  # noqa: RUF012
    request_max_body_size = 4096

    @post("/renew", status_code=201, summary="A renewal purchase: the order and its payment page")
    async def renew(
        self,
        request: Request[Any, Any, Any],
        subscription_id: FromPath[str],
        data: JSONBody[RenewBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Order:
        key = _idempotency_key(request)
        account = await clients.identity.GetAccount(
            identity_pb2.GetAccountRequest(account_id=principal.account_id)
        )
        reply = await clients.subscription.RenewSubscription(
            pb.RenewSubscriptionRequest(
                idempotency_key=key,
                account_id=principal.account_id,
                subscription_id=subscription_id[:64],
                term_months=data.term_months,
                region=data.region,
                language=language,
                buyer_email=account.account.email,
            )
        )
        return order_out(reply.order)

    @put("/auto-renew", summary="Automatic renewal on or off")
    async def auto_renew(
        self,
        subscription_id: FromPath[str],
        data: JSONBody[AutoRenewBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Subscription:
        reply = await clients.subscription.SetAutoRenew(
            pb.SetAutoRenewRequest(
                account_id=principal.account_id,
                subscription_id=subscription_id[:64],
                auto_renew=data.auto_renew,
            )
        )
        return subscription_out(reply.subscription)

    @post("/cancel", status_code=200, summary="Cancel the subscription")
    async def cancel(
        self,
        subscription_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Subscription:
        reply = await clients.subscription.CancelSubscription(
            pb.CancelSubscriptionRequest(
                account_id=principal.account_id, subscription_id=subscription_id[:64]
            )
        )
        return subscription_out(reply.subscription)

    @get("/devices", summary="The devices the subscription protects")
    async def devices(
        self,
        subscription_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> list[Device]:
        reply = await clients.subscription.ListDevices(
            pb.ListDevicesRequest(
                account_id=principal.account_id, subscription_id=subscription_id[:64]
            )
        )
        return [
            Device(device_id=d.device_id, name=d.name, protected_at=iso(d.protected_at))
            for d in reply.devices
        ]

    @post("/devices", status_code=200, summary="Protect a device (takes a seat)")
    async def protect(
        self,
        subscription_id: FromPath[str],
        data: JSONBody[DeviceBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Seat:
        reply = await clients.subscription.ProtectDevice(
            pb.ProtectDeviceRequest(
                account_id=principal.account_id,
                subscription_id=subscription_id[:64],
                device_id=data.device_id,
                name=data.name,
            )
        )
        return Seat(
            subscription_id=reply.subscription_id,
            devices_in_use=reply.devices_in_use,
            devices=reply.devices,
        )

    @delete("/devices/{device_id:str}", status_code=204, summary="Stop protecting a device")
    async def unprotect(
        self,
        device_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> None:
        await clients.subscription.UnprotectDevice(
            pb.UnprotectDeviceRequest(account_id=principal.account_id, device_id=device_id[:128])
        )
