"""Device seats: a subscription protects up to ``devices`` devices.

Protecting a device takes a seat of a live subscription of the account; the subscription's row is
locked while its seats are counted, so two devices racing for the last seat cannot both get it.
The same device again is no change (its seat is answered). Over the limit the error names it.
Identity's ``device.connected`` and ``device.disconnected`` events do the same as the RPCs.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from subscription.domain import errors
from subscription.domain.model import Seat, Subscription
from subscription.domain.orders import parse_uuid
from subscription.domain.ports import Clock, Store, Transaction

_DEVICE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Protected:
    subscription: Subscription
    in_use: int


def parse_device(device_id: str) -> str:
    if not _DEVICE.match(device_id):
        raise errors.device_id_invalid()
    return device_id


class SeatServices:
    def __init__(self, store: Store, clock: Clock, grace: timedelta = timedelta(0)) -> None:
        self.store = store
        self._clock = clock
        self._grace = grace

    async def protect(
        self, account_id: str, subscription_id: str, device_id: str, name: str
    ) -> Protected:
        account = parse_uuid(account_id)
        if account is None:
            raise errors.account_id_invalid()
        device = parse_device(device_id)
        async with self.store.transaction() as tx:
            return await self.protect_in(tx, account, subscription_id, device, name[:100])

    async def protect_in(
        self, tx: Transaction, account: uuid.UUID, subscription_id: str, device: str, name: str
    ) -> Protected:
        """Take a seat in the open transaction; see the module's note."""
        now = self._clock()
        held = await tx.seat_of_device(account, device)
        if held is not None:
            sub = await tx.subscription(held.subscription_id)
            assert sub is not None
            return Protected(sub, len(await tx.seats_of(sub.id)))
        if subscription_id:
            wanted = parse_uuid(subscription_id)
            sub = None if wanted is None else await tx.subscription_for_update(wanted)
            if sub is None or sub.account_id != account:
                raise errors.subscription_not_found()
            candidates = [sub]
        else:
            mine = await tx.subscriptions_of(account)
            candidates = sorted(
                (s for s in mine if s.is_active(now, self._grace)),
                key=lambda s: (-s.devices, -s.ends_at.timestamp()),
            )
            if not candidates:
                raise errors.subscription_not_active()
        limit = 0
        for candidate in candidates:
            sub = await tx.subscription_for_update(candidate.id)
            assert sub is not None
            if not sub.is_active(now, self._grace):
                if subscription_id:
                    raise errors.subscription_not_active()
                continue
            in_use = len(await tx.seats_of(sub.id))
            limit = max(limit, sub.devices)
            if in_use < sub.devices:
                await tx.insert_seat(Seat(sub.id, account, device, name, now))
                return Protected(sub, in_use + 1)
        raise errors.seats_limit_reached(limit)

    async def unprotect(self, account_id: str, device_id: str) -> bool:
        account = parse_uuid(account_id)
        if account is None:
            raise errors.account_id_invalid()
        device = parse_device(device_id)
        async with self.store.transaction() as tx:
            return await tx.delete_seat(account, device)

    async def devices(self, account_id: str, subscription_id: str) -> list[Seat]:
        account, wanted = parse_uuid(account_id), parse_uuid(subscription_id)
        if account is None:
            raise errors.account_id_invalid()
        async with self.store.connection() as db:
            sub = None if wanted is None else await db.subscription(wanted)
            if sub is None or sub.account_id != account:
                raise errors.subscription_not_found()
            return await db.seats_of(sub.id)
