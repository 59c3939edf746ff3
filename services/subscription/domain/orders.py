"""Orders and payments: buy a plan option, renew by paying, apply the provider's notifications.

An order is stored (pending) before the payment is created at the provider, and found again by
its idempotency key: the same key with the same order answers that order (creating the payment
again, idempotently at the provider, when the first attempt did not get that far); the same key
with another order is refused. The price comes from the catalog, never from the caller.

The provider's notification (signature checked by the gateway) is applied once: its event id is
recorded in the transaction that applies it, so a replay is refused. An approved purchase whose
buyer has no known account becomes ``paid`` and says ``subscription.order.completed``; identity
finds or creates the account and reports it, and ``attach`` then creates the subscription, its
activation code and the receipt. A declined payment changes nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta

from kabinet.mail.message import check_address
from subscription.domain import codes, errors
from subscription.domain.dates import add_months, renewed_end
from subscription.domain.entitlements import derive
from subscription.domain.events import (
    EntitlementsChanged,
    OrderCompleted,
    SubscriptionPurchased,
    SubscriptionRenewed,
)
from subscription.domain.model import (
    IssuedCode,
    Order,
    OrderKind,
    OrderStatus,
    Plan,
    Subscription,
    SubscriptionStatus,
)
from subscription.domain.payments import PaymentFailedError, PaymentProvider, PaymentRequest
from subscription.domain.ports import Clock, Store, Transaction

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,128}$")
_REGION = re.compile(r"^[A-Z]{2}$")
LANGUAGES = ("en", "ru")


def parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def pick_language(language: str) -> str:
    tag = language.strip().lower()[:2]
    return tag if tag in LANGUAGES else "en"


def request_hash(**fields: object) -> bytes:
    """What was asked with an idempotency key, as a digest to compare later requests with."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).digest()


def format_amount(amount_minor: int, currency: str) -> str:
    return f"{amount_minor // 100}.{amount_minor % 100:02d} {currency}"


async def refresh_entitlements(
    tx: Transaction, account: uuid.UUID, now: datetime, grace: timedelta = timedelta(0)
) -> None:
    """Rewrite the account's read model from its subscriptions and say so."""
    entitlements = derive(await tx.subscriptions_of(account), now, grace)
    await tx.replace_entitlements(account, entitlements)
    await tx.publish(EntitlementsChanged(account, entitlements, now))


async def notified_order(
    tx: Transaction, provider: str, event_id: str, order_id: uuid.UUID, now: datetime
) -> Order:
    """The order a provider's notification is about, locked, with the notification recorded
    (a replay is refused)."""
    order = await tx.order(order_id, for_update=True)
    if order is None:
        raise errors.order_not_found()
    if not await tx.record_payment_event(provider, event_id, order.id, now):
        raise errors.payment_event_replayed()
    return order


