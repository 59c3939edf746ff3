"""What the subscription service tells the others, as domain facts (``subscription.events.
outgoing`` turns them into ``kabinet.subscription.v1`` messages). Never a whole code."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from subscription.domain.model import Entitlement, Refund, Subscription


@dataclass(frozen=True)
class SubscriptionActivated:
    subscription: Subscription
    code_prefix: str
    occurred_at: datetime


@dataclass(frozen=True)
class SubscriptionRenewed:
    subscription: Subscription
    previous_ends_at: datetime
    code_prefix: str
    occurred_at: datetime


@dataclass(frozen=True)
class EntitlementsChanged:
    account_id: uuid.UUID
    entitlements: tuple[Entitlement, ...]
    occurred_at: datetime


@dataclass(frozen=True)
class OrderCompleted:
    """A paid purchase whose buyer's account identity must find or create."""

    order_id: uuid.UUID
    buyer_email: str
    language: str
    region: str
    plan_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class SubscriptionPurchased:
    subscription: Subscription
    order_id: uuid.UUID
    occurred_at: datetime


@dataclass(frozen=True)
class SubscriptionExpiring:
    subscription: Subscription
    days_left: int
    occurred_at: datetime


@dataclass(frozen=True)
class SubscriptionExpired:
    subscription: Subscription
    occurred_at: datetime


@dataclass(frozen=True)
class SubscriptionCancelled:
    subscription: Subscription
    refunded: bool
    occurred_at: datetime
    # The payments a refund returned (none for a code-activated subscription).
    refunds: tuple[Refund, ...] = ()


Event = (
    SubscriptionActivated
    | SubscriptionRenewed
    | EntitlementsChanged
    | OrderCompleted
    | SubscriptionPurchased
    | SubscriptionExpiring
    | SubscriptionExpired
    | SubscriptionCancelled
)
