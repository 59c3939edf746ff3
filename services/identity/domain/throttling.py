"""Sign-in throttling rules, per account and per client address.

The state lives in PostgreSQL (every replica sees the same counters); these functions decide what
a failure does to it, so the rules are plain code with their own tests.

- Per client address: the first ``ip_free_failures`` failures in a window cost nothing; each one
  after that makes the address wait, twice as long each time, up to ``ip_max_delay``. A waiting
  address is answered ``auth.too_many_attempts`` with ``retry_after`` before any password is
  checked. IPv6 addresses count per /64, the block one subscriber usually gets.
- Per account (existing accounts only: an unknown email creates no state): ``account_max_failures``
  failures in a window lock it for ``account_lock``. A locked account answers every attempt,
  right password included, with the generic ``auth.invalid_credentials``; attempts while locked
  neither count nor extend the lock; a success or a password reset clears the state.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

from identity.config import ThrottleSettings
from identity.domain.model import AccountThrottle, ClientThrottle

UNKNOWN_CLIENT = "unknown"
IPV6_PREFIX = 64
# 2**40 seconds is far beyond any sensible maximum delay: cap the exponent before computing it.
_MAX_DOUBLINGS = 40


def client_key(ip: str) -> str:
    """The throttling key of a client address: the IPv4 address, or the IPv6 /64."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def client_retry_after(state: ClientThrottle | None, now: datetime) -> int | None:
    """Seconds the address must still wait (rounded up), or None when it may try now."""
    if state is None or state.blocked_until is None or state.blocked_until <= now:
        return None
    return max(1, math.ceil((state.blocked_until - now).total_seconds()))


def client_after_failure(
    state: ClientThrottle, now: datetime, rules: ThrottleSettings
) -> ClientThrottle:
    """The address's state after one more failed sign-in."""
    if now - state.window_started_at >= timedelta(seconds=rules.ip_window):
        failures, started = 1, now
    else:
        failures, started = state.failures + 1, state.window_started_at
    blocked_until = None
    excess = failures - rules.ip_free_failures
    if excess > 0:
        delay = rules.ip_base_delay * 2 ** min(excess - 1, _MAX_DOUBLINGS)
        blocked_until = now + timedelta(seconds=min(delay, rules.ip_max_delay))
    return ClientThrottle(failures=failures, window_started_at=started, blocked_until=blocked_until)


def account_after_failure(
    state: AccountThrottle, now: datetime, rules: ThrottleSettings
) -> tuple[AccountThrottle, bool]:
    """The account's state after one more failed sign-in, and whether this failure locked it.

    A failure while locked changes nothing. After a lock has run out the count starts afresh.
    """
    if state.is_locked(now):
        return state, False
    window_over = now - state.window_started_at >= timedelta(seconds=rules.account_window)
    if window_over or state.locked_until is not None:
        failures, started = 1, now
    else:
        failures, started = state.failures + 1, state.window_started_at
    if failures >= rules.account_max_failures:
        locked = AccountThrottle(
            failures=0,
            window_started_at=now,
            locked_until=now + timedelta(seconds=rules.account_lock),
        )
        return locked, True
    return AccountThrottle(failures=failures, window_started_at=started), False