class OrderServices:
    """Purchases and renewal purchases on one store, clock and payment provider."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        provider: PaymentProvider,
        return_url: str,
        grace: timedelta = timedelta(0),
    ) -> None:
        self.store = store
        self._clock = clock
        self._provider = provider
        self._return_url = return_url
        self._grace = grace

    # creating orders

    async def create_order(
        self,
        key: str,
        plan_id: str,
        term_months: int,
        devices: int,
        buyer_email: str,
        region: str,
        language: str,
        account_id: str = "",
    ) -> Order:
        """A purchase order with its payment page; see the module's note."""
        if not _KEY.match(key):
            raise errors.order_key_invalid()
        email = buyer_email.strip()
        try:
            check_address(email)
        except ValueError:
            raise errors.order_email_invalid() from None
        account = None
        if account_id:
            account = parse_uuid(account_id)
            if account is None:
                raise errors.account_id_invalid()
        region = region.strip().upper()
        digest = request_hash(
            kind="purchase",
            plan=plan_id.strip().lower(),
            term=term_months,
            devices=devices,
            email=email.lower(),
            region=region,
            language=pick_language(language),
            account=str(account or ""),
        )
        async with self.store.connection() as db:
            existing = await db.order_by_key(key)
            if existing is None:
                plan = await db.plan(plan_id.strip().lower())
        if existing is not None:
            return await self._again(existing, digest)
        if plan is None or not plan.on_sale:
            raise errors.plan_not_found(plan_id)
        order = self._priced_order(
            OrderKind.PURCHASE,
            key,
            digest,
            plan,
            devices,
            term_months,
            email,
            region,
            language,
            account_id=account,
        )
        return await self._store_and_pay(order)

    async def renew(
        self,
        key: str,
        account_id: str,
        subscription_id: str,
        term_months: int,
        region: str,
        language: str,
        buyer_email: str,
    ) -> Order:
        """A renewal purchase of one of the account's subscriptions (same plan and devices)."""
        if not _KEY.match(key):
            raise errors.order_key_invalid()
        account = parse_uuid(account_id)
        if account is None:
            raise errors.account_id_invalid()
        target = parse_uuid(subscription_id)
        try:
            check_address(buyer_email)
        except ValueError:
            raise errors.order_email_invalid() from None
        region = region.strip().upper()
        digest = request_hash(
            kind="renewal",
            account=str(account),
            sub=subscription_id,
            term=term_months,
            region=region,
        )
        async with self.store.connection() as db:
            existing = await db.order_by_key(key)
            subscription = None if target is None else await db.subscription(target)
            plan = None if subscription is None else await db.plan(subscription.plan_id)
        if existing is not None:
            return await self._again(existing, digest)
        if subscription is None or subscription.account_id != account or plan is None:
            raise errors.subscription_not_found()
        if subscription.status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.REFUNDED):
            raise errors.subscription_not_active()
        order = self._priced_order(
            OrderKind.RENEWAL,
            key,
            digest,
            plan,
            subscription.devices,
            term_months,
            buyer_email,
            region,
            language,
            account_id=account,
            subscription_id=subscription.id,
        )
        return await self._store_and_pay(order)

    def _priced_order(
        self,
        kind: OrderKind,
        key: str,
        digest: bytes,
        plan: Plan,
        devices: int,
        term_months: int,
        email: str,
        region: str,
        language: str,
        *,
        account_id: uuid.UUID | None,
        subscription_id: uuid.UUID | None = None,
    ) -> Order:
        """A pending order at the catalog's price of the plan option in ``region``."""
        option = plan.option(devices, term_months)
        if option is None:
            raise errors.plan_option_not_found(devices, term_months)
        price = next((p for p in option.prices if p.region == region), None)
        if price is None or not _REGION.match(region):
            raise errors.order_not_sold_in_region(region)
        return Order(
            id=uuid.uuid4(),
            idempotency_key=key,
            request_hash=digest,
            kind=kind,
            plan_id=plan.id,
            devices=devices,
            term_months=term_months,
            buyer_email=email,
            region=region,
            language=pick_language(language),
            currency=price.currency,
            amount_minor=price.amount_minor,
            status=OrderStatus.PENDING,
            created_at=self._clock(),
            account_id=account_id,
            subscription_id=subscription_id,
        )

    async def _again(self, existing: Order, digest: bytes) -> Order:
        if existing.request_hash != digest:
            raise errors.order_key_reused()
        if existing.status is OrderStatus.PENDING and existing.payment_id is None:
            return await self.pay(existing)
        return existing

    async def _store_and_pay(self, order: Order) -> Order:
        existing: Order | None = None
        async with self.store.transaction() as tx:
            if not await tx.insert_order(order):  # the same key at once: answer as for a retry
                existing = await tx.order_by_key(order.idempotency_key)
                assert existing is not None
        if existing is not None:
            return await self._again(existing, order.request_hash)
        return await self.pay(order)

    async def pay(self, order: Order) -> Order:
        """Create the order's payment at the provider (idempotent there per order)."""
        try:
            created = await self._provider.create_payment(
                PaymentRequest(
                    order_id=order.id,
                    amount_minor=order.amount_minor,
                    currency=order.currency,
                    description=f"Kabinet {order.plan_id}, {order.devices} devices, "
                    f"{order.term_months} months",
                    buyer_email=order.buyer_email,
                    language=order.language,
                    return_url=f"{self._return_url}/{order.id}",
                    payment_method=order.payment_method,
                )
            )
        except PaymentFailedError:
            raise errors.payment_unavailable() from None
        paid = dataclasses.replace(
            order, payment_id=created.payment_id, payment_url=created.payment_url
        )
        async with self.store.transaction() as tx:
            await tx.update_order(paid, self._clock())
        return paid

    async def get_order(self, order_id: str) -> Order:
        found = parse_uuid(order_id)
        if found is None:
            raise errors.order_not_found()
        async with self.store.connection() as db:
            order = await db.order(found)
        if order is None:
            raise errors.order_not_found()
        return order

    # the provider's notifications

    async def confirm_payment(
        self,
        provider: str,
        event_id: str,
        payment_id: str,
        order_id: str,
        approved: bool,
        amount_minor: int,
        currency: str,
        payment_method: str,
    ) -> Order:
        """Apply a verified notification once; see the module's note."""
        found = parse_uuid(order_id)
        if found is None or not event_id or not payment_id:
            raise errors.payment_mismatch()
        now = self._clock()
        async with self.store.transaction() as tx:
            order = await notified_order(tx, provider, event_id, found, now)
            if order.payment_id is None and order.status is OrderStatus.PENDING:
                # A charge without the buyer (a saved card) can be decided, and notified, before
                # ``pay`` has stored the payment's id: refuse for now (nothing is recorded) and
                # let the provider deliver it again.
                raise errors.payment_not_recorded_yet()
            if (
                order.payment_id != payment_id
                or order.amount_minor != amount_minor
                or order.currency != currency
            ):
                raise errors.payment_mismatch()
            if order.status is not OrderStatus.PENDING:
                return order  # a later notice about a settled payment: nothing more to do
            if not approved:
                declined = dataclasses.replace(order, status=OrderStatus.DECLINED)
                await tx.update_order(declined, now)
                return declined
            paid = dataclasses.replace(
                order, status=OrderStatus.PAID, payment_method=payment_method or None
            )
            if paid.kind is not OrderKind.PURCHASE:
                return await self._apply_renewal(tx, paid, now)
            if paid.account_id is not None:
                return await attach_in(tx, paid, paid.account_id, now, self._grace)
            await tx.update_order(paid, now)
            await tx.publish(
                OrderCompleted(
                    paid.id, paid.buyer_email, paid.language, paid.region, paid.plan_id, now
                )
            )
            return paid

    async def _apply_renewal(self, tx: Transaction, order: Order, now: datetime) -> Order:
        assert order.subscription_id is not None
        assert order.account_id is not None
        current = await tx.subscription_for_update(order.subscription_id)
        assert current is not None, "renewal orders refer to subscriptions, never deleted"
        plan = await tx.plan(order.plan_id)
        assert plan is not None
        renewed = dataclasses.replace(
            current,
            tier=plan.tier,
            features=plan.features,
            # In the grace period it still works: the renewal continues from its end.
            ends_at=(
                add_months(current.ends_at, order.term_months)
                if current.is_active(now, self._grace)
                else renewed_end(current.ends_at, now, order.term_months)
            ),
            status=SubscriptionStatus.ACTIVE,
            payment_method=order.payment_method or current.payment_method,
        )
        await tx.update_subscription(renewed, now)
        await tx.publish(SubscriptionRenewed(renewed, current.ends_at, "", now))
        completed = dataclasses.replace(order, status=OrderStatus.COMPLETED)
        await tx.update_order(completed, now)
        await refresh_entitlements(tx, order.account_id, now, self._grace)
        await tx.queue_mail(
            order.buyer_email,
            "renewal_receipt",
            order.language,
            {
                "order": str(order.id),
                "plan": plan.name_ru if order.language == "ru" else plan.name,
                "amount": format_amount(order.amount_minor, order.currency),
                "ends": renewed.ends_at.date().isoformat(),
            },
        )
        return completed

    async def attach(self, tx: Transaction, order_id: str, account_id: str) -> Order | None:
        """Identity reported the buyer's account: attach the paid order (idempotent)."""
        found, account = parse_uuid(order_id), parse_uuid(account_id)
        if found is None or account is None:
            return None
        order = await tx.order(found, for_update=True)
        if order is None or order.status is not OrderStatus.PAID:
            return order  # unknown, or attached already (a redelivery or the other report)
        return await attach_in(tx, order, account, self._clock(), self._grace)


