"""The throttling rules on their own: keys, progressive waits, the account lock."""

from datetime import UTC, datetime, timedelta

import pytest

from identity.config import ThrottleSettings
from identity.domain.model import AccountThrottle, ClientThrottle
from identity.domain.throttling import (
    UNKNOWN_CLIENT,
    account_after_failure,
    client_after_failure,
    client_key,
    client_retry_after,
)

RULES = ThrottleSettings(
    account_max_failures=3,
    account_window=900,
    account_lock=600,
    ip_free_failures=2,
    ip_window=3600,
    ip_base_delay=1.0,
    ip_max_delay=60.0,
)
T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb::/64"),
        ("2001:db8:aa:bb:ffff::9", "2001:db8:aa:bb::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("", UNKNOWN_CLIENT),
        ("not an address", UNKNOWN_CLIENT),
        ("203.0.113.9, 10.0.0.1", UNKNOWN_CLIENT),
    ],
)
def test_client_keys(ip: str, key: str) -> None:
    assert client_key(ip) == key


def failures(count: int, start: datetime = T0, step: timedelta = timedelta(seconds=1)):
    state = ClientThrottle(0, start)
    now = start
    for _ in range(count):
        now += step
        state = client_after_failure(state, now, RULES)
    return state, now


def test_free_failures_cost_nothing_then_waits_double() -> None:
    waits = []
    for count in range(1, 7):
        state, now = failures(count)
        waits.append(client_retry_after(state, now))
    assert waits == [None, None, 1, 2, 4, 8]


def test_the_wait_is_capped() -> None:
    state, now = failures(40)
    assert client_retry_after(state, now) == 60


def test_a_wait_runs_out() -> None:
    state, now = failures(4)
    assert client_retry_after(state, now + timedelta(seconds=1.5)) == 1
    assert client_retry_after(state, now + timedelta(seconds=2)) is None


def test_the_client_window_restarts_the_count() -> None:
    state, now = failures(5)
    later = now + timedelta(seconds=RULES.ip_window)
    fresh = client_after_failure(state, later, RULES)
    assert fresh == ClientThrottle(1, later, None)


def test_no_state_means_no_wait() -> None:
    assert client_retry_after(None, T0) is None


def test_the_account_locks_at_the_limit_and_says_so_once() -> None:
    state = AccountThrottle(0, T0)
    outcomes = []
    for second in range(1, 4):
        state, locked_now = account_after_failure(state, T0 + timedelta(seconds=second), RULES)
        outcomes.append(locked_now)
    assert outcomes == [False, False, True]
    assert state.locked_until == T0 + timedelta(seconds=3 + RULES.account_lock)
    assert state.is_locked(T0 + timedelta(seconds=4))


def test_failures_while_locked_change_nothing() -> None:
    locked = AccountThrottle(0, T0, locked_until=T0 + timedelta(minutes=10))
    for minute in range(1, 10):
        after, locked_now = account_after_failure(locked, T0 + timedelta(minutes=minute), RULES)
        assert after == locked
        assert not locked_now


def test_after_a_lock_ends_the_count_starts_afresh() -> None:
    ended = AccountThrottle(0, T0, locked_until=T0 + timedelta(minutes=10))
    later = T0 + timedelta(minutes=11)
    after, locked_now = account_after_failure(ended, later, RULES)
    assert (after, locked_now) == (AccountThrottle(1, later), False)
    assert not after.is_locked(later)


def test_failures_outside_the_window_do_not_add_up() -> None:
    state = AccountThrottle(2, T0)
    later = T0 + timedelta(seconds=RULES.account_window)
    after, locked_now = account_after_failure(state, later, RULES)
    assert (after, locked_now) == (AccountThrottle(1, later), False)
