"""A subscription's life after it starts: automatic renewal on or off, cancel, refund.

Cancelling or refunding stops the entitlements and frees the device seats at once (an expired
subscription keeps its seats: a renewal brings the same devices back).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from subscription.domain import errors
from subscription.domain.events import SubscriptionCancelled
from subscription.domain.model import Subscription, SubscriptionStatus
from subscription.domain.orders import parse_uuid, refresh_entitlements
from subscription.domain.ports import Clock, Store, Transaction

_STOPPED = (SubscriptionStatus.CANCELLED, SubscriptionStatus.REFUNDED)


class LifecycleServices:
    def __init__(self, store: Store, clock: Clock, grace: timedelta = timedelta(0)) -> None:
        self.store = store
        self._clock = clock
        self._grace = grace

    async def _owned(self, tx: Transaction, account_id: str, subscription_id: str) -> Subscription:
        account, wanted = parse_uuid(account_id), parse_uuid(subscription_id)
        if account is None:
            raise errors.account_id_invalid()
        sub = None if wanted is None else await tx.subscription_for_update(wanted)
        if sub is None or sub.account_id != account:
            raise errors.subscription_not_found()
        return sub

    async def set_auto_renew(self, account_id: str, subscription_id: str, on: bool) -> Subscription:
        async with self.store.transaction() as tx:
            sub = await self._owned(tx, account_id, subscription_id)
            if on and sub.status in _STOPPED:
                raise errors.subscription_not_active()
            changed = dataclasses.replace(sub, auto_renew=on)
            await tx.update_subscription(changed, self._clock())
            return changed

    async def cancel(self, account_id: str, subscription_id: str) -> Subscription:
        async with self.store.transaction() as tx:
            sub = await self._owned(tx, account_id, subscription_id)
            return await self._stop(tx, sub, SubscriptionStatus.CANCELLED)

    async def refund(self, subscription_id: str) -> Subscription:
        """Operators: stop the subscription and mark it refunded (the money goes back by the
        provider's own refund procedure)."""
        wanted = parse_uuid(subscription_id)
        async with self.store.transaction() as tx:
            sub = None if wanted is None else await tx.subscription_for_update(wanted)
            if sub is None:
                raise errors.subscription_not_found()
            return await self._stop(tx, sub, SubscriptionStatus.REFUNDED)

    async def _stop(
        self, tx: Transaction, sub: Subscription, status: SubscriptionStatus
    ) -> Subscription:
        if sub.status is status:
            return sub  # again: no change
        if sub.status is SubscriptionStatus.REFUNDED:
            raise errors.subscription_not_active()
        now = self._clock()
        stopped = dataclasses.replace(sub, status=status, auto_renew=False)
        await tx.update_subscription(stopped, now)
        await tx.delete_seats_of(sub.id)  # a stopped subscription protects nothing
        await refresh_entitlements(tx, sub.account_id, now, self._grace)
        await tx.publish(SubscriptionCancelled(stopped, status is SubscriptionStatus.REFUNDED, now))
        return stopped