async def attach_in(
    tx: Transaction, order: Order, account: uuid.UUID, now: datetime, grace: timedelta
) -> Order:
    """Create the paid order's subscription on ``account``: code, receipt, events."""
    plan = await tx.plan(order.plan_id)
    assert plan is not None, "orders refer to plans, which are never deleted"
    subscription = Subscription.start(
        account,
        plan,
        order.devices,
        order.term_months,
        now,
        payment_method=order.payment_method,
        order_id=order.id,
    )
    await tx.insert_subscription(subscription)
    # The purchase's activation code: proof of the licence, already on the account.
    code = codes.generate()
    await tx.insert_codes(
        [
            IssuedCode(
                digest=code.digest,
                prefix=code.prefix,
                plan_id=plan.id,
                devices=order.devices,
                term_months=order.term_months,
                batch_id=order.id,
                created_at=now,
            )
        ]
    )
    await tx.mark_code_redeemed(code.digest, account, subscription.id, False, now)
    completed = dataclasses.replace(
        order, status=OrderStatus.COMPLETED, account_id=account, subscription_id=subscription.id
    )
    await tx.update_order(completed, now)
    await refresh_entitlements(tx, account, now, grace)
    await tx.publish(SubscriptionPurchased(subscription, order.id, now))
    await tx.queue_mail(
        order.buyer_email,
        "receipt",
        order.language,
        {
            "order": str(order.id),
            "plan": plan.name_ru if order.language == "ru" else plan.name,
            "devices": str(order.devices),
            "months": str(order.term_months),
            "amount": format_amount(order.amount_minor, order.currency),
            "code": code.formatted(),
            "ends": subscription.ends_at.date().isoformat(),
        },
    )
    return completed
