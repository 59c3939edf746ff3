"""Domain events as the ``kabinet.subscription.v1`` messages and subjects others consume."""

from __future__ import annotations

from google.protobuf.message import Message

from kabinet.protobuf import timestamp
from kabinet.subscription.v1 import events_pb2
from kabinet.subscription.v1 import subscription_pb2 as pb
from subscription.domain.events import (
    EntitlementsChanged,
    Event,
    OrderCompleted,
    SubscriptionActivated,
    SubscriptionCancelled,
    SubscriptionExpired,
    SubscriptionExpiring,
    SubscriptionPurchased,
    SubscriptionRenewed,
)
from subscription.domain.model import Entitlement, Tier

SUBSCRIPTION_ACTIVATED = "subscription.subscription.activated"
SUBSCRIPTION_RENEWED = "subscription.subscription.renewed"
ENTITLEMENTS_CHANGED = "subscription.entitlements.changed"

ORDER_COMPLETED = "subscription.order.completed"
SUBSCRIPTION_PURCHASED = "subscription.subscription.purchased"
SUBSCRIPTION_EXPIRING = "subscription.subscription.expiring"
SUBSCRIPTION_EXPIRED = "subscription.subscription.expired"
SUBSCRIPTION_CANCELLED = "subscription.subscription.cancelled"

SUBJECTS = (
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_RENEWED,
    ENTITLEMENTS_CHANGED,
    ORDER_COMPLETED,
    SUBSCRIPTION_PURCHASED,
    SUBSCRIPTION_EXPIRING,
    SUBSCRIPTION_EXPIRED,
    SUBSCRIPTION_CANCELLED,
)

TIER_TO_PB = {
    Tier.STANDARD: pb.TIER_STANDARD,
    Tier.PLUS: pb.TIER_PLUS,
    Tier.PREMIUM: pb.TIER_PREMIUM,
}


def entitlement_to_pb(entitlement: Entitlement) -> pb.Entitlement:
    return pb.Entitlement(
        feature=entitlement.feature,
        subscription_id=str(entitlement.subscription_id),
        tier=TIER_TO_PB[entitlement.tier],
        valid_until=timestamp(entitlement.valid_until),
    )


def to_message(event: Event) -> tuple[str, Message]:
    """The subject and protobuf message of a domain event."""
    at = timestamp(event.occurred_at)
    match event:
        case SubscriptionActivated(subscription=s):
            return SUBSCRIPTION_ACTIVATED, events_pb2.SubscriptionActivated(
                subscription_id=str(s.id),
                account_id=str(s.account_id),
                plan_id=s.plan_id,
                tier=TIER_TO_PB[s.tier],
                devices=s.devices,
                starts_at=timestamp(s.starts_at),
                ends_at=timestamp(s.ends_at),
                code_prefix=event.code_prefix,
                occurred_at=at,
            )
        case SubscriptionRenewed(subscription=s):
            return SUBSCRIPTION_RENEWED, events_pb2.SubscriptionRenewed(
                subscription_id=str(s.id),
                account_id=str(s.account_id),
                plan_id=s.plan_id,
                tier=TIER_TO_PB[s.tier],
                devices=s.devices,
                previous_ends_at=timestamp(event.previous_ends_at),
                ends_at=timestamp(s.ends_at),
                code_prefix=event.code_prefix,
                occurred_at=at,
            )
        case EntitlementsChanged():
            return ENTITLEMENTS_CHANGED, events_pb2.EntitlementsChanged(
                account_id=str(event.account_id),
                entitlements=[entitlement_to_pb(e) for e in event.entitlements],
                occurred_at=at,
            )
        case OrderCompleted():
            return ORDER_COMPLETED, events_pb2.OrderCompleted(
                order_id=str(event.order_id),
                buyer_email=event.buyer_email,
                language=event.language,
                region=event.region,
                plan_id=event.plan_id,
                occurred_at=at,
            )
        case SubscriptionPurchased(subscription=s):
            return SUBSCRIPTION_PURCHASED, events_pb2.SubscriptionPurchased(
                subscription_id=str(s.id),
                account_id=str(s.account_id),
                tier=TIER_TO_PB[s.tier],
                devices=s.devices,
                ends_at=timestamp(s.ends_at),
                occurred_at=at,
                order_id=str(event.order_id),
                plan_id=s.plan_id,
            )
        case SubscriptionExpiring(subscription=s):
            return SUBSCRIPTION_EXPIRING, events_pb2.SubscriptionExpiring(
                subscription_id=str(s.id),
                account_id=str(s.account_id),
                days_left=event.days_left,
                ends_at=timestamp(s.ends_at),
                occurred_at=at,
            )
        case SubscriptionExpired(subscription=s):
            return SUBSCRIPTION_EXPIRED, events_pb2.SubscriptionExpired(
                subscription_id=str(s.id),
                account_id=str(s.account_id),
                ends_at=timestamp(s.ends_at),
                occurred_at=at,
            )
        case SubscriptionCancelled(subscription=s):
            return SUBSCRIPTION_CANCELLED, events_pb2.SubscriptionCancelled(
                subscription_id=str(s.id),
                account_id=str(s.account_id),
                refunded=event.refunded,
                occurred_at=at,
                refunds=[
                    events_pb2.RefundedPayment(
                        order_id=str(r.order_id),
                        refund_id=r.refund_id,
                        amount_minor=r.amount_minor,
                        currency=r.currency,
                    )
                    for r in event.refunds
                ],
            )
    raise TypeError(f"not a subscription event: {event!r}")
