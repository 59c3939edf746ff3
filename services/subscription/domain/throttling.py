"""Throttling of activation-code guesses, per account, kept in PostgreSQL for every replica.

A failed redemption (a well-formed code that is unknown, or redeemed by another account) counts;
typos refused by the check character do not, since they never reach the database. After
``max_failures`` failures within ``window`` seconds of the first, the account may not redeem any
code until the window ends (``code.too_many_attempts`` with ``retry_after``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from subscription.config import RedeemSettings
from subscription.domain.model import RedeemThrottle


def retry_after(state: RedeemThrottle | None, now: datetime, rules: RedeemSettings) -> int | None:
    """Seconds the account must still wait (rounded up), or None when it may try now."""
    if state is None or state.failures < rules.max_failures:
        return None
    ends = state.window_started_at + timedelta(seconds=rules.window)
    if ends <= now:
        return None
    return max(1, math.ceil((ends - now).total_seconds()))


def after_failure(
    state: RedeemThrottle | None, now: datetime, rules: RedeemSettings
) -> RedeemThrottle:
    """The state after one more failure."""
    if state is None or now - state.window_started_at >= timedelta(seconds=rules.window):
        return RedeemThrottle(1, now)
    return RedeemThrottle(state.failures + 1, state.window_started_at)
