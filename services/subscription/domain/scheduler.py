"""The scheduler: reminders before the end, automatic renewal attempts, expiry after the grace.

Every replica runs it; each pass is one transaction that first takes a PostgreSQL advisory
transaction lock (``pg_try_advisory_xact_lock``), so only one replica works at a time and the
others skip that pass. Each effect is also recorded under a unique key (a reminder per
subscription, end and number of days; a renewal attempt per subscription and end; expiry is a
status change), so even passes one after the other never repeat an effect.

Reminders: 30, 7 and 1 days before the end, only the nearest one due (a subscription bought five
days before its end gets the 7-day one, not also the 30-day one). The pass records the reminder
and publishes ``subscription.subscription.expiring``; after it commits, the pass that led mails
every reminder not mailed yet to the owner's account (``subscription.domain.reminders``), however
the subscription began (bought or activated by a code). Automatic renewal: a
subscription with it on and a saved payment method gets one renewal order per end, ``renew_days``
before it, charged through the payment provider after the pass commits (the provider's
notification then extends it). Expiry: an active subscription ``grace`` past its end becomes
``expired`` and its account's entitlements are rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from subscription.domain.events import SubscriptionExpired, SubscriptionExpiring
from subscription.domain.model import Order, OrderKind, OrderStatus, SubscriptionStatus
from subscription.domain.orders import OrderServices, refresh_entitlements, request_hash
from subscription.domain.ports import Clock, Store
from subscription.domain.reminders import (
    REMINDER_DAYS,
    Accounts,
    AccountsUnavailableError,
    Contact,
    MailOutcome,
    due_days,
)

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class PassResult:
    led: bool
    reminders: int = 0
    renewals: int = 0
    expired: int = 0
    mailed: int = 0


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        orders: OrderServices,
        accounts: Accounts,
        *,
        grace: timedelta,
        renew_ahead: timedelta,
    ) -> None:
        self.store = store
        self._clock = clock
        self._orders = orders
        self._accounts = accounts
        self._grace = grace
        self._renew_ahead = renew_ahead

    async def run_once(self) -> PassResult:
        """One pass (or none, when another replica holds the lock)."""
        now = self._clock()
        to_charge: list[Order] = []
        async with self.store.transaction() as tx:
            if not await tx.try_lead():
                return PassResult(led=False)
            reminders = 0
            ahead = now + timedelta(days=max(REMINDER_DAYS))
            for sub in await tx.ending_between(now, ahead, BATCH):
                days = due_days(sub.ends_at - now)
                if days is None or not await tx.record_reminder(sub.id, sub.ends_at, days, now):
                    continue
                reminders += 1
                await tx.publish(SubscriptionExpiring(sub, days, now))
            for sub in await tx.ending_between(now - self._grace, now + self._renew_ahead, BATCH):
                if not sub.auto_renew or not sub.payment_method or sub.order_id is None:
                    continue
                first = await tx.order(sub.order_id)
                assert first is not None
                order = Order(
                    id=uuid.uuid4(),
                    idempotency_key=f"auto-{sub.id}-{int(sub.ends_at.timestamp())}",
                    request_hash=request_hash(kind="auto", sub=str(sub.id)),
                    kind=OrderKind.AUTO_RENEWAL,
                    plan_id=sub.plan_id,
                    devices=sub.devices,
                    term_months=first.term_months,
                    buyer_email=first.buyer_email,
                    region=first.region,
                    language=first.language,
                    currency=first.currency,
                    amount_minor=first.amount_minor,
                    status=OrderStatus.PENDING,
                    created_at=now,
                    account_id=sub.account_id,
                    subscription_id=sub.id,
                    payment_method=sub.payment_method,
                )
                if not await tx.record_renewal_attempt(sub.id, sub.ends_at, order.id, now):
                    continue
                await tx.insert_order(order)
                to_charge.append(order)
            expired = 0
            for sub in await tx.ending_between(
                datetime.min.replace(tzinfo=now.tzinfo), now - self._grace, BATCH
            ):
                gone = dataclasses.replace(sub, status=SubscriptionStatus.EXPIRED)
                await tx.update_subscription(gone, now)
                await refresh_entitlements(tx, sub.account_id, now, self._grace)
                await tx.publish(SubscriptionExpired(gone, now))
                expired += 1
        for order in to_charge:
            try:
                await self._orders.pay(order)
            except Exception as exc:  # the next attempt is the buyer's; the order stays pending
                log.warning("automatic renewal payment failed", extra={"error": repr(exc)})
        mailed = await self.mail_reminders(now)
        return PassResult(True, reminders, len(to_charge), expired, mailed)

    async def mail_reminders(self, now: datetime) -> int:
        """Mail the reminders recorded but not mailed yet; how many mails were queued.

        The owners are asked from identity in one go; when it does not answer, the due reminders
        stay unmailed for the next pass (overtaken ones are closed all the same). Marking a
        reminder mailed is a conditional update in the transaction that queues its mail: a
        replica that lost the race queues nothing.
        """
        async with self.store.connection() as conn:
            pending = await conn.unmailed_reminders(BATCH)
        owners = sorted({r.account_id for r in pending if r.still_due(now)})
        contacts: dict[uuid.UUID, Contact | None] = {}
        if owners:
            try:
                contacts = await self._accounts.contacts(owners)
            except AccountsUnavailableError as exc:
                log.warning("reminder mail waits for identity", extra={"error": repr(exc)})
        mailed = 0
        for reminder in pending:
            contact: Contact | None = None
            if not reminder.still_due(now):
                outcome = MailOutcome.STALE
            elif reminder.account_id not in contacts:
                continue  # identity did not answer: the next pass asks again
            else:
                contact = contacts[reminder.account_id]
                outcome = MailOutcome.NO_ACCOUNT if contact is None else MailOutcome.SENT
            async with self.store.transaction() as tx:
                if not await tx.mark_reminder_mailed(
                    reminder.subscription_id,
                    reminder.ends_at,
                    reminder.days_before,
                    outcome,
                    now,
                ):
                    continue  # another replica resolved it meanwhile
                if contact is not None:
                    await tx.queue_mail(
                        contact.email,
                        "reminder",
                        contact.language,
                        {
                            "days": str(reminder.days_before),
                            "ends": reminder.ends_at.date().isoformat(),
                        },
                    )
                    mailed += 1
        return mailed

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Pass every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                log.warning("scheduler pass failed", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
