"""Device seats, automatic renewal, cancel and the scheduler on fakes of the ports."""

import uuid
from datetime import timedelta

import pytest

from kabinet.errors import DomainError
from subscription.domain.events import (
    SubscriptionCancelled,
    SubscriptionExpired,
    SubscriptionExpiring,
)
from subscription.domain.lifecycle import LifecycleServices
from subscription.domain.model import OrderKind, OrderStatus, SubscriptionStatus
from subscription.domain.scheduler import Scheduler
from subscription.domain.seats import SeatServices

GRACE = timedelta(days=7)  # as the conftest wires the order use cases


async def _bought(orders, store, devices: int = 3, term: int = 12):
    account = uuid.uuid4()
    order = await orders.create_order(
        f"key-{uuid.uuid4().hex}",
        "plus",
        term,
        devices,
        "b@example.com",
        "RU",
        "en",
        str(account),
    )
    await orders.confirm_payment(
        "sandbox",
        f"evt-{uuid.uuid4().hex}",
        order.payment_id,
        str(order.id),
        True,
        order.amount_minor,
        order.currency,
        "pm_saved",
    )
    sub = next(s for s in store.state.subscriptions.values() if s.account_id == account)
    return account, sub


@pytest.fixture
def seats(store, clock) -> SeatServices:
    return SeatServices(store, clock, GRACE)


@pytest.fixture
def scheduler(store, clock, orders) -> Scheduler:
    return Scheduler(store, clock, orders, grace=GRACE, renew_ahead=timedelta(days=3))


async def test_the_seat_limit_holds_and_names_the_limit(orders, store, seats) -> None:
    account, sub = await _bought(orders, store, devices=3)
    for n in range(3):
        done = await seats.protect(str(account), str(sub.id), f"device-{n}", f"PC {n}")
        assert done.in_use == n + 1
    again = await seats.protect(str(account), str(sub.id), "device-0", "PC 0")
    assert again.in_use == 3  # the same device again: its seat, no new one
    with pytest.raises(DomainError) as full:
        await seats.protect(str(account), str(sub.id), "device-3", "PC 3")
    assert full.value.code == "seats.limit_reached"
    assert full.value.params == {"limit": "3"}
    assert await seats.unprotect(str(account), "device-1")
    assert (await seats.protect(str(account), "", "device-3", "PC 3")).in_use == 3
    assert len(await seats.devices(str(account), str(sub.id))) == 3


async def test_someone_else_cannot_use_or_see_the_seats(orders, store, seats) -> None:
    _, sub = await _bought(orders, store)
    stranger = str(uuid.uuid4())
    for call in (
        seats.protect(stranger, str(sub.id), "device-x", ""),
        seats.devices(stranger, str(sub.id)),
    ):
        with pytest.raises(DomainError) as refused:
            await call
        assert refused.value.code == "subscription.not_found"


async def test_a_bad_device_id_is_refused(orders, store, seats) -> None:
    account, sub = await _bought(orders, store)
    with pytest.raises(DomainError) as bad:
        await seats.protect(str(account), str(sub.id), "has space", "")
    assert bad.value.code == "device.id_invalid"


async def test_reminders_go_out_once_each_then_the_subscription_expires_after_the_grace(
    orders, store, clock, scheduler
) -> None:
    _, sub = await _bought(orders, store, term=12)
    store.state.mail.clear()
    assert (await scheduler.run_once()).reminders == 0
    for left in (31, 29, 20, 6.5, 5, 0.5, 0.2):
        clock.now = sub.ends_at - timedelta(days=left)
        await scheduler.run_once()
        await scheduler.run_once()  # a second pass right after: nothing again
    days = [e.days_left for e in store.events if isinstance(e, SubscriptionExpiring)]
    assert days == [30, 7, 1]
    assert [m[1] for m in store.state.mail] == ["reminder"] * 3
    clock.now = sub.ends_at + timedelta(days=1)
    assert (await scheduler.run_once()).expired == 0  # in grace: still working
    assert store.state.entitlements[sub.account_id]
    clock.now = sub.ends_at + GRACE + timedelta(seconds=1)
    assert (await scheduler.run_once()).expired == 1
    assert store.state.subscriptions[sub.id].status is SubscriptionStatus.EXPIRED
    assert store.state.entitlements[sub.account_id] == []
    assert sum(isinstance(e, SubscriptionExpired) for e in store.events) == 1
    assert (await scheduler.run_once()).expired == 0


async def test_a_replica_without_the_lock_does_nothing(orders, store, clock, scheduler) -> None:
    _, sub = await _bought(orders, store)
    clock.now = sub.ends_at - timedelta(days=2)
    store.state.lock_taken = True
    assert not (await scheduler.run_once()).led
    assert not any(isinstance(e, SubscriptionExpiring) for e in store.events)


async def test_auto_renewal_charges_the_saved_method_once_per_end(
    orders, store, clock, scheduler, provider
) -> None:
    account, sub = await _bought(orders, store)
    life = LifecycleServices(store, clock, GRACE)
    await life.set_auto_renew(str(account), str(sub.id), True)
    clock.now = sub.ends_at - timedelta(days=2)
    assert (await scheduler.run_once()).renewals == 1
    assert (await scheduler.run_once()).renewals == 0
    [auto] = [o for o in store.state.orders.values() if o.kind is OrderKind.AUTO_RENEWAL]
    assert provider.requests[-1].payment_method == "pm_saved"
    assert auto.status is OrderStatus.PENDING
    assert auto.payment_id is not None
    await orders.confirm_payment(
        "sandbox",
        "evt-auto",
        auto.payment_id,
        str(auto.id),
        True,
        auto.amount_minor,
        auto.currency,
        "pm_saved",
    )
    assert store.state.subscriptions[sub.id].ends_at.year == sub.ends_at.year + 1


async def test_cancel_stops_the_entitlements_and_refuses_auto_renewal(orders, store, clock) -> None:
    account, sub = await _bought(orders, store)
    life = LifecycleServices(store, clock, GRACE)
    cancelled = await life.cancel(str(account), str(sub.id))
    assert cancelled.status is SubscriptionStatus.CANCELLED
    assert store.state.entitlements[account] == []
    assert isinstance(store.events[-1], SubscriptionCancelled)
    with pytest.raises(DomainError) as refused:
        await life.set_auto_renew(str(account), str(sub.id), True)
    assert refused.value.code == "subscription.not_active"
    refunded = await life.refund(str(sub.id))
    assert refunded.status is SubscriptionStatus.REFUNDED
    assert store.events[-1].refunded
