"""Orders and payments on fakes of the ports: the price from the catalog, idempotency keys, the
provider's notifications applied once, a declined payment changing nothing else, and the buyer's
account attached once whichever report of it comes first."""

import dataclasses
import uuid
from datetime import timedelta

import pytest

from kabinet.errors import DomainError, ErrorKind
from subscription.domain.events import (
    EntitlementsChanged,
    OrderCompleted,
    SubscriptionPurchased,
    SubscriptionRenewed,
)
from subscription.domain.model import OrderStatus
from subscription.domain.orders import OrderServices

KEY = "order-key-0001"


async def _order(orders: OrderServices, key: str = KEY, **changes: object):
    fields: dict[str, object] = {
        "key": key,
        "plan_id": "plus",
        "term_months": 12,
        "devices": 3,
        "buyer_email": "buyer@example.com",
        "region": "RU",
        "language": "ru",
    }
    fields.update(changes)
    return await orders.create_order(**fields)


async def _approve(orders, order, event_id: str = "evt_1", approved: bool = True):
    return await orders.confirm_payment(
        "sandbox",
        event_id,
        order.payment_id,
        str(order.id),
        approved,
        order.amount_minor,
        order.currency,
        "pm_saved" if approved else "",
    )


async def test_the_price_comes_from_the_catalog_and_the_payment_page_from_the_provider(
    orders, services, provider
) -> None:
    order = await _order(orders)
    plus = await services.get_plan("plus", "RU")
    [price] = plus.option(3, 12).prices
    assert (order.amount_minor, order.currency) == (price.amount_minor, "RUB")
    assert order.status is OrderStatus.PENDING
    assert order.payment_url == f"https://psp.test/pay/{order.payment_id}"
    assert provider.requests[0].amount_minor == price.amount_minor


async def test_the_same_key_twice_is_one_order_and_another_body_is_refused(
    orders, store, provider
) -> None:
    first = await _order(orders)
    again = await _order(orders)
    assert again.id == first.id
    assert len(store.state.orders) == 1
    with pytest.raises(DomainError) as refused:
        await _order(orders, devices=5)
    assert refused.value.code == "order.idempotency_key_reused"
    assert len(store.state.orders) == 1


async def test_a_provider_down_keeps_the_order_and_the_same_key_pays_it_later(
    orders, store, provider
) -> None:
    provider.down = True
    with pytest.raises(DomainError) as down:
        await _order(orders)
    assert down.value.code == "payment.unavailable"
    provider.down = False
    order = await _order(orders)
    assert order.payment_url
    assert len(store.state.orders) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"key": "short"}, "order.idempotency_key_invalid"),
        ({"buyer_email": "not an email"}, "order.email_invalid"),
        ({"plan_id": "gold"}, "plan.not_found"),
        ({"devices": 7}, "plan.option_not_found"),
        ({"region": "ZZ"}, "order.not_sold_in_region"),
    ],
)
async def test_bad_orders_are_refused_with_a_code_and_store_nothing(
    orders, store, changes, code
) -> None:
    with pytest.raises(DomainError) as refused:
        await _order(orders, **changes)
    assert refused.value.code == code
    assert store.state.orders == {}


async def test_approved_without_an_account_says_order_completed_and_attaches_once(
    orders, store
) -> None:
    order = await _order(orders)
    paid = await _approve(orders, order)
    assert paid.status is OrderStatus.PAID
    assert [type(e) for e in store.events] == [OrderCompleted]
    assert store.state.subscriptions == {}

    account = uuid.uuid4()
    async with store.transaction() as tx:
        done = await orders.attach(tx, str(order.id), str(account))
    assert done.status is OrderStatus.COMPLETED
    [sub] = store.state.subscriptions.values()
    assert (sub.account_id, sub.plan_id, sub.devices) == (account, "plus", 3)
    assert sub.payment_method == "pm_saved"
    assert [type(e) for e in store.events[1:]] == [EntitlementsChanged, SubscriptionPurchased]
    [(to, template, language, values)] = store.state.mail
    assert (to, template, language) == ("buyer@example.com", "receipt", "ru")
    [code] = store.state.codes.values()
    assert values["code"].startswith(code.prefix)
    assert code.redeemed_by == account

    # The other report of the same order (or a redelivery): nothing more.
    async with store.transaction() as tx:
        await orders.attach(tx, str(order.id), str(account))
    assert len(store.state.subscriptions) == 1
    assert len(store.state.mail) == 1


async def test_a_replayed_notification_is_refused(orders, store) -> None:
    order = await _order(orders)
    await _approve(orders, order)
    with pytest.raises(DomainError) as replay:
        await _approve(orders, order)
    assert replay.value.code == "payment.event_replayed"
    assert [type(e) for e in store.events] == [OrderCompleted]


