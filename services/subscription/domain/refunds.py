"""Refunds: the money of a subscription's paid orders goes back through the payment provider.

``RefundSubscription`` (operators) first asks the provider to refund every paid order of the
subscription, each under the key ``refund-<order id>``, so asking again (after a crash, a timeout,
a second operator) gets the same refund and never returns money twice. Only then, in one
transaction: each refund is recorded on its order (the order becomes ``refunded``), the
subscription stops (seats freed, entitlements rewritten, ``subscription.subscription.cancelled``
with ``refunded`` and the payments returned) and the payer gets a refund receipt. The provider
unreachable: nothing changes here, and the same call completes it later.

A subscription activated by a code had no payment here: a refund only changes its status, and
the answer says so (``status_only``).

The provider's ``payment.refunded`` notification (signed, checked by the gateway, its event id
recorded so a replay is refused) confirms a recorded refund; one we did not ask for (made in the
provider's dashboard) is recorded and applied the same way. Rows are locked order first, then
subscription, on both paths.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from subscription.domain import errors
from subscription.domain.lifecycle import stop_subscription
from subscription.domain.model import Order, OrderStatus, Refund, Subscription, SubscriptionStatus
from subscription.domain.orders import format_amount, notified_order, parse_uuid
from subscription.domain.payments import PaymentFailedError, PaymentProvider
from subscription.domain.ports import Clock, Store, Transaction

log = logging.getLogger(__name__)


def refund_key(order_id: uuid.UUID) -> str:
    """The provider's idempotency key of an order's refund."""
    return f"refund-{order_id}"


@dataclass(frozen=True)
class Refunded:
    subscription: Subscription
    # Every refund of the subscription's orders (none: activated by a code).
    refunds: tuple[Refund, ...]

    @property
    def status_only(self) -> bool:
        return not self.refunds


class RefundServices:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        provider: PaymentProvider,
        grace: timedelta = timedelta(0),
    ) -> None:
        self.store = store
        self._clock = clock
        self._provider = provider
        self._grace = grace

    async def refund(self, subscription_id: str) -> Refunded:
        """Operators: return the money through the provider, then stop the subscription."""
        wanted = parse_uuid(subscription_id)
        async with self.store.connection() as conn:
            sub = None if wanted is None else await conn.subscription(wanted)
            if sub is None:
                raise errors.subscription_not_found()
            paid = await conn.paid_orders_of(sub.id)
        asked: list[tuple[Order, Refund]] = []
        for order in paid:
            assert order.payment_id is not None
            try:
                got = await self._provider.refund(
                    order.payment_id, order.amount_minor, key=refund_key(order.id)
                )
            except PaymentFailedError as exc:
                log.warning("refund not made", extra={"order": str(order.id), "error": str(exc)})
                raise errors.payment_unavailable() from None
            asked.append(
                (
                    order,
                    Refund(
                        order.id,
                        got.refund_id,
                        order.payment_id,
                        got.amount_minor,
                        order.currency,
                        self._clock(),
                    ),
                )
            )
        now = self._clock()
        async with self.store.transaction() as tx:
            stopped = await apply_refunds(tx, sub.id, asked, now, self._grace)
            assert stopped is not None
            return Refunded(stopped, tuple(await tx.refunds_of(sub.id)))

    async def confirm_refund(
        self,
        provider: str,
        event_id: str,
        payment_id: str,
        order_id: str,
        refund_id: str,
        amount_minor: int,
        currency: str,
    ) -> Order:
        """The provider's ``payment.refunded`` notification, applied once."""
        found = parse_uuid(order_id)
        if found is None or not event_id or not payment_id or not refund_id:
            raise errors.payment_mismatch()
        now = self._clock()
        async with self.store.transaction() as tx:
            order = await notified_order(tx, provider, event_id, found, now)
            if (
                order.payment_id != payment_id
                or order.currency != currency
                or not 0 < amount_minor <= order.amount_minor
            ):
                raise errors.payment_mismatch()
            if order.status is OrderStatus.REFUNDED:
                await tx.confirm_refund(order.id, refund_id, now)
                return order
            if order.status not in (OrderStatus.PAID, OrderStatus.COMPLETED):
                raise errors.payment_mismatch()  # nothing was paid
            refund = Refund(order.id, refund_id, payment_id, amount_minor, currency, now, now)
            await apply_refunds(tx, order.subscription_id, [(order, refund)], now, self._grace)
            return dataclasses.replace(order, status=OrderStatus.REFUNDED)


async def apply_refunds(
    tx: Transaction,
    subscription_id: uuid.UUID | None,
    refunds: Sequence[tuple[Order, Refund]],
    now: datetime,
    grace: timedelta,
) -> Subscription | None:
    """Record each refund on its order (skipping orders refunded meanwhile), stop the
    subscription as refunded and mail the payer a receipt of what this call recorded."""
    recorded: list[tuple[Order, Refund]] = []
    for order, refund in refunds:
        current = await tx.order(order.id, for_update=True)
        assert current is not None
        if current.status is OrderStatus.REFUNDED or not await tx.insert_refund(refund):
            continue
        await tx.update_order(dataclasses.replace(current, status=OrderStatus.REFUNDED), now)
        recorded.append((current, refund))
    stopped = None
    if subscription_id is not None:
        sub = await tx.subscription_for_update(subscription_id)
        assert sub is not None, "orders refer to subscriptions, never deleted"
        stopped = await stop_subscription(
            tx, sub, SubscriptionStatus.REFUNDED, now, grace, [r for _, r in recorded]
        )
    if recorded:
        first = recorded[0][0]
        totals: dict[str, int] = {}
        for _, refund in recorded:
            totals[refund.currency] = totals.get(refund.currency, 0) + refund.amount_minor
        await tx.queue_mail(
            first.buyer_email,
            "refund_receipt",
            first.language,
            {
                "orders": ", ".join(str(o.id) for o, _ in recorded),
                "amount": ", ".join(format_amount(a, c) for c, a in sorted(totals.items())),
                "refunds": ", ".join(r.refund_id for _, r in recorded),
            },
        )
    return stopped
