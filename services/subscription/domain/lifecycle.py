"""A subscription's life after it starts: automatic renewal on or off, cancel (refunds are in
``subscription.domain.refunds``).

Cancelling or refunding stops the entitlements and frees the device seats at once (an expired
subscription keeps its seats: a renewal brings the same devices back).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta

from subscription.domain import errors
from subscription.domain.events import SubscriptionCancelled
from subscription.domain.model import Refund, Subscription, SubscriptionStatus
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
            return await stop_subscription(
                tx, sub, SubscriptionStatus.CANCELLED, self._clock(), self._grace
            )


async def stop_subscription(
    tx: Transaction,
    sub: Subscription,
    status: SubscriptionStatus,
    now: datetime,
    grace: timedelta,
    refunds: Sequence[Refund] = (),
) -> Subscription:
    """Cancel or refund ``sub`` (locked by the caller): seats freed, entitlements rewritten,
    ``subscription.subscription.cancelled`` published. The same status again changes nothing."""
    if sub.status is status:
        return sub  # again: no change
    if sub.status is SubscriptionStatus.REFUNDED:
        raise errors.subscription_not_active()
    stopped = dataclasses.replace(sub, status=status, auto_renew=False)
    await tx.update_subscription(stopped, now)
    await tx.delete_seats_of(sub.id)  # a stopped subscription protects nothing
    await refresh_entitlements(tx, sub.account_id, now, grace)
    refunded = status is SubscriptionStatus.REFUNDED
    await tx.publish(SubscriptionCancelled(stopped, refunded, now, tuple(refunds)))
    return stopped
