"""The entitlements read model: what an account's subscriptions let it use, per feature.

It is derived from the account's own subscriptions whenever one changes, in the same
transaction, and stored per (account, feature) so that ``CheckEntitlement`` is one indexed read.
Each feature is held by the subscription that includes it for the longest (then the highest tier);
an entitlement whose ``valid_until`` has passed is simply not live, so expiry needs no job.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from subscription.domain.model import Entitlement, Plan, Subscription, Tier


def derive(
    subscriptions: Iterable[Subscription], now: datetime, grace: timedelta = timedelta(0)
) -> tuple[Entitlement, ...]:
    """The account's entitlements from its live subscriptions, sorted by feature. A subscription
    keeps working ``grace`` after its end; cancelled, refunded and expired ones give nothing."""
    best: dict[str, Entitlement] = {}
    for sub in subscriptions:
        if not sub.is_active(now, grace):
            continue
        until = sub.ends_at + grace
        for feature in sub.features:
            held = best.get(feature)
            if held is None or (until, sub.tier) > (held.valid_until, held.tier):
                best[feature] = Entitlement(feature, sub.id, sub.tier, until)
    return tuple(best[f] for f in sorted(best))


def required_tier(plans: Iterable[Plan], feature: str) -> Tier | None:
    """The cheapest tier of a plan on sale that includes ``feature`` (None: no plan does)."""
    tiers = [p.tier for p in plans if p.on_sale and feature in p.features]
    return min(tiers) if tiers else None
