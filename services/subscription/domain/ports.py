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
    Plan,
    RedeemThrottle,
    Subscription,
)

Clock = Callable[[], datetime]


class Plans(Protocol):
    async def save_plans(self, plans: Sequence[Plan], now: datetime) -> None:
        """Upsert the catalog; plans not in ``plans`` go off sale (never deleted)."""
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
        """Store a renewed subscription's end, tier and features."""
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


class Outbox(Protocol):
    async def publish(self, event: Event) -> None:
        """Queue the event with the transaction's change."""
        ...


class Transaction(Plans, Codes, Subscriptions, Entitlements, Outbox, Protocol):
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
