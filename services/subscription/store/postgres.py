"""The subscription ports on PostgreSQL (asyncpg): one clear statement per method.

The pool's ``search_path`` is the ``subscription`` schema, so no statement names it. Events go
into the same transaction through ``kabinet.events.outbox``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from kabinet.db import UnitsOfWork
from kabinet.events.outbox import publish_event
from kabinet.notified_cache import NotifiedCache
from subscription.domain.events import Event
from subscription.domain.model import (
    Entitlement,
    EntitlementCheck,
    IssuedCode,
    Plan,
    PlanOption,
    Price,
    RedeemThrottle,
    Subscription,
    Tier,
)
from subscription.events.outgoing import to_message
from subscription.store.orders import SUBSCRIPTION_COLUMNS, OrderQueries, subscription_from_row

# Replicas starting together load the seed one after the other.
SEED_LOCK = int.from_bytes(hashlib.sha256(b"subscription:seed").digest()[:8], "big", signed=True)

_SUBSCRIPTIONS_OF = (
    f"SELECT {SUBSCRIPTION_COLUMNS}"  # noqa: S608 - constant column list
    " FROM subscriptions WHERE account_id = $1 ORDER BY ends_at DESC, id"
)
_SUBSCRIPTION_BY_ID = f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1"  # noqa: S608 - constant column list
# A code renews the latest subscription of its plan and devices that is not cancelled.
_RENEWABLE = (
    f"SELECT {SUBSCRIPTION_COLUMNS}"  # noqa: S608 - constant column list
    " FROM subscriptions WHERE account_id = $1 AND plan_id = $2 AND devices = $3"
    " AND status IN ('active', 'expired') ORDER BY ends_at DESC LIMIT 1 FOR UPDATE"
)
_CODE_FOR_UPDATE = (
    "SELECT code_hash, prefix, plan_id, devices, term_months, batch_id, created_at, redeemed_by,"
    " redeemed_at, subscription_id, renewal FROM activation_codes WHERE code_hash = $1 FOR UPDATE"
)

# The hot path: for many (account, feature) questions at once, the account's entitlement row (live
# or not) and, in the same round trip, the cheapest tier on sale that has the feature.
_CHECK_MANY = (
    "SELECT q.i, e.subscription_id, e.tier, e.valid_until,"
    " (SELECT p.tier FROM plans p WHERE p.on_sale AND q.feature = ANY (p.features)"
    "  ORDER BY p.rank LIMIT 1) AS required_tier"
    " FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS q (account_id, feature, i)"
    " LEFT JOIN entitlements e ON e.account_id = q.account_id AND e.feature = q.feature"
    " ORDER BY q.i"
)

Question = tuple[uuid.UUID, str]


@dataclass(frozen=True, slots=True)
class KnownEntitlement:
    """What the read model says of one (account, feature), whatever the time: the account's
    entitlement row and the cheapest tier on sale that has the feature."""

    entitlement: Entitlement | None
    required_tier: Tier | None

    def at(self, now: datetime) -> EntitlementCheck:
        """The answer at ``now``: the entitlement counts while it is live."""
        live = self.entitlement is not None and self.entitlement.valid_until > now
        return EntitlementCheck(self.entitlement if live else None, self.required_tier)


async def check_many(
    conn: asyncpg.Connection, questions: Sequence[Question]
) -> list[KnownEntitlement]:
    """Answer every (account, feature) question with one query."""
    rows = await conn.fetch(_CHECK_MANY, [q[0] for q in questions], [q[1] for q in questions])
    answers = []
    for (_, feature), row in zip(questions, rows, strict=True):
        required = Tier.from_key(row["required_tier"]) if row["required_tier"] else None
        entitlement = None
        if row["subscription_id"] is not None:
            entitlement = Entitlement(
                feature, row["subscription_id"], Tier.from_key(row["tier"]), row["valid_until"]
            )
        answers.append(KnownEntitlement(entitlement, required))
    return answers


def _account_of(question: Question) -> uuid.UUID:
    return question[0]


def _account_named(payload: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(payload)
    except ValueError:
        return None


def _code(row: asyncpg.Record) -> IssuedCode:
    return IssuedCode(
        digest=bytes(row["code_hash"]),
        prefix=row["prefix"],
        plan_id=row["plan_id"],
        devices=row["devices"],
        term_months=row["term_months"],
        batch_id=row["batch_id"],
        created_at=row["created_at"],
        redeemed_by=row["redeemed_by"],
        redeemed_at=row["redeemed_at"],
        subscription_id=row["subscription_id"],
        renewal=row["renewal"],
    )


def _entitlement(row: asyncpg.Record) -> Entitlement:
    return Entitlement(
        feature=row["feature"],
        subscription_id=row["subscription_id"],
        tier=Tier.from_key(row["tier"]),
        valid_until=row["valid_until"],
    )


class PostgresStore(UnitsOfWork["PostgresTransaction"]):
    """Units of work on a pool whose connections work in the subscription schema.

    Entitlement checks are answered from the accounts' read model kept in memory
    (``kabinet.notified_cache``, once ``start()``ed): the ``entitlements`` and ``plans`` triggers
    tell every replica what changed, and a transaction of this replica that rewrote an account's
    entitlements drops them here as soon as it commits."""

    def __init__(
        self, pool: asyncpg.Pool, schema: str = "subscription", *, kept: int = 50_000
    ) -> None:
        super().__init__(pool, PostgresTransaction)
        self._kept = kept
        self.entitlements: NotifiedCache[Question, uuid.UUID, KnownEntitlement] = NotifiedCache(
            pool,
            f"{schema}_entitlements",
            check_many,
            group_of=_account_of,
            group_named=_account_named,
            max_entries=kept,
        )

    def start(self) -> None:
        """Keep entitlements in memory from now on (until then every check is a query)."""
        if self._kept:
            self.entitlements.start()

    async def close(self) -> None:
        """Return the connections the entitlement checks keep (before the pool closes)."""
        await self.entitlements.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with super().transaction() as tx:
            yield tx
        self._committed(tx)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[PostgresTransaction]:
        async with super().connection() as db:
            yield db
        self._committed(db)

    def _committed(self, unit: PostgresTransaction) -> None:
        """This replica reads its own writes at once (the others hear the triggers' NOTIFY)."""
        if unit.plans_changed:
            self.entitlements.clear()
        for account in unit.entitlements_rewritten:
            self.entitlements.forget(account)

    async def check_entitlement(
        self, account_id: uuid.UUID, feature: str, now: datetime
    ) -> EntitlementCheck:
        known = await self.entitlements.get((account_id, feature))
        return known.at(now)


class PostgresTransaction(OrderQueries):
    """Every port method on one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        # What this unit changed that entitlement checks read (dropped from memory on commit).
        self.entitlements_rewritten: list[uuid.UUID] = []
        self.plans_changed = False

    # plans

    async def save_plans(self, plans: Sequence[Plan], now: datetime) -> None:
        self.plans_changed = True
        for plan in plans:
            await self.save_plan(plan, now)
        await self._conn.execute(
            "UPDATE plans SET on_sale = false, updated_at = $2 WHERE on_sale AND id <> ALL ($1)",
            [p.id for p in plans],
            now,
        )

    async def swap_seed_digest(self, digest: bytes, now: datetime) -> bool:
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK)
        changed = await self._conn.fetchval(
            "INSERT INTO catalog_seed (id, digest, applied_at) VALUES (true, $1, $2)"
            " ON CONFLICT (id) DO UPDATE SET digest = $1, applied_at = $2"
            " WHERE catalog_seed.digest <> $1 RETURNING true",
            digest,
            now,
        )
        return bool(changed)

    async def save_plan(self, plan: Plan, now: datetime) -> None:
        self.plans_changed = True
        await self._conn.execute(
            "INSERT INTO plans (id, tier, rank, name, name_ru, features, on_sale, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (id) DO UPDATE SET tier = $2, rank = $3, name = $4, name_ru = $5,"
            " features = $6, on_sale = $7, updated_at = $8",
            plan.id,
            plan.tier.key,
            int(plan.tier),
            plan.name,
            plan.name_ru,
            list(plan.features),
            plan.on_sale,
            now,
        )
        # Options and prices are replaced whole (prices cascade with their option).
        await self._conn.execute("DELETE FROM plan_options WHERE plan_id = $1", plan.id)
        await self._conn.executemany(
            "INSERT INTO plan_options (plan_id, devices, term_months) VALUES ($1, $2, $3)",
            [(plan.id, o.devices, o.term_months) for o in plan.options],
        )
        await self._conn.executemany(
            "INSERT INTO plan_prices"
            " (plan_id, devices, term_months, region, currency, amount_minor)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (plan.id, o.devices, o.term_months, p.region, p.currency, p.amount_minor)
                for o in plan.options
                for p in o.prices
            ],
        )

    async def plans(self) -> list[Plan]:
        return await self._plans(None)

    async def plan(self, plan_id: str) -> Plan | None:
        found = await self._plans(plan_id)
        return found[0] if found else None

    async def _plans(self, plan_id: str | None) -> list[Plan]:
        rows = await self._conn.fetch(
            "SELECT id, tier, name, name_ru, features, on_sale FROM plans"
            " WHERE $1::text IS NULL OR id = $1 ORDER BY rank, id",
            plan_id,
        )
        if not rows:
            return []
        options = await self._conn.fetch(
            "SELECT plan_id, devices, term_months FROM plan_options"
            " WHERE $1::text IS NULL OR plan_id = $1 ORDER BY term_months, devices",
            plan_id,
        )
        prices = await self._conn.fetch(
            "SELECT plan_id, devices, term_months, region, currency, amount_minor"
            " FROM plan_prices WHERE $1::text IS NULL OR plan_id = $1 ORDER BY region",
            plan_id,
        )
        by_option: dict[tuple[str, int, int], list[Price]] = {}
        for p in prices:
            key = (p["plan_id"], p["devices"], p["term_months"])
            by_option.setdefault(key, []).append(
                Price(p["region"], p["currency"], p["amount_minor"])
            )
        by_plan: dict[str, list[PlanOption]] = {}
        for o in options:
            key = (o["plan_id"], o["devices"], o["term_months"])
            by_plan.setdefault(o["plan_id"], []).append(
                PlanOption(o["devices"], o["term_months"], tuple(by_option.get(key, ())))
            )
        return [
            Plan(
                id=r["id"],
                tier=Tier.from_key(r["tier"]),
                name=r["name"],
                name_ru=r["name_ru"],
                features=tuple(r["features"]),
                options=tuple(by_plan.get(r["id"], ())),
                on_sale=r["on_sale"],
            )
            for r in rows
        ]

    # codes

    async def insert_codes(self, codes: Sequence[IssuedCode]) -> None:
        await self._conn.executemany(
            "INSERT INTO activation_codes"
            " (code_hash, prefix, plan_id, devices, term_months, batch_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (c.digest, c.prefix, c.plan_id, c.devices, c.term_months, c.batch_id, c.created_at)
                for c in codes
            ],
        )

    async def code_for_update(self, digest: bytes) -> IssuedCode | None:
        row = await self._conn.fetchrow(_CODE_FOR_UPDATE, digest)
        return None if row is None else _code(row)

    async def mark_code_redeemed(
        self,
        digest: bytes,
        account_id: uuid.UUID,
        subscription_id: uuid.UUID,
        renewal: bool,
        now: datetime,
    ) -> None:
        status = await self._conn.execute(
            "UPDATE activation_codes SET redeemed_by = $2, redeemed_at = $3,"
            " subscription_id = $4, renewal = $5 WHERE code_hash = $1 AND redeemed_by IS NULL",
            digest,
            account_id,
            now,
            subscription_id,
            renewal,
        )
        if status != "UPDATE 1":  # the row is locked by this transaction: cannot happen
            raise RuntimeError("activation code changed under its lock")

    async def lock_redeem_throttle(self, account_id: uuid.UUID, now: datetime) -> RedeemThrottle:
        await self._conn.execute(
            "INSERT INTO redeem_throttle (account_id, failures, window_started_at)"
            " VALUES ($1, 0, $2) ON CONFLICT (account_id) DO NOTHING",
            account_id,
            now,
        )
        row = await self._conn.fetchrow(
            "SELECT failures, window_started_at FROM redeem_throttle"
            " WHERE account_id = $1 FOR UPDATE",
            account_id,
        )
        assert row is not None
        return RedeemThrottle(row["failures"], row["window_started_at"])

    async def save_redeem_throttle(self, account_id: uuid.UUID, state: RedeemThrottle) -> None:
        await self._conn.execute(
            "UPDATE redeem_throttle SET failures = $2, window_started_at = $3"
            " WHERE account_id = $1",
            account_id,
            state.failures,
            state.window_started_at,
        )

    # subscriptions

    async def subscriptions_of(self, account_id: uuid.UUID) -> list[Subscription]:
        rows = await self._conn.fetch(_SUBSCRIPTIONS_OF, account_id)
        return [subscription_from_row(r) for r in rows]

    async def subscription(self, subscription_id: uuid.UUID) -> Subscription | None:
        row = await self._conn.fetchrow(_SUBSCRIPTION_BY_ID, subscription_id)
        return None if row is None else subscription_from_row(row)

    async def renewable_subscription(
        self, account_id: uuid.UUID, plan_id: str, devices: int
    ) -> Subscription | None:
        row = await self._conn.fetchrow(_RENEWABLE, account_id, plan_id, devices)
        return None if row is None else subscription_from_row(row)

    async def insert_subscription(self, subscription: Subscription) -> None:
        s = subscription
        await self._conn.execute(
            "INSERT INTO subscriptions (id, account_id, plan_id, tier, devices, features,"
            " starts_at, ends_at, created_at, updated_at, status, auto_renew, payment_method,"
            " order_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13)",
            s.id,
            s.account_id,
            s.plan_id,
            s.tier.key,
            s.devices,
            list(s.features),
            s.starts_at,
            s.ends_at,
            s.created_at,
            s.status.value,
            s.auto_renew,
            s.payment_method,
            s.order_id,
        )

    async def update_subscription(self, subscription: Subscription, now: datetime) -> None:
        s = subscription
        await self._conn.execute(
            "UPDATE subscriptions SET tier = $2, features = $3, ends_at = $4, updated_at = $5,"
            " status = $6, auto_renew = $7, payment_method = $8 WHERE id = $1",
            s.id,
            s.tier.key,
            list(s.features),
            s.ends_at,
            now,
            s.status.value,
            s.auto_renew,
            s.payment_method,
        )

    async def subscription_for_update(self, subscription_id: uuid.UUID) -> Subscription | None:
        row = await self._conn.fetchrow(_SUBSCRIPTION_BY_ID + " FOR UPDATE", subscription_id)
        return None if row is None else subscription_from_row(row)

    # entitlements

    async def replace_entitlements(
        self, account_id: uuid.UUID, entitlements: Sequence[Entitlement]
    ) -> None:
        self.entitlements_rewritten.append(account_id)
        await self._conn.execute("DELETE FROM entitlements WHERE account_id = $1", account_id)
        await self._conn.executemany(
            "INSERT INTO entitlements (account_id, feature, subscription_id, tier, valid_until)"
            " VALUES ($1, $2, $3, $4, $5)",
            [
                (account_id, e.feature, e.subscription_id, e.tier.key, e.valid_until)
                for e in entitlements
            ],
        )

    async def entitlements_of(self, account_id: uuid.UUID, now: datetime) -> list[Entitlement]:
        rows = await self._conn.fetch(
            "SELECT feature, subscription_id, tier, valid_until FROM entitlements"
            " WHERE account_id = $1 AND valid_until > $2 ORDER BY feature",
            account_id,
            now,
        )
        return [_entitlement(r) for r in rows]

    # outbox

    async def publish(self, event: Event) -> None:
        subject, message = to_message(event)
        await publish_event(self._conn, subject, message)
