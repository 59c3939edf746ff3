"""Orders, payment notifications, device seats, the scheduler's records and mail, on asyncpg.

Mixed into ``store.postgres.PostgresTransaction``: every method runs on its one connection.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from kabinet.mail.outbox import enqueue_mail
from subscription.domain.model import (
    Order,
    OrderKind,
    OrderStatus,
    Refund,
    Seat,
    Subscription,
    SubscriptionStatus,
    Tier,
)
from subscription.domain.reminders import MailOutcome, PendingReminder
from subscription.mail import subscription_templates

# Only one replica runs a scheduler pass at a time.
SCHEDULER_LOCK = int.from_bytes(
    hashlib.sha256(b"subscription:scheduler").digest()[:8], "big", signed=True
)
TEMPLATES = subscription_templates()

_ORDER_COLUMNS = (
    "id, idempotency_key, request_hash, kind, plan_id, devices, term_months, buyer_email, region,"
    " language, currency, amount_minor, status, created_at, account_id, subscription_id,"
    " payment_id, payment_url, payment_method"
)
_ORDER_BY_KEY = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE idempotency_key = $1"  # noqa: S608
_ORDER_BY_ID = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = $1"  # noqa: S608
SUBSCRIPTION_COLUMNS = (
    "id, account_id, plan_id, tier, devices, features, starts_at, ends_at, created_at, status,"
    " auto_renew, payment_method, order_id"
)


def subscription_from_row(row: asyncpg.Record) -> Subscription:
    return Subscription(
        id=row["id"],
        account_id=row["account_id"],
        plan_id=row["plan_id"],
        tier=Tier.from_key(row["tier"]),
        devices=row["devices"],
        features=tuple(row["features"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_at=row["created_at"],
        status=SubscriptionStatus(row["status"]),
        auto_renew=row["auto_renew"],
        payment_method=row["payment_method"],
        order_id=row["order_id"],
    )


def _order(row: asyncpg.Record) -> Order:
    return Order(
        id=row["id"],
        idempotency_key=row["idempotency_key"],
        request_hash=bytes(row["request_hash"]),
        kind=OrderKind(row["kind"]),
        plan_id=row["plan_id"],
        devices=row["devices"],
        term_months=row["term_months"],
        buyer_email=row["buyer_email"],
        region=row["region"],
        language=row["language"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        status=OrderStatus(row["status"]),
        created_at=row["created_at"],
        account_id=row["account_id"],
        subscription_id=row["subscription_id"],
        payment_id=row["payment_id"],
        payment_url=row["payment_url"],
        payment_method=row["payment_method"],
    )


def _seat(row: asyncpg.Record) -> Seat:
    return Seat(
        row["subscription_id"],
        row["account_id"],
        row["device_id"],
        row["name"],
        row["protected_at"],
    )


class OrderQueries:
    """The ``Orders``, ``Seats``, ``Schedule`` and ``Mail`` ports."""

    _conn: asyncpg.Connection

    # orders

    async def insert_order(self, order: Order) -> bool:
        o = order
        inserted = await self._conn.fetchval(
            f"INSERT INTO orders ({_ORDER_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6,"  # noqa: S608 - constant column list
            " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $14)"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING true",
            o.id,
            o.idempotency_key,
            o.request_hash,
            o.kind.value,
            o.plan_id,
            o.devices,
            o.term_months,
            o.buyer_email,
            o.region,
            o.language,
            o.currency,
            o.amount_minor,
            o.status.value,
            o.created_at,
            o.account_id,
            o.subscription_id,
            o.payment_id,
            o.payment_url,
            o.payment_method,
        )
        return bool(inserted)

    async def order_by_key(self, key: str) -> Order | None:
        row = await self._conn.fetchrow(
            _ORDER_BY_KEY,
            key,
        )
        return None if row is None else _order(row)

    async def order(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        query = _ORDER_BY_ID + " FOR UPDATE" if for_update else _ORDER_BY_ID
        row = await self._conn.fetchrow(query, order_id)
        return None if row is None else _order(row)

    async def update_order(self, order: Order, now: datetime) -> None:
        o = order
        await self._conn.execute(
            "UPDATE orders SET status = $2, account_id = $3, subscription_id = $4,"
            " payment_id = $5, payment_url = $6, payment_method = $7, updated_at = $8"
            " WHERE id = $1",
            o.id,
            o.status.value,
            o.account_id,
            o.subscription_id,
            o.payment_id,
            o.payment_url,
            o.payment_method,
            now,
        )

    async def record_payment_event(
        self, provider: str, event_id: str, order_id: uuid.UUID, now: datetime
    ) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO payment_events (provider, event_id, order_id, received_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
            provider,
            event_id,
            order_id,
            now,
        )
        return bool(inserted)

    async def paid_orders_of(self, subscription_id: uuid.UUID) -> list[Order]:
        rows = await self._conn.fetch(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE subscription_id = $1"  # noqa: S608 - constant column list
            " AND status = 'completed' AND payment_id IS NOT NULL ORDER BY id",
            subscription_id,
        )
        return [_order(r) for r in rows]

    async def insert_refund(self, refund: Refund) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO refunds (order_id, refund_id, payment_id, amount_minor, currency,"
            " created_at, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING RETURNING true",
            refund.order_id,
            refund.refund_id,
            refund.payment_id,
            refund.amount_minor,
            refund.currency,
            refund.created_at,
            refund.confirmed_at,
        )
        return bool(inserted)

    async def confirm_refund(self, order_id: uuid.UUID, refund_id: str, now: datetime) -> bool:
        status = await self._conn.execute(
            "UPDATE refunds SET confirmed_at = $3"
            " WHERE order_id = $1 AND refund_id = $2 AND confirmed_at IS NULL",
            order_id,
            refund_id,
            now,
        )
        return bool(status == "UPDATE 1")

    async def refunds_of(self, subscription_id: uuid.UUID) -> list[Refund]:
        rows = await self._conn.fetch(
            "SELECT r.order_id, r.refund_id, r.payment_id, r.amount_minor, r.currency,"
            " r.created_at, r.confirmed_at FROM refunds r JOIN orders o ON o.id = r.order_id"
            " WHERE o.subscription_id = $1 ORDER BY r.created_at, r.order_id",
            subscription_id,
        )
        return [
            Refund(
                r["order_id"],
                r["refund_id"],
                r["payment_id"],
                r["amount_minor"],
                r["currency"],
                r["created_at"],
                r["confirmed_at"],
            )
            for r in rows
        ]

    # seats

    async def seats_of(self, subscription_id: uuid.UUID) -> list[Seat]:
        rows = await self._conn.fetch(
            "SELECT subscription_id, account_id, device_id, name, protected_at FROM device_seats"
            " WHERE subscription_id = $1 ORDER BY protected_at, device_id",
            subscription_id,
        )
        return [_seat(r) for r in rows]

    async def seat_of_device(self, account_id: uuid.UUID, device_id: str) -> Seat | None:
        row = await self._conn.fetchrow(
            "SELECT subscription_id, account_id, device_id, name, protected_at FROM device_seats"
            " WHERE account_id = $1 AND device_id = $2",
            account_id,
            device_id,
        )
        return None if row is None else _seat(row)

    async def insert_seat(self, seat: Seat) -> None:
        await self._conn.execute(
            "INSERT INTO device_seats (subscription_id, account_id, device_id, name, protected_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            seat.subscription_id,
            seat.account_id,
            seat.device_id,
            seat.name,
            seat.protected_at,
        )

    async def delete_seat(self, account_id: uuid.UUID, device_id: str) -> bool:
        status = await self._conn.execute(
            "DELETE FROM device_seats WHERE account_id = $1 AND device_id = $2",
            account_id,
            device_id,
        )
        return bool(status != "DELETE 0")

    async def delete_seats_of(self, subscription_id: uuid.UUID) -> int:
        status = await self._conn.execute(
            "DELETE FROM device_seats WHERE subscription_id = $1", subscription_id
        )
        return int(status.split()[-1])

    async def seats_in_use(self, subscription_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        rows = await self._conn.fetch(
            "SELECT subscription_id, count(*) AS n FROM device_seats"
            " WHERE subscription_id = ANY ($1::uuid[]) GROUP BY subscription_id",
            list(subscription_ids),
        )
        return {r["subscription_id"]: r["n"] for r in rows}

    # the scheduler

    async def try_lead(self) -> bool:
        return bool(
            await self._conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SCHEDULER_LOCK)
        )

    async def ending_between(
        self, start: datetime, end: datetime, limit: int
    ) -> list[Subscription]:
        rows = await self._conn.fetch(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE status = 'active'"  # noqa: S608 - constant column list
            " AND ends_at >= $1 AND ends_at < $2 ORDER BY ends_at, id LIMIT $3",
            start,
            end,
            limit,
        )
        return [subscription_from_row(r) for r in rows]

    async def record_reminder(
        self, subscription_id: uuid.UUID, ends_at: datetime, days_before: int, now: datetime
    ) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO reminders_sent (subscription_id, ends_at, days_before, sent_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
            subscription_id,
            ends_at,
            days_before,
            now,
        )
        return bool(inserted)

    async def unmailed_reminders(self, limit: int) -> list[PendingReminder]:
        rows = await self._conn.fetch(
            "SELECT r.subscription_id, s.account_id, r.ends_at, r.days_before,"
            " s.status = 'active' AND s.ends_at = r.ends_at AS current,"
            " EXISTS (SELECT 1 FROM reminders_sent n WHERE n.subscription_id = r.subscription_id"
            "  AND n.ends_at = r.ends_at AND n.days_before < r.days_before) AS overtaken"
            " FROM reminders_sent r JOIN subscriptions s ON s.id = r.subscription_id"
            " WHERE r.mailed_at IS NULL ORDER BY r.sent_at, r.subscription_id LIMIT $1",
            limit,
        )
        return [
            PendingReminder(
                r["subscription_id"],
                r["account_id"],
                r["ends_at"],
                r["days_before"],
                r["current"],
                r["overtaken"],
            )
            for r in rows
        ]

    async def mark_reminder_mailed(
        self,
        subscription_id: uuid.UUID,
        ends_at: datetime,
        days_before: int,
        outcome: MailOutcome,
        now: datetime,
    ) -> bool:
        status = await self._conn.execute(
            "UPDATE reminders_sent SET mailed_at = $4, mail_outcome = $5"
            " WHERE subscription_id = $1 AND ends_at = $2 AND days_before = $3"
            " AND mailed_at IS NULL",
            subscription_id,
            ends_at,
            days_before,
            now,
            outcome.value,
        )
        return bool(status == "UPDATE 1")

    async def record_renewal_attempt(
        self, subscription_id: uuid.UUID, ends_at: datetime, order_id: uuid.UUID, now: datetime
    ) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO renewal_attempts (subscription_id, ends_at, order_id, attempted_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
            subscription_id,
            ends_at,
            order_id,
            now,
        )
        return bool(inserted)

    # mail

    async def queue_mail(
        self, to: str, template: str, language: str, values: dict[str, str]
    ) -> None:
        await enqueue_mail(
            self._conn, TEMPLATES, to=to, template=template, language=language, values=values
        )
