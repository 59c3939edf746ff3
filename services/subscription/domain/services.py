"""The subscription use cases: the catalog, activation codes, subscriptions and entitlements.

Redeeming a code takes turns per account (the account's throttling row is locked), locks the
code's row (so one code goes to one account even when two redeem it at once), then creates or
renews the subscription, rewrites the account's entitlements and queues the events, all in one
transaction. A failed guess is counted in a transaction that commits before the error goes back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from kabinet.errors import DomainError
from subscription.config import RedeemSettings
from subscription.domain import codes, errors, throttling
from subscription.domain.dates import renewed_end
from subscription.domain.events import (
    SubscriptionActivated,
    SubscriptionRenewed,
)
from subscription.domain.model import (
    Entitlement,
    EntitlementCheck,
    IssuedBatch,
    IssuedCode,
    Plan,
    PlanOption,
    Price,
    Redeemed,
    Subscription,
    SubscriptionStatus,
)
from subscription.domain.orders import refresh_entitlements
from subscription.domain.ports import Clock, Store, Transaction

_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def parse_account_id(account_id: str) -> uuid.UUID:
    """The account id a caller sent, or ``account.id_invalid``."""
    try:
        return uuid.UUID(account_id)
    except (ValueError, AttributeError, TypeError):
        raise errors.account_id_invalid() from None


def parse_feature(feature: str) -> str:
    name = feature.strip().lower()
    if not _FEATURE.match(name):
        raise errors.feature_invalid()
    return name


class SubscriptionServices:
    """Every use case, on one store and clock."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        rules: RedeemSettings,
        grace: timedelta = timedelta(0),
    ) -> None:
        self.store = store
        self._clock = clock
        self._rules = rules
        self.grace = grace

    def now(self) -> datetime:
        """The use cases' clock (the transport says "active" or "expired" by it)."""
        return self._clock()

    # catalog

    async def seed_plans(self, plans: Sequence[Plan]) -> bool:
        """Make the database's catalog the seed's when the seed changed since it was last
        applied (every replica runs it; operators' changes through the admin RPCs stay until the
        seed file changes). True when it was applied."""
        digest = hashlib.sha256(repr(tuple(plans)).encode()).digest()
        async with self.store.transaction() as tx:
            if not await tx.swap_seed_digest(digest, self._clock()):
                return False
            await tx.save_plans(plans, self._clock())
        return True

    async def save_plan(self, plan: Plan) -> Plan:
        """Operators: create a plan or replace it whole."""
        async with self.store.transaction() as tx:
            await tx.save_plan(plan, self._clock())
            saved = await tx.plan(plan.id)
        assert saved is not None
        return saved

    async def set_price(self, plan_id: str, devices: int, term_months: int, price: Price) -> Plan:
        """Operators: one option's price in one region (the option is added when new)."""
        async with self.store.transaction() as tx:
            plan = await tx.plan(plan_id.strip().lower())
            if plan is None:
                raise errors.plan_not_found(plan_id)
            option = plan.option(devices, term_months) or PlanOption(devices, term_months)
            prices = (*(p for p in option.prices if p.region != price.region), price)
            changed = PlanOption(devices, term_months, prices)
            options = tuple(
                o
                for o in plan.options
                if o is not option and (o.devices, o.term_months) != (devices, term_months)
            )
            updated = dataclasses.replace(plan, options=(*options, changed))
            await tx.save_plan(updated, self._clock())
            saved = await tx.plan(plan.id)
        assert saved is not None
        return saved

    async def set_on_sale(self, plan_id: str, on_sale: bool) -> Plan:
        """Operators: a plan on sale or off it."""
        async with self.store.transaction() as tx:
            plan = await tx.plan(plan_id.strip().lower())
            if plan is None:
                raise errors.plan_not_found(plan_id)
            await tx.save_plan(dataclasses.replace(plan, on_sale=on_sale), self._clock())
            saved = await tx.plan(plan.id)
        assert saved is not None
        return saved

    async def list_plans(self, region: str = "") -> list[Plan]:
        """The plans on sale, with the options priced in ``region`` (every region when empty)."""
        region = region.strip().upper()
        async with self.store.connection() as db:
            plans = await db.plans()
        return [p.in_region(region) for p in plans if p.on_sale]

    async def get_plan(self, plan_id: str, region: str = "") -> Plan:
        """One plan (also off sale) with ``region``'s prices."""
        async with self.store.connection() as db:
            plan = await db.plan(plan_id.strip().lower())
        if plan is None:
            raise errors.plan_not_found(plan_id)
        return plan.in_region(region.strip().upper())

    # codes

    async def issue_codes(
        self, plan_id: str, devices: int, term_months: int, count: int
    ) -> IssuedBatch:
        """``count`` new codes for a plan option; the only time the codes exist in clear."""
        if not 1 <= count <= self._rules.max_issue:
            raise errors.codes_count_invalid(self._rules.max_issue)
        now = self._clock()
        batch = uuid.uuid4()
        async with self.store.transaction() as tx:
            plan = await tx.plan(plan_id.strip().lower())
            if plan is None:
                raise errors.plan_not_found(plan_id)
            if plan.option(devices, term_months) is None:
                raise errors.plan_option_not_found(devices, term_months)
            fresh = [codes.generate() for _ in range(count)]
            await tx.insert_codes(
                [
                    IssuedCode(
                        digest=c.digest,
                        prefix=c.prefix,
                        plan_id=plan.id,
                        devices=devices,
                        term_months=term_months,
                        batch_id=batch,
                        created_at=now,
                    )
                    for c in fresh
                ]
            )
        return IssuedBatch(batch, tuple(c.formatted() for c in fresh))

    async def redeem(self, account_id: str, typed: str) -> Redeemed:
        """Add a code to the account; see the module's note. Typos are refused before any read."""
        account = parse_account_id(account_id)
        try:
            code = codes.parse(typed)
        except codes.CheckFailed:
            raise errors.code_check_failed() from None
        except codes.Malformed:
            raise errors.code_malformed() from None
        now = self._clock()
        failure: DomainError
        async with self.store.transaction() as tx:
            throttle = await tx.lock_redeem_throttle(account, now)
            wait = throttling.retry_after(throttle, now, self._rules)
            if wait is not None:
                raise errors.too_many_attempts(wait)
            issued = await tx.code_for_update(code.digest)
            if issued is not None and issued.redeemed_by is None:
                return await self._apply(tx, account, code, issued, now)
            if issued is not None and issued.redeemed_by == account:
                # The same request again (a retry): the same answer, nothing changes.
                assert issued.subscription_id is not None
                again = await tx.subscription(issued.subscription_id)
                assert again is not None
                return Redeemed(again, renewed=issued.renewal)
            failure = errors.code_not_found() if issued is None else errors.code_already_used()
            await tx.save_redeem_throttle(
                account, throttling.after_failure(throttle, now, self._rules)
            )
        raise failure

    async def _apply(
        self,
        tx: Transaction,
        account: uuid.UUID,
        code: codes.Code,
        issued: IssuedCode,
        now: datetime,
    ) -> Redeemed:
        plan = await tx.plan(issued.plan_id)
        assert plan is not None, "codes refer to plans, which are never deleted"
        current = await tx.renewable_subscription(account, plan.id, issued.devices)
        if current is None:
            subscription = Subscription.start(
                account, plan, issued.devices, issued.term_months, now
            )
            await tx.insert_subscription(subscription)
            await tx.publish(SubscriptionActivated(subscription, code.prefix, now))
        else:
            subscription = dataclasses.replace(
                current,
                tier=plan.tier,
                features=plan.features,
                ends_at=renewed_end(current.ends_at, now, issued.term_months),
                status=(
                    SubscriptionStatus.ACTIVE
                    if current.status is SubscriptionStatus.EXPIRED
                    else current.status
                ),
            )
            await tx.update_subscription(subscription, now)
            await tx.publish(SubscriptionRenewed(subscription, current.ends_at, code.prefix, now))
        await tx.mark_code_redeemed(code.digest, account, subscription.id, current is not None, now)
        await self._refresh_entitlements(tx, account, now)
        return Redeemed(subscription, renewed=current is not None)

    async def _refresh_entitlements(
        self, tx: Transaction, account: uuid.UUID, now: datetime
    ) -> None:
        await refresh_entitlements(tx, account, now, self.grace)

    # subscriptions and entitlements

    async def list_subscriptions(self, account_id: str) -> list[Subscription]:
        account = parse_account_id(account_id)
        async with self.store.connection() as db:
            return await db.subscriptions_of(account)

    async def list_subscriptions_with_seats(
        self, account_id: str
    ) -> tuple[list[Subscription], dict[uuid.UUID, int]]:
        """The account's subscriptions and how many devices each protects."""
        account = parse_account_id(account_id)
        async with self.store.connection() as db:
            subscriptions = await db.subscriptions_of(account)
            in_use = await db.seats_in_use([s.id for s in subscriptions])
        return subscriptions, in_use

    async def check_entitlement(self, account_id: str, feature: str) -> EntitlementCheck:
        """Whether the account may use ``feature`` now, or which tier would let it."""
        return await self.store.check_entitlement(
            parse_account_id(account_id), parse_feature(feature), self._clock()
        )

    async def list_entitlements(self, account_id: str) -> list[Entitlement]:
        account = parse_account_id(account_id)
        async with self.store.connection() as db:
            return await db.entitlements_of(account, self._clock())
