"""Redeeming activation codes with fakes of the store: new subscriptions, renewals, refusals,
throttling, events and the entitlements they bring."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from kabinet.errors import DomainError, ErrorKind
from subscription.config import RedeemSettings
from subscription.domain import codes
from subscription.domain.events import (
    EntitlementsChanged,
    SubscriptionActivated,
    SubscriptionRenewed,
)
from subscription.domain.model import Tier
from subscription.domain.services import SubscriptionServices

RULES = RedeemSettings(max_failures=3, window=3600, max_issue=50)  # as in conftest


def _flip_check(code: str) -> str:
    """The code with a wrong check character."""
    last = code[-1]
    return code[:-1] + codes.ALPHABET[(codes.ALPHABET.index(last) + 1) % len(codes.ALPHABET)]


async def _code(
    services: SubscriptionServices, plan: str = "plus", devices: int = 3, term: int = 12
) -> str:
    [code] = (await services.issue_codes(plan, devices, term, 1)).codes
    return code


async def _refused(call: object, code: str) -> DomainError:
    with pytest.raises(DomainError) as error:
        await call  # type: ignore[misc]
    assert error.value.code == code
    return error.value


async def test_a_first_code_starts_a_subscription_with_its_plan(
    services: SubscriptionServices, store: Any, clock: Any
) -> None:
    account = uuid.uuid4()
    code = await _code(services, "plus", 3, 12)
    redeemed = await services.redeem(str(account), code.lower().replace("-", " "))
    sub = redeemed.subscription
    assert not redeemed.renewed
    assert (sub.account_id, sub.plan_id, sub.tier, sub.devices) == (account, "plus", Tier.PLUS, 3)
    assert sub.starts_at == clock.now
    assert sub.ends_at == datetime(2031, 1, 15, 12, tzinfo=UTC)
    assert set(sub.features) == {"antivirus", "vpn", "password_manager"}
    activated = [e for e in store.events if isinstance(e, SubscriptionActivated)]
    assert [e.subscription.id for e in activated] == [sub.id]
    assert activated[0].code_prefix == code[:5]
    changed = [e for e in store.events if isinstance(e, EntitlementsChanged)]
    assert {e.feature for e in changed[-1].entitlements} == set(sub.features)


async def test_a_second_code_of_the_same_plan_extends_from_the_current_end(
    services: SubscriptionServices, store: Any, clock: Any
) -> None:
    account = str(uuid.uuid4())
    first = await services.redeem(account, await _code(services, "plus", 3, 12))
    clock.advance(days=100)
    second = await services.redeem(account, await _code(services, "plus", 3, 24))
    assert second.renewed
    assert second.subscription.id == first.subscription.id
    assert second.subscription.ends_at == datetime(2033, 1, 15, 12, tzinfo=UTC)
    assert len(await services.list_subscriptions(account)) == 1
    [renewed] = [e for e in store.events if isinstance(e, SubscriptionRenewed)]
    assert renewed.previous_ends_at == first.subscription.ends_at


async def test_a_code_after_the_end_renews_from_now(
    services: SubscriptionServices, clock: Any
) -> None:
    account = str(uuid.uuid4())
    await services.redeem(account, await _code(services, "standard", 1, 12))
    clock.now = datetime(2031, 5, 31, 9, tzinfo=UTC)
    assert not (await services.check_entitlement(account, "antivirus")).entitled
    renewed = await services.redeem(account, await _code(services, "standard", 1, 12))
    assert renewed.renewed
    assert renewed.subscription.ends_at == datetime(2032, 5, 31, 9, tzinfo=UTC)
    assert (await services.check_entitlement(account, "antivirus")).entitled


async def test_another_plan_or_device_count_is_a_separate_subscription(
    services: SubscriptionServices,
) -> None:
    account = str(uuid.uuid4())
    await services.redeem(account, await _code(services, "standard", 1, 12))
    other_plan = await services.redeem(account, await _code(services, "premium", 1, 12))
    other_devices = await services.redeem(account, await _code(services, "standard", 5, 12))
    assert not other_plan.renewed
    assert not other_devices.renewed
    assert len(await services.list_subscriptions(account)) == 3


async def test_a_wrong_check_character_is_refused_before_any_lookup(
    services: SubscriptionServices, store: Any
) -> None:
    account = str(uuid.uuid4())
    code = await _code(services)
    before = store.state

    class Untouchable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the store was asked for {name}")

    services.store = Untouchable()  # type: ignore[assignment]
    error = await _refused(services.redeem(account, _flip_check(code)), "code.check_failed")
    assert error.kind is ErrorKind.INVALID_ARGUMENT
    await _refused(services.redeem(account, "not a code"), "code.malformed")
    services.store = store
    assert store.state is before


async def test_one_code_goes_to_one_account(services: SubscriptionServices) -> None:
    code = await _code(services)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await services.redeem(first, code)
    error = await _refused(services.redeem(second, code), "code.already_used")
    assert error.kind is ErrorKind.FAILED_PRECONDITION
    assert await services.list_subscriptions(second) == []


async def test_redeeming_ones_own_code_again_answers_the_same_and_changes_nothing(
    services: SubscriptionServices, store: Any
) -> None:
    account = str(uuid.uuid4())
    code = await _code(services)
    first = await services.redeem(account, code)
    events = len(store.events)
    again = await services.redeem(account, code)
    assert again.subscription == first.subscription
    assert len(store.events) == events


async def test_an_unknown_code_is_not_found(services: SubscriptionServices) -> None:
    error = await _refused(
        services.redeem(str(uuid.uuid4()), codes.generate().value), "code.not_found"
    )
    assert error.kind is ErrorKind.NOT_FOUND


async def test_guessing_is_throttled_per_account_until_the_window_ends(
    services: SubscriptionServices, clock: Any
) -> None:
    guesser, other = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(RULES.max_failures):
        await _refused(services.redeem(guesser, codes.generate().value), "code.not_found")
    real = await _code(services)
    error = await _refused(services.redeem(guesser, real), "code.too_many_attempts")
    assert error.kind is ErrorKind.RESOURCE_EXHAUSTED
    assert error.params["retry_after"] == str(RULES.window)
    # Typos do not reach the counter, and other accounts are not affected.
    await _refused(services.redeem(guesser, _flip_check(real)), "code.check_failed")
    assert (await services.redeem(other, await _code(services))).subscription
    clock.advance(seconds=RULES.window)
    assert (await services.redeem(guesser, real)).subscription.plan_id == "plus"


async def test_a_bad_account_id_is_refused(services: SubscriptionServices) -> None:
    await _refused(services.redeem("nobody", await _code(services)), "account.id_invalid")


async def test_issuing_checks_the_plan_option_and_count(services: SubscriptionServices) -> None:
    await _refused(services.issue_codes("gold", 1, 12, 1), "plan.not_found")
    await _refused(services.issue_codes("plus", 2, 12, 1), "plan.option_not_found")
    await _refused(services.issue_codes("plus", 1, 6, 1), "plan.option_not_found")
    await _refused(services.issue_codes("plus", 1, 12, 0), "codes.count_invalid")
    await _refused(services.issue_codes("plus", 1, 12, RULES.max_issue + 1), "codes.count_invalid")
    batch = await services.issue_codes("premium", 10, 24, 5)
    assert len(set(batch.codes)) == 5
    assert all(codes.parse(c) for c in batch.codes)


async def test_codes_are_stored_as_digests_only(services: SubscriptionServices, store: Any) -> None:
    batch = await services.issue_codes("plus", 1, 12, 3)
    stored = store.state.codes
    for code in batch.codes:
        parsed = codes.parse(code)
        assert stored[parsed.digest].prefix == parsed.value[:5]
        assert parsed.value not in repr(stored[parsed.digest])
