"""In-memory fakes of the subscription ports, and the use cases wired on them.

A transaction works on a copy of the state that replaces it when the block ends normally and is
thrown away when it raises, like a rollback.
"""

from __future__ import annotations

import asyncio
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
    Order,
    OrderStatus,
    Plan,
    RedeemThrottle,
    Refund,
    Seat,
    Subscription,
    SubscriptionStatus,
)
from subscription.domain.orders import OrderServices
from subscription.domain.payments import (
    CreatedPayment,
    PaymentFailedError,
    PaymentRequest,
    ProviderRefund,
)
from subscription.domain.reminders import (
    AccountsUnavailableError,
    Contact,
    MailOutcome,
    PendingReminder,
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
    seed_digest: bytes = b""
    orders: dict[uuid.UUID, Order] = field(default_factory=dict)
    payment_events: set[tuple[str, str]] = field(default_factory=set)
    seats: dict[tuple[uuid.UUID, str], Seat] = field(default_factory=dict)
    # (subscription, end, days) -> how its mail was closed (None: not yet)
    reminders: dict[tuple[uuid.UUID, datetime, int], MailOutcome | None] = field(
        default_factory=dict
    )
    renewal_attempts: set[tuple[uuid.UUID, datetime]] = field(default_factory=set)
    mail: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    refunds: dict[uuid.UUID, Refund] = field(default_factory=dict)
    # The scheduler's advisory lock: held by another replica when True.
    lock_taken: bool = False


class FakeTransaction:
    def __init__(self, state: State, in_transaction: bool) -> None:
        self.s = state
        self.in_transaction = in_transaction

    async def save_plans(self, plans: Sequence[Plan], now: datetime) -> None:
        for plan in self.s.plans.values():
            self.s.plans[plan.id] = dataclasses.replace(plan, on_sale=False)
        for plan in plans:
            self.s.plans[plan.id] = plan

    async def save_plan(self, plan: Plan, now: datetime) -> None:
        self.s.plans[plan.id] = plan

    async def swap_seed_digest(self, digest: bytes, now: datetime) -> bool:
        if self.s.seed_digest == digest:
            return False
        self.s.seed_digest = digest
        return True

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

    async def subscription_for_update(self, subscription_id: uuid.UUID) -> Subscription | None:
        return self.s.subscriptions.get(subscription_id)

    # orders

    async def insert_order(self, order: Order) -> bool:
        assert self.in_transaction
        if any(o.idempotency_key == order.idempotency_key for o in self.s.orders.values()):
            return False
        self.s.orders[order.id] = order
        return True

    async def order_by_key(self, key: str) -> Order | None:
        return next((o for o in self.s.orders.values() if o.idempotency_key == key), None)

    async def order(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        return self.s.orders.get(order_id)

    async def update_order(self, order: Order, now: datetime) -> None:
        assert self.in_transaction
        self.s.orders[order.id] = order

    async def record_payment_event(
        self, provider: str, event_id: str, order_id: uuid.UUID, now: datetime
    ) -> bool:
        if (provider, event_id) in self.s.payment_events:
            return False
        self.s.payment_events.add((provider, event_id))
        return True

    async def paid_orders_of(self, subscription_id: uuid.UUID) -> list[Order]:
        found = [
            o
            for o in self.s.orders.values()
            if o.subscription_id == subscription_id
            and o.status is OrderStatus.COMPLETED
            and o.payment_id is not None
        ]
        return sorted(found, key=lambda o: o.id)

    async def insert_refund(self, refund: Refund) -> bool:
        assert self.in_transaction
        if refund.order_id in self.s.refunds:
            return False
        self.s.refunds[refund.order_id] = refund
        return True

    async def confirm_refund(self, order_id: uuid.UUID, refund_id: str, now: datetime) -> bool:
        found = self.s.refunds.get(order_id)
        if found is None or found.refund_id != refund_id or found.confirmed_at is not None:
            return False
        self.s.refunds[order_id] = dataclasses.replace(found, confirmed_at=now)
        return True

    async def refunds_of(self, subscription_id: uuid.UUID) -> list[Refund]:
        return [
            r
            for r in self.s.refunds.values()
            if self.s.orders[r.order_id].subscription_id == subscription_id
        ]

    # seats

    async def seats_of(self, subscription_id: uuid.UUID) -> list[Seat]:
        return [s for s in self.s.seats.values() if s.subscription_id == subscription_id]

    async def seat_of_device(self, account_id: uuid.UUID, device_id: str) -> Seat | None:
        return self.s.seats.get((account_id, device_id))

    async def insert_seat(self, seat: Seat) -> None:
        assert (seat.account_id, seat.device_id) not in self.s.seats
        self.s.seats[(seat.account_id, seat.device_id)] = seat

    async def delete_seat(self, account_id: uuid.UUID, device_id: str) -> bool:
        return self.s.seats.pop((account_id, device_id), None) is not None

    async def delete_seats_of(self, subscription_id: uuid.UUID) -> int:
        mine = [k for k, v in self.s.seats.items() if v.subscription_id == subscription_id]
        for key in mine:
            del self.s.seats[key]
        return len(mine)

    async def seats_in_use(self, subscription_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        counts: dict[uuid.UUID, int] = {}
        for seat in self.s.seats.values():
            if seat.subscription_id in subscription_ids:
                counts[seat.subscription_id] = counts.get(seat.subscription_id, 0) + 1
        return counts

    # the scheduler

    async def try_lead(self) -> bool:
        return not self.s.lock_taken

    async def ending_between(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Subscription]:
        found = [
            s
            for s in self.s.subscriptions.values()
            if s.status is SubscriptionStatus.ACTIVE and start <= s.ends_at < end
        ]
        return sorted(found, key=lambda s: s.ends_at)[:limit]

    async def record_reminder(
        self, subscription_id: uuid.UUID, ends_at: datetime, days_before: int, now: datetime
    ) -> bool:
        key = (subscription_id, ends_at, days_before)
        if key in self.s.reminders:
            return False
        self.s.reminders[key] = None
        return True

    async def unmailed_reminders(self, limit: int) -> list[PendingReminder]:
        pending = []
        for (sub_id, ends_at, days), outcome in self.s.reminders.items():
            if outcome is not None:
                continue
            sub = self.s.subscriptions[sub_id]
            current = sub.status is SubscriptionStatus.ACTIVE and sub.ends_at == ends_at
            overtaken = any(
                k[0] == sub_id and k[1] == ends_at and k[2] < days for k in self.s.reminders
            )
            pending.append(
                PendingReminder(sub_id, sub.account_id, ends_at, days, current, overtaken)
            )
        return pending[:limit]

    async def mark_reminder_mailed(
        self,
        subscription_id: uuid.UUID,
        ends_at: datetime,
        days_before: int,
        outcome: MailOutcome,
        now: datetime,
    ) -> bool:
        assert self.in_transaction
        key = (subscription_id, ends_at, days_before)
        if self.s.reminders.get(key, outcome) is not None:
            return False
        self.s.reminders[key] = outcome
        return True

    async def record_renewal_attempt(
        self, subscription_id: uuid.UUID, ends_at: datetime, order_id: uuid.UUID, now: datetime
    ) -> bool:
        if (subscription_id, ends_at) in self.s.renewal_attempts:
            return False
        self.s.renewal_attempts.add((subscription_id, ends_at))
        return True

    async def queue_mail(
        self, to: str, template: str, language: str, values: dict[str, str]
    ) -> None:
        assert self.in_transaction, "mail is queued with the change it reports"
        self.s.mail.append((to, template, language, values))


class FakeStore:
    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        working = copy.deepcopy(self.state)
        yield FakeTransaction(working, in_transaction=True)
        working.lock_taken = self.state.lock_taken
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


class FakeProvider:
    """The payment provider port: remembers what it was asked; fails when told to."""

    name = "sandbox"

    def __init__(self) -> None:
        self.requests: list[PaymentRequest] = []
        self.refund_requests: list[tuple[str, int, str]] = []
        self.down = False

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        if self.down:
            raise PaymentFailedError("down")
        self.requests.append(request)
        payment_id = f"pay_{request.order_id.hex[:12]}"
        url = None if request.payment_method else f"https://psp.test/pay/{payment_id}"
        return CreatedPayment(payment_id, url)

    async def refund(self, payment_id: str, amount_minor: int, *, key: str) -> ProviderRefund:
        if self.down:
            raise PaymentFailedError("down")
        self.refund_requests.append((payment_id, amount_minor, key))
        # Idempotent per key, like a real provider.
        return ProviderRefund(f"re_{key[-12:]}", amount_minor)


class FakeAccounts:
    """Identity's ``GetAccount`` as the reminders see it: a directory; unreachable when told."""

    def __init__(self) -> None:
        self.known: dict[uuid.UUID, Contact] = {}
        self.down = False
        self.asked: list[uuid.UUID] = []

    async def contacts(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Contact | None]:
        self.asked.extend(account_ids)
        await asyncio.sleep(0)  # a network call: other tasks run meanwhile
        if self.down:
            raise AccountsUnavailableError("UNAVAILABLE")
        return {a: self.known.get(a) for a in account_ids}


@pytest.fixture
def accounts() -> FakeAccounts:
    return FakeAccounts()


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


GRACE = timedelta(days=7)


@pytest.fixture
def orders(
    services: SubscriptionServices, store: FakeStore, clock: FakeClock, provider: FakeProvider
) -> OrderServices:
    return OrderServices(store, clock, provider, "https://kabinet.test/api/v1/orders", GRACE)
