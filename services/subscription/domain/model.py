"""What the subscription service knows: plans with their options and prices, subscriptions,
issued activation codes, entitlements and redemption throttling state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from subscription.domain.dates import add_months


class Tier(IntEnum):
    """Plan tiers, cheapest first (the order decides the ``required_tier`` of a feature)."""

    STANDARD = 1
    PLUS = 2
    PREMIUM = 3

    @property
    def key(self) -> str:
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> Tier:
        return cls[key.upper()]


@dataclass(frozen=True)
class Price:
    region: str
    currency: str
    amount_minor: int


@dataclass(frozen=True)
class PlanOption:
    devices: int
    term_months: int
    prices: tuple[Price, ...] = ()

    def in_region(self, region: str) -> PlanOption:
        """The option with only ``region``'s prices (all of them when ``region`` is empty)."""
        if not region:
            return self
        return PlanOption(
            self.devices, self.term_months, tuple(p for p in self.prices if p.region == region)
        )


@dataclass(frozen=True)
class Plan:
    id: str
    tier: Tier
    name: str
    name_ru: str
    features: tuple[str, ...]
    options: tuple[PlanOption, ...] = ()
    on_sale: bool = True

    def option(self, devices: int, term_months: int) -> PlanOption | None:
        return next(
            (o for o in self.options if o.devices == devices and o.term_months == term_months),
            None,
        )

    def in_region(self, region: str) -> Plan:
        """The plan with the options priced in ``region`` and only their prices there."""
        options = tuple(o.in_region(region) for o in self.options)
        if region:
            options = tuple(o for o in options if o.prices)
        return Plan(
            self.id, self.tier, self.name, self.name_ru, self.features, options, self.on_sale
        )


class SubscriptionStatus(StrEnum):
    """What is stored; "in grace" is derived from the end and the clock."""

    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    account_id: uuid.UUID
    plan_id: str
    tier: Tier
    devices: int
    features: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    auto_renew: bool = False
    # The payment provider's reusable token for automatic renewals (never a card number).
    payment_method: str | None = None
    order_id: uuid.UUID | None = None

    def is_active(self, now: datetime, grace: timedelta = timedelta(0)) -> bool:
        """Whether it works at ``now``: not stopped, and its end (plus ``grace``) ahead."""
        return self.status is SubscriptionStatus.ACTIVE and self.ends_at + grace > now

    def in_grace(self, now: datetime, grace: timedelta) -> bool:
        return (
            self.status is SubscriptionStatus.ACTIVE and self.ends_at <= now < self.ends_at + grace
        )

    @classmethod
    def start(
        cls,
        account_id: uuid.UUID,
        plan: Plan,
        devices: int,
        term_months: int,
        now: datetime,
        *,
        payment_method: str | None = None,
        order_id: uuid.UUID | None = None,
    ) -> Subscription:
        """A new active subscription on ``plan`` from ``now`` for ``term_months``."""
        return cls(
            id=uuid.uuid4(),
            account_id=account_id,
            plan_id=plan.id,
            tier=plan.tier,
            devices=devices,
            features=plan.features,
            starts_at=now,
            ends_at=add_months(now, term_months),
            created_at=now,
            payment_method=payment_method,
            order_id=order_id,
        )


@dataclass(frozen=True)
class IssuedCode:
    """An activation code as stored: its digest, never the code."""

    digest: bytes
    prefix: str
    plan_id: str
    devices: int
    term_months: int
    batch_id: uuid.UUID
    created_at: datetime
    redeemed_by: uuid.UUID | None = None
    redeemed_at: datetime | None = None
    subscription_id: uuid.UUID | None = None
    # Whether redeeming it renewed a subscription (rather than starting one).
    renewal: bool = False


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One feature an account may use, through which subscription, until when."""

    feature: str
    subscription_id: uuid.UUID
    tier: Tier
    valid_until: datetime


@dataclass(frozen=True)
class EntitlementCheck:
    entitlement: Entitlement | None
    required_tier: Tier | None = None

    @property
    def entitled(self) -> bool:
        return self.entitlement is not None


@dataclass(frozen=True)
class RedeemThrottle:
    """Failed redemptions of one account in the current window."""

    failures: int
    window_started_at: datetime


@dataclass(frozen=True)
class Redeemed:
    subscription: Subscription
    renewed: bool


@dataclass(frozen=True)
class IssuedBatch:
    batch_id: uuid.UUID
    codes: tuple[str, ...] = field(default=())


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DECLINED = "declined"
    COMPLETED = "completed"
    REFUNDED = "refunded"


class OrderKind(StrEnum):
    PURCHASE = "purchase"
    RENEWAL = "renewal"
    AUTO_RENEWAL = "auto_renewal"


@dataclass(frozen=True)
class Order:
    id: uuid.UUID
    idempotency_key: str
    request_hash: bytes
    kind: OrderKind
    plan_id: str
    devices: int
    term_months: int
    buyer_email: str
    region: str
    language: str
    currency: str
    amount_minor: int
    status: OrderStatus
    created_at: datetime
    account_id: uuid.UUID | None = None
    subscription_id: uuid.UUID | None = None
    payment_id: str | None = None
    payment_url: str | None = None
    payment_method: str | None = None


@dataclass(frozen=True)
class Seat:
    subscription_id: uuid.UUID
    account_id: uuid.UUID
    device_id: str
    name: str
    protected_at: datetime


@dataclass(frozen=True)
class Refund:
    """Money of one paid order returned through the payment provider."""

    order_id: uuid.UUID
    refund_id: str
    payment_id: str
    amount_minor: int
    currency: str
    created_at: datetime
    # When the provider's ``payment.refunded`` notification arrived.
    confirmed_at: datetime | None = None
