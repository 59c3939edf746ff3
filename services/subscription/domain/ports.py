"""What the use cases need from storage, as small protocols (PostgreSQL in ``store.postgres``,
dictionaries in the unit tests).

Every method of a ``Transaction`` runs inside one PostgreSQL transaction: a subscription change,
the entitlements it implies and its events commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from subscription.domain.events import Event
from subscription.domain.model import (
    Entitlement,
    EntitlementCheck,
    IssuedCode,
    Order,
    Plan,
    RedeemThrottle,
    Refund,
    Seat,
    Subscription,
)
from subscription.domain.reminders import MailOutcome, PendingReminder

Clock = Callable[[], datetime]


class Plans(Protocol):
    async def save_plans(self, plans: Sequence[Plan], now: datetime) -> None:
        """Upsert the catalog; plans not in ``plans`` go off sale (never deleted)."""
        ...

    async def save_plan(self, plan: Plan, now: datetime) -> None:
        """Upsert one plan with its options and prices (replaced whole)."""
        ...

    async def swap_seed_digest(self, digest: bytes, now: datetime) -> bool:
        """Record ``digest`` as the seed applied (locked until the transaction ends); False when
        it was the one applied already."""
        ...

    async def plans(self) -> list[Plan]:
        """Every plan with its options and prices, cheapest tier first."""
        ...

    async def plan(self, plan_id: str) -> Plan | None: ...


class Codes(Protocol):
    async def insert_codes(self, codes: Sequence[IssuedCode]) -> None: ...

    async def code_for_update(self, digest: bytes) -> IssuedCode | None:
        """The code with this digest, its row locked until the transaction ends."""
        ...

    async def mark_code_redeemed(
        self,
        digest: bytes,
        account_id: uuid.UUID,
        subscription_id: uuid.UUID,
        renewal: bool,
        now: datetime,
    ) -> None: ...

    async def lock_redeem_throttle(self, account_id: uuid.UUID, now: datetime) -> RedeemThrottle:
        """The account's throttling state (created empty at ``now``), locked until the
        transaction ends: redemptions by one account take turns."""
        ...

    async def save_redeem_throttle(self, account_id: uuid.UUID, state: RedeemThrottle) -> None: ...


class Subscriptions(Protocol):
    async def subscriptions_of(self, account_id: uuid.UUID) -> list[Subscription]:
        """The account's subscriptions, latest end first."""
        ...

    async def subscription(self, subscription_id: uuid.UUID) -> Subscription | None: ...

    async def renewable_subscription(
        self, account_id: uuid.UUID, plan_id: str, devices: int
    ) -> Subscription | None:
        """The account's subscription of this plan and device count ending last, locked."""
        ...

    async def insert_subscription(self, subscription: Subscription) -> None: ...

    async def update_subscription(self, subscription: Subscription, now: datetime) -> None:
        """Store a subscription's end, tier, features, status, auto-renewal and account."""
        ...

    async def subscription_for_update(self, subscription_id: uuid.UUID) -> Subscription | None:
        """The subscription, its row locked until the transaction ends."""
        ...


class Entitlements(Protocol):
    async def replace_entitlements(
        self, account_id: uuid.UUID, entitlements: Sequence[Entitlement]
    ) -> None:
        """Make ``entitlements`` the account's whole read model."""
        ...

    async def entitlements_of(self, account_id: uuid.UUID, now: datetime) -> list[Entitlement]:
        """The account's live entitlements, by feature."""
        ...


class Orders(Protocol):
    async def insert_order(self, order: Order) -> bool:
        """Store a new order; False when its idempotency key is taken (nothing stored)."""
        ...

    async def order_by_key(self, key: str) -> Order | None: ...

    async def order(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None: ...

    async def update_order(self, order: Order, now: datetime) -> None:
        """Store an order's status, account, subscription and payment fields."""
        ...

    async def record_payment_event(
        self, provider: str, event_id: str, order_id: uuid.UUID, now: datetime
    ) -> bool:
        """Remember a provider notification; False when it was seen before."""
        ...

    async def paid_orders_of(self, subscription_id: uuid.UUID) -> list[Order]:
        """The subscription's completed orders with a payment (not refunded), by id."""
        ...

    async def insert_refund(self, refund: Refund) -> bool:
        """Record a refund of an order; False when the order has one already."""
        ...

    async def confirm_refund(self, order_id: uuid.UUID, refund_id: str, now: datetime) -> bool:
        """Note the provider's confirmation of a recorded refund; False when there is no such
        unconfirmed refund."""
        ...

    async def refunds_of(self, subscription_id: uuid.UUID) -> list[Refund]:
        """The refunds of the subscription's orders, oldest first."""
        ...


class Seats(Protocol):
    async def seats_of(self, subscription_id: uuid.UUID) -> list[Seat]: ...

    async def seat_of_device(self, account_id: uuid.UUID, device_id: str) -> Seat | None: ...

    async def insert_seat(self, seat: Seat) -> None: ...

    async def delete_seat(self, account_id: uuid.UUID, device_id: str) -> bool: ...

    async def delete_seats_of(self, subscription_id: uuid.UUID) -> int:
        """Free every seat of a subscription; how many there were."""
        ...

    async def seats_in_use(self, subscription_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Devices protected per subscription (subscriptions without any are left out)."""
        ...


class Schedule(Protocol):
    async def try_lead(self) -> bool:
        """Take the scheduler's lock for this transaction; False when another replica has it."""
        ...

    async def ending_between(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Subscription]:
        """Active subscriptions whose end falls in [start, end), earliest first."""
        ...

    async def record_reminder(
        self, subscription_id: uuid.UUID, ends_at: datetime, days_before: int, now: datetime
    ) -> bool:
        """Note a reminder as due (its mail still to go); False when it was noted already."""
        ...

    async def unmailed_reminders(self, limit: int) -> list[PendingReminder]:
        """Reminders noted but not mailed yet, oldest first."""
        ...

    async def mark_reminder_mailed(
        self,
        subscription_id: uuid.UUID,
        ends_at: datetime,
        days_before: int,
        outcome: MailOutcome,
        now: datetime,
    ) -> bool:
        """Close a reminder's mail (only when still open, its row locked until the transaction
        ends); False when it was closed already."""
        ...

    async def record_renewal_attempt(
        self, subscription_id: uuid.UUID, ends_at: datetime, order_id: uuid.UUID, now: datetime
    ) -> bool:
        """Note an automatic renewal attempt; False when one was made for this end already."""
        ...


class Mail(Protocol):
    async def queue_mail(
        self, to: str, template: str, language: str, values: dict[str, str]
    ) -> None:
        """Queue a message with the transaction's change."""
        ...


class Outbox(Protocol):
    async def publish(self, event: Event) -> None:
        """Queue the event with the transaction's change."""
        ...


class Transaction(
    Plans, Codes, Subscriptions, Entitlements, Orders, Seats, Schedule, Mail, Outbox, Protocol
):
    """Every storage operation, on one connection (inside a transaction or not)."""


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def connection(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def check_entitlement(
        self, account_id: uuid.UUID, feature: str, now: datetime
    ) -> EntitlementCheck:
        """The account's live entitlement to ``feature`` and, in the same read, the cheapest tier
        on sale that includes it (the hot path: one query)."""
        ...
