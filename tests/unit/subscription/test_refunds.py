"""Refunds on fakes of the ports: through the provider first, once per order, then the
subscription stops; a code-activated one changes its status only; the provider's notification
confirms a refund or applies one made at the provider."""

import uuid
from datetime import timedelta

import pytest

from kabinet.errors import DomainError
from subscription.domain.events import SubscriptionCancelled
from subscription.domain.model import OrderStatus, SubscriptionStatus
from subscription.domain.refunds import RefundServices, refund_key
from subscription.domain.seats import SeatServices

GRACE = timedelta(days=7)


@pytest.fixture
def refunds(store, clock, provider) -> RefundServices:
    return RefundServices(store, clock, provider, GRACE)


async def _bought(orders, store, language: str = "en"):
    account = uuid.uuid4()
    order = await orders.create_order(
        f"key-{uuid.uuid4().hex}", "plus", 12, 3, "payer@example.com", "RU", language, str(account)
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
    return account, store.state.orders[order.id], sub


async def test_a_refund_goes_through_the_provider_and_stops_the_subscription(
    orders, store, clock, provider, refunds
) -> None:
    account, order, sub = await _bought(orders, store, language="ru")
    await SeatServices(store, clock, GRACE).protect(str(account), str(sub.id), "pc-1", "PC")
    store.state.mail.clear()

    done = await refunds.refund(str(sub.id))

    assert provider.refund_requests == [
        (order.payment_id, order.amount_minor, refund_key(order.id))
    ]
    assert not done.status_only
    [refund] = done.refunds
    assert (refund.order_id, refund.amount_minor) == (order.id, order.amount_minor)
    assert done.subscription.status is SubscriptionStatus.REFUNDED
    assert store.state.orders[order.id].status is OrderStatus.REFUNDED
    assert store.state.seats == {}
    assert store.state.entitlements[account] == []
    event = store.events[-1]
    assert isinstance(event, SubscriptionCancelled)
    assert event.refunded
    assert event.refunds == (refund,)
    [(to, template, language, values)] = store.state.mail
    assert (to, template, language) == ("payer@example.com", "refund_receipt", "ru")
    assert values["orders"] == str(order.id)
    assert values["amount"].endswith(order.currency)
    assert values["refunds"] == refund.refund_id

    # Again: nothing more is asked of the provider, mailed or published.
    events = len(store.events)
    again = await refunds.refund(str(sub.id))
    assert again.refunds == done.refunds
    assert len(provider.refund_requests) == 1
    assert len(store.state.mail) == 1
    assert len(store.events) == events


async def test_the_provider_down_changes_nothing_and_the_same_call_completes_it(
    orders, store, provider, refunds
) -> None:
    _, order, sub = await _bought(orders, store)
    provider.down = True
    with pytest.raises(DomainError) as failed:
        await refunds.refund(str(sub.id))
    assert failed.value.code == "payment.unavailable"
    assert store.state.subscriptions[sub.id].status is SubscriptionStatus.ACTIVE
    assert store.state.orders[order.id].status is OrderStatus.COMPLETED
    assert store.state.refunds == {}
    provider.down = False
    done = await refunds.refund(str(sub.id))
    assert done.subscription.status is SubscriptionStatus.REFUNDED


async def test_a_code_activated_subscription_changes_its_status_only(
    services, store, provider, refunds
) -> None:
    account = uuid.uuid4()
    [code] = (await services.issue_codes("plus", 3, 12, 1)).codes
    sub = (await services.redeem(str(account), code)).subscription
    store.state.mail.clear()
    done = await refunds.refund(str(sub.id))
    assert done.status_only
    assert done.refunds == ()
    assert done.subscription.status is SubscriptionStatus.REFUNDED
    assert provider.refund_requests == []
    assert store.state.mail == []
    event = store.events[-1]
    assert isinstance(event, SubscriptionCancelled)
    assert event.refunded
    assert event.refunds == ()


async def test_an_unknown_subscription_is_not_found(refunds) -> None:
    for wanted in (str(uuid.uuid4()), "nope"):
        with pytest.raises(DomainError) as missing:
            await refunds.refund(wanted)
        assert missing.value.code == "subscription.not_found"


async def test_the_providers_notification_confirms_a_refund_once(orders, store, refunds) -> None:
    _, order, sub = await _bought(orders, store)
    [refund] = (await refunds.refund(str(sub.id))).refunds
    mails = len(store.state.mail)
    confirmed = await refunds.confirm_refund(
        "sandbox",
        "evt-refund-1",
        order.payment_id,
        str(order.id),
        refund.refund_id,
        order.amount_minor,
        order.currency,
    )
    assert confirmed.status is OrderStatus.REFUNDED
    assert store.state.refunds[order.id].confirmed_at is not None
    assert len(store.state.mail) == mails  # the receipt went out with the refund
    with pytest.raises(DomainError) as replayed:
        await refunds.confirm_refund(
            "sandbox",
            "evt-refund-1",
            order.payment_id,
            str(order.id),
            refund.refund_id,
            order.amount_minor,
            order.currency,
        )
    assert replayed.value.code == "payment.event_replayed"


async def test_a_refund_made_at_the_provider_stops_the_subscription(orders, store, refunds) -> None:
    account, order, sub = await _bought(orders, store)
    store.state.mail.clear()
    await refunds.confirm_refund(
        "sandbox",
        "evt-dashboard",
        order.payment_id,
        str(order.id),
        "re_dashboard",
        order.amount_minor,
        order.currency,
    )
    assert store.state.subscriptions[sub.id].status is SubscriptionStatus.REFUNDED
    assert store.state.orders[order.id].status is OrderStatus.REFUNDED
    assert store.state.refunds[order.id].refund_id == "re_dashboard"
    assert [m[1] for m in store.state.mail] == ["refund_receipt"]
    assert store.state.entitlements[account] == []


async def test_a_notification_that_does_not_match_the_order_is_refused(
    orders, store, refunds
) -> None:
    _, order, sub = await _bought(orders, store)
    for payment_id, amount, currency in (
        ("pay_other", order.amount_minor, order.currency),
        (order.payment_id, order.amount_minor + 1, order.currency),
        (order.payment_id, order.amount_minor, "USD"),
    ):
        with pytest.raises(DomainError) as refused:
            await refunds.confirm_refund(
                "sandbox",
                f"evt-{uuid.uuid4().hex}",
                payment_id,
                str(order.id),
                "re_x",
                amount,
                currency,
            )
        assert refused.value.code == "payment.mismatch"
    assert store.state.subscriptions[sub.id].status is SubscriptionStatus.ACTIVE
