"""Device seats, automatic renewal, cancel and the scheduler on fakes of the ports."""

import asyncio
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
from subscription.domain.refunds import RefundServices
from subscription.domain.reminders import Contact, MailOutcome
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
def scheduler(store, clock, orders, accounts) -> Scheduler:
    return Scheduler(store, clock, orders, accounts, grace=GRACE, renew_ahead=timedelta(days=3))


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
    orders, store, clock, scheduler, accounts
) -> None:
    account, sub = await _bought(orders, store, term=12)
    accounts.known[account] = Contact("owner@example.com", "ru")
    store.state.mail.clear()
    assert (await scheduler.run_once()).reminders == 0
    for left in (31, 29, 20, 6.5, 5, 0.5, 0.2):
        clock.now = sub.ends_at - timedelta(days=left)
        await scheduler.run_once()
        await scheduler.run_once()  # a second pass right after: nothing again
    days = [e.days_left for e in store.events if isinstance(e, SubscriptionExpiring)]
    assert days == [30, 7, 1]
    assert [m[1] for m in store.state.mail] == ["reminder"] * 3
    assert {(m[0], m[2]) for m in store.state.mail} == {("owner@example.com", "ru")}
    assert [m[3]["days"] for m in store.state.mail] == ["30", "7", "1"]
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


async def test_cancel_stops_the_entitlements_and_refuses_auto_renewal(
    orders, store, clock, provider
) -> None:
    account, sub = await _bought(orders, store)
    life = LifecycleServices(store, clock, GRACE)
    cancelled = await life.cancel(str(account), str(sub.id))
    assert cancelled.status is SubscriptionStatus.CANCELLED
    assert store.state.entitlements[account] == []
    assert isinstance(store.events[-1], SubscriptionCancelled)
    with pytest.raises(DomainError) as refused:
        await life.set_auto_renew(str(account), str(sub.id), True)
    assert refused.value.code == "subscription.not_active"
    refunded = await RefundServices(store, clock, provider, GRACE).refund(str(sub.id))
    assert refunded.subscription.status is SubscriptionStatus.REFUNDED
    assert store.events[-1].refunded


async def test_a_code_activated_subscription_gets_its_reminders_in_the_owners_language(
    services, store, clock, scheduler, accounts
) -> None:
    account = uuid.uuid4()
    [code] = (await services.issue_codes("plus", 3, 12, 1)).codes
    sub = (await services.redeem(str(account), code)).subscription
    assert sub.order_id is None
    accounts.known[account] = Contact("coded@example.com", "ru")
    clock.now = sub.ends_at - timedelta(days=6)
    result = await scheduler.run_once()
    assert (result.reminders, result.mailed) == (1, 1)
    [(to, template, language, values)] = store.state.mail
    assert (to, template, language) == ("coded@example.com", "reminder", "ru")
    assert values == {"days": "7", "ends": sub.ends_at.date().isoformat()}
    assert (await scheduler.run_once()).mailed == 0
    assert len(store.state.mail) == 1


async def test_identity_down_keeps_the_reminder_for_the_next_pass(
    services, store, clock, scheduler, accounts
) -> None:
    account = uuid.uuid4()
    [code] = (await services.issue_codes("plus", 3, 12, 1)).codes
    sub = (await services.redeem(str(account), code)).subscription
    accounts.known[account] = Contact("later@example.com", "en")
    accounts.down = True
    clock.now = sub.ends_at - timedelta(days=20)
    assert (await scheduler.run_once()).mailed == 0
    assert store.state.mail == []
    assert list(store.state.reminders.values()) == [None]  # noted, the mail still to go
    assert any(isinstance(e, SubscriptionExpiring) for e in store.events)
    accounts.down = False
    clock.now += timedelta(minutes=1)
    assert (await scheduler.run_once()).mailed == 1
    assert [m[0] for m in store.state.mail] == ["later@example.com"]
    assert list(store.state.reminders.values()) == [MailOutcome.SENT]


async def test_a_reminder_overtaken_or_without_an_account_is_closed_without_mail(
    services, store, clock, scheduler, accounts
) -> None:
    gone, kept = uuid.uuid4(), uuid.uuid4()
    subs = []
    for account in (gone, kept):
        [code] = (await services.issue_codes("plus", 3, 12, 1)).codes
        subs.append((await services.redeem(str(account), code)).subscription)
    accounts.known[kept] = Contact("kept@example.com", "en")
    accounts.down = True
    clock.now = subs[1].ends_at - timedelta(days=20)
    await scheduler.run_once()  # the 30-day reminders are noted, identity does not answer
    accounts.down = False
    clock.now = subs[1].ends_at - timedelta(days=5)  # by now the 7-day one is due instead
    result = await scheduler.run_once()
    assert result.mailed == 1
    assert [(m[0], m[3]["days"]) for m in store.state.mail] == [("kept@example.com", "7")]
    outcomes = {(k[0], k[2]): v for k, v in store.state.reminders.items()}
    assert outcomes[(subs[1].id, 30)] is MailOutcome.STALE
    assert outcomes[(subs[1].id, 7)] is MailOutcome.SENT
    assert outcomes[(subs[0].id, 7)] is MailOutcome.NO_ACCOUNT


async def test_two_replicas_resolving_the_same_reminder_queue_one_mail(
    services, store, clock, orders, accounts
) -> None:
    account = uuid.uuid4()
    [code] = (await services.issue_codes("plus", 3, 12, 1)).codes
    sub = (await services.redeem(str(account), code)).subscription
    accounts.known[account] = Contact("once@example.com", "en")
    one, two = (
        Scheduler(store, clock, orders, accounts, grace=GRACE, renew_ahead=timedelta(days=3))
        for _ in range(2)
    )
    clock.now = sub.ends_at - timedelta(hours=12)
    accounts.down = True
    await one.run_once()  # noted; the mail waits for identity
    accounts.down = False
    # Both replicas read the reminder as unmailed and ask identity before either marks it.
    mailed = await asyncio.gather(one.mail_reminders(clock.now), two.mail_reminders(clock.now))
    assert sorted(mailed) == [0, 1]
    assert [m[0] for m in store.state.mail] == ["once@example.com"]
    assert accounts.asked.count(account) == 3  # the failed ask, then one per replica


async def test_a_reminder_of_a_renewed_or_ended_subscription_is_closed_without_mail(
    services, store, clock, scheduler, accounts
) -> None:
    account = uuid.uuid4()
    accounts.known[account] = Contact("renewed@example.com", "en")
    codes = (await services.issue_codes("plus", 3, 12, 2)).codes
    sub = (await services.redeem(str(account), codes[0])).subscription
    accounts.down = True
    clock.now = sub.ends_at - timedelta(days=6)
    await scheduler.run_once()  # the 7-day reminder waits for identity
    await services.redeem(str(account), codes[1])  # renewed meanwhile: the end moved
    accounts.down = False
    assert (await scheduler.run_once()).mailed == 0
    assert store.state.mail == []
    assert list(store.state.reminders.values()) == [MailOutcome.STALE]
    assert accounts.asked == [account]  # only the failed ask: a stale one needs no owner