async def test_a_notification_that_does_not_match_the_order_is_refused(orders, store) -> None:
    order = await _order(orders)
    with pytest.raises(DomainError) as wrong:
        await orders.confirm_payment(
            "sandbox", "evt_x", order.payment_id, str(order.id), True, 1, "RUB", ""
        )
    assert wrong.value.code == "payment.mismatch"
    assert store.state.orders[order.id].status is OrderStatus.PENDING
    # The refused notice was not recorded: the genuine one with the same id still applies.
    assert (await _approve(orders, order, "evt_x")).status is OrderStatus.PAID


async def test_a_declined_payment_leaves_no_subscription_and_asks_for_no_account(
    orders, store
) -> None:
    order = await _order(orders)
    declined = await _approve(orders, order, approved=False)
    assert declined.status is OrderStatus.DECLINED
    assert store.events == []
    assert store.state.subscriptions == {}
    # An approval arriving after the decline changes nothing.
    assert (await _approve(orders, order, "evt_2")).status is OrderStatus.DECLINED


async def test_a_signed_in_buyer_gets_the_subscription_at_once(orders, store) -> None:
    account = uuid.uuid4()
    order = await _order(orders, account_id=str(account))
    done = await _approve(orders, order)
    assert done.status is OrderStatus.COMPLETED
    [sub] = store.state.subscriptions.values()
    assert sub.account_id == account
    assert not any(isinstance(e, OrderCompleted) for e in store.events)


async def test_a_renewal_purchase_extends_from_the_end_or_from_now_when_expired(
    orders, store, clock
) -> None:
    account = uuid.uuid4()
    order = await _order(orders, account_id=str(account))
    await _approve(orders, order)
    [sub] = store.state.subscriptions.values()
    clock.advance(days=100)
    renewal = await orders.renew(
        "renew-key-0001", str(account), str(sub.id), 12, "RU", "en", "buyer@example.com"
    )
    await _approve(orders, renewal, "evt_r1")
    renewed = store.state.subscriptions[sub.id]
    assert renewed.ends_at.year == sub.ends_at.year + 1
    assert renewed.ends_at.month == sub.ends_at.month
    assert any(isinstance(e, SubscriptionRenewed) for e in store.events)

    clock.advance(days=800)  # both years over: a renewal starts from today
    late = await orders.renew(
        "renew-key-0002", str(account), str(sub.id), 12, "RU", "en", "buyer@example.com"
    )
    await _approve(orders, late, "evt_r2")
    assert (
        store.state.subscriptions[sub.id].ends_at.date()
        == clock.now.replace(year=clock.now.year + 1).date()
    )


async def test_someone_else_cannot_renew_a_subscription(orders, store) -> None:
    owner = uuid.uuid4()
    await _approve(orders, await _order(orders, account_id=str(owner)))
    [sub] = store.state.subscriptions.values()
    with pytest.raises(DomainError) as refused:
        await orders.renew(
            "renew-key-0003", str(uuid.uuid4()), str(sub.id), 12, "RU", "en", "x@example.com"
        )
    assert refused.value.code == "subscription.not_found"


async def test_a_renewal_paid_in_the_grace_period_continues_from_the_end(
    orders, store, clock
) -> None:
    account = uuid.uuid4()
    await _approve(orders, await _order(orders, account_id=str(account)))
    [sub] = store.state.subscriptions.values()
    clock.now = sub.ends_at + timedelta(days=3)  # past the end, inside the 7-day grace
    renewal = await orders.renew(
        "renew-key-0004", str(account), str(sub.id), 12, "RU", "en", "buyer@example.com"
    )
    await _approve(orders, renewal, "evt_g1")
    assert store.state.subscriptions[sub.id].ends_at == sub.ends_at.replace(
        year=sub.ends_at.year + 1
    )


async def test_a_notification_before_its_payment_is_recorded_is_refused_for_a_retry(
    orders, store
) -> None:
    order = await _order(orders)
    # The provider decided (a saved card) before ``pay`` stored the payment's id.
    store.state.orders[order.id] = dataclasses.replace(order, payment_id=None)
    with pytest.raises(DomainError) as early:
        await _approve(orders, order, "evt_early")
    assert early.value.code == "payment.not_recorded_yet"
    assert early.value.kind is ErrorKind.UNAVAILABLE  # the provider delivers it again
    assert store.state.orders[order.id].status is OrderStatus.PENDING
    store.state.orders[order.id] = order  # now recorded
    done = await _approve(orders, order, "evt_early")  # the same notification, delivered again
    assert done.status is not OrderStatus.PENDING
