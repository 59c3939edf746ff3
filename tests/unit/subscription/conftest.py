"""In-memory fakes of the subscription ports, and the use cases wired on them.

A transaction works on a copy of the state that replaces it when the block ends normally and is
thrown away when it raises, like a rollback.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from subscription.config import RedeemSettings
from subscription.domain.catalog import DEFAULT_SEED, read_seed
from subscription.domain.entitlements import required_tier
from subscription.domain.events import Event
from subscription.domain.model import (
    Entitlement,
    EntitlementCheck,
    IssuedCode,
    Plan,
    RedeemThrottle,
    Subscription,
)
from subscription.domain.services import SubscriptionServices


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class State:
    plans: dict[str, Plan] = field(default_factory=dict)
    codes: dict[bytes, IssuedCode] = field(default_factory=dict)
    subscriptions: dict[uuid.UUID, Subscription] = field(default_factory=dict)
    entitlements: dict[uuid.UUID, list[Entitlement]] = field(default_factory=dict)
    throttle: dict[uuid.UUID, RedeemThrottle] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class FakeTransaction:
    def __init__(self, state: State, in_transaction: bool) -> None:
        self.s = state
        self.in_transaction = in_transaction

    async def save_plans(self, plans: Sequence[Plan], now: datetime) -> None:
        for plan in self.s.plans.values():
            self.s.plans[plan.id] = dataclasses.replace(plan, on_sale=False)
        for plan in plans:
            self.s.plans[plan.id] = plan

    async def plans(self) -> list[Plan]:
        return sorted(self.s.plans.values(), key=lambda p: (p.tier, p.id))

    async def plan(self, plan_id: str) -> Plan | None:
        return self.s.plans.get(plan_id)

    async def insert_codes(self, codes: Sequence[IssuedCode]) -> None:
        for code in codes:
            assert code.digest not in self.s.codes
            self.s.codes[code.digest] = code

    async def code_for_update(self, digest: bytes) -> IssuedCode | None:
        return self.s.codes.get(digest)

    async def mark_code_redeemed(
        self,
        digest: bytes,
        account_id: uuid.UUID,
        subscription_id: uuid.UUID,
        renewal: bool,
        now: datetime,
    ) -> None:
        code = self.s.codes[digest]
        assert code.redeemed_by is None
        self.s.codes[digest] = dataclasses.replace(
            code,
            redeemed_by=account_id,
            redeemed_at=now,
            subscription_id=subscription_id,
            renewal=renewal,
        )

    async def lock_redeem_throttle(self, account_id: uuid.UUID, now: datetime) -> RedeemThrottle:
        return self.s.throttle.setdefault(account_id, RedeemThrottle(0, now))

    async def save_redeem_throttle(self, account_id: uuid.UUID, state: RedeemThrottle) -> None:
        self.s.throttle[account_id] = state

    async def subscriptions_of(self, account_id: uuid.UUID) -> list[Subscription]:
        mine = [s for s in self.s.subscriptions.values() if s.account_id == account_id]
        return sorted(mine, key=lambda s: s.ends_at, reverse=True)

    async def subscription(self, subscription_id: uuid.UUID) -> Subscription | None:
        return self.s.subscriptions.get(subscription_id)

    async def renewable_subscription(
        self, account_id: uuid.UUID, plan_id: str, devices: int
    ) -> Subscription | None:
        return next(
            (
                s
                for s in await self.subscriptions_of(account_id)
                if s.plan_id == plan_id and s.devices == devices
            ),
            None,
        )

    async def insert_subscription(self, subscription: Subscription) -> None:
        assert self.in_transaction
        self.s.subscriptions[subscription.id] = subscription

    async def update_subscription(self, subscription: Subscription, now: datetime) -> None:
        assert self.in_transaction
        self.s.subscriptions[subscription.id] = subscription

    async def replace_entitlements(
        self, account_id: uuid.UUID, entitlements: Sequence[Entitlement]
    ) -> None:
        assert self.in_transaction, "the read model changes with the subscriptions"
        self.s.entitlements[account_id] = list(entitlements)

    async def entitlements_of(self, account_id: uuid.UUID, now: datetime) -> list[Entitlement]:
        return [e for e in self.s.entitlements.get(account_id, []) if e.valid_until > now]

    async def publish(self, event: Event) -> None:
        assert self.in_transaction, "events are written with the change they report"
        self.s.events.append(event)


class FakeStore:
    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        working = copy.deepcopy(self.state)
        yield FakeTransaction(working, in_transaction=True)
        self.state = working

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[FakeTransaction]:
        yield FakeTransaction(self.state, in_transaction=False)

    async def check_entitlement(
        self, account_id: uuid.UUID, feature: str, now: datetime
    ) -> EntitlementCheck:
        live = {
            e.feature: e for e in self.state.entitlements.get(account_id, []) if e.valid_until > now
        }
        return EntitlementCheck(
            live.get(feature), required_tier(self.state.plans.values(), feature)
        )

    @property
    def events(self) -> list[Event]:
        return self.state.events


RULES = RedeemSettings(max_failures=3, window=3600, max_issue=50)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def services(store: FakeStore, clock: FakeClock) -> SubscriptionServices:
    built = SubscriptionServices(store, clock, RULES)
    await built.seed_plans(read_seed(DEFAULT_SEED))
    return built
