"""Registration, activation and the account made for a purchase, on fakes of the ports."""

import time
from datetime import timedelta

import pytest

from identity.domain.events import (
    AccountActivated,
    AccountCreatedForPurchase,
    AccountRegistered,
    PasswordChanged,
)
from identity.domain.model import AccountStatus, Client
from kabinet.errors import DomainError, ErrorKind

PASSWORD = "Correct-horse-7"
PUBLIC_URL = "https://portal.kabinet.test"


def token_of(mail, page: str) -> str:
    link = mail.values["link"]
    prefix = f"{PUBLIC_URL}/{page}?token="
    assert link.startswith(prefix), link
    return link[len(prefix) :]


async def test_registration_creates_an_inactive_account_with_mail_and_event(
    services, store, clock
) -> None:
    await services.registration.register(" Anna@Example.COM ", PASSWORD, "ru-RU", Client())
    account = store.account("anna@example.com")
    assert account.email == "Anna@example.com"
    assert account.status is AccountStatus.PENDING_ACTIVATION
    assert account.language == "ru"
    assert account.password_hash != PASSWORD
    [mail] = store.mails
    assert (mail.to, mail.template, mail.language) == ("Anna@example.com", "activation", "ru")
    assert mail.values["hours"] == "48"
    assert store.events == [AccountRegistered(account.id, account.email, "ru", clock())]
    # Only the hash of the link's token is stored, bound to the account and its purpose.
    [(token_hash, link)] = store.state.links.items()
    assert token_of(mail, "activate").encode() not in token_hash
    assert link["account_id"] == account.id
    assert link["expires_at"] == clock() + timedelta(hours=48)


async def test_a_known_email_gets_the_same_answer_and_work_and_a_notice(
    services, store, passwords
) -> None:
    await services.registration.register("known@example.com", PASSWORD, "en", Client())
    token = token_of(store.mails[0], "activate")
    await services.registration.activate(token)
    hashes_before = passwords.hashed
    state_before = dict(store.state.accounts)

    answer = await services.registration.register(
        "KNOWN@example.com", "Other-pass-99", "ru", Client()
    )

    assert answer is None
    assert passwords.hashed == hashes_before + 1  # the password was hashed all the same
    assert store.state.accounts == state_before
    assert [m.template for m in store.mails] == ["activation", "already_registered"]
    assert store.mails[-1].language == "en"  # the owner's language, not the caller's
    assert [type(e) for e in store.events] == [AccountRegistered, AccountActivated]


async def test_registering_a_waiting_account_again_resends_its_activation(services, store) -> None:
    await services.registration.register("waiting@example.com", PASSWORD, "en", Client())
    first = token_of(store.mails[0], "activate")
    await services.registration.register("waiting@example.com", PASSWORD, "en", Client())
    assert [m.template for m in store.mails] == ["activation", "activation"]
    with pytest.raises(DomainError) as caught:
        await services.registration.activate(first)  # retired by the newer link
    assert caught.value.code == "activation.link_invalid"
    await services.registration.activate(token_of(store.mails[1], "activate"))


async def test_a_password_breaking_rules_is_refused_with_every_violation(services, store) -> None:
    with pytest.raises(DomainError) as caught:
        await services.registration.register("weak@example.com", "short", "en", Client())
    error = caught.value
    assert (error.kind, error.code) == (ErrorKind.INVALID_ARGUMENT, "password.invalid")
    assert [v.code for v in error.violations] == ["password.too_short", "password.no_digit"]
    assert store.state.accounts == {}
    assert store.mails == []


async def test_an_invalid_email_is_refused(services) -> None:
    with pytest.raises(DomainError) as caught:
        await services.registration.register("no-at-sign", PASSWORD, "en", Client())
    assert caught.value.code == "email.invalid"


async def test_both_answers_take_at_least_the_configured_time(make_services) -> None:
    from identity.config import LinkSettings

    services = await make_services(links=LinkSettings(anonymous_min_duration=0.2))
    durations = []
    for _ in range(2):  # a new email, then the same (known) email
        started = time.monotonic()
        await services.registration.register("timed@example.com", PASSWORD, "en", Client())
        durations.append(time.monotonic() - started)
    assert min(durations) >= 0.199


async def test_activation_works_once_and_activates(services, store) -> None:
    await services.registration.register("once@example.com", PASSWORD, "en", Client())
    token = token_of(store.mails[0], "activate")
    account_id = await services.registration.activate(token)
    assert store.account("once@example.com").status is AccountStatus.ACTIVE
    assert isinstance(store.events[-1], AccountActivated)
    with pytest.raises(DomainError) as caught:
        await services.registration.activate(token)
    assert caught.value.code == "activation.link_invalid"
    assert account_id == store.account("once@example.com").id


@pytest.mark.parametrize("token", ["", "short", "A" * 43, "x" * 5000, "krt_" + "A" * 43])
async def test_malformed_activation_tokens_get_the_one_error(services, token: str) -> None:
    with pytest.raises(DomainError) as caught:
        await services.registration.activate(token)
    assert (caught.value.kind, caught.value.code) == (
        ErrorKind.INVALID_ARGUMENT,
        "activation.link_invalid",
    )


async def test_an_expired_activation_link_is_refused(services, store, clock) -> None:
    await services.registration.register("late@example.com", PASSWORD, "en", Client())
    clock.advance(hours=48)
    with pytest.raises(DomainError) as caught:
        await services.registration.activate(token_of(store.mails[0], "activate"))
    assert caught.value.code == "activation.link_invalid"


async def test_a_link_of_another_purpose_does_not_activate(services, store) -> None:
    await services.registration.register("purpose@example.com", PASSWORD, "en", Client())
    await services.accounts.forgot_password("purpose@example.com")
    reset_token = token_of(store.mails[-1], "reset-password")
    with pytest.raises(DomainError):
        await services.registration.activate(reset_token)


async def test_resending_is_rate_limited_and_silent(services, store, clock) -> None:
    await services.registration.register("again@example.com", PASSWORD, "en", Client())
    for _ in range(5):
        await services.registration.resend_activation("again@example.com", Client())
    limit = services.settings.links.per_account_limit
    assert [m.template for m in store.mails] == ["activation"] * limit
    clock.advance(seconds=services.settings.links.per_account_window + 1)
    await services.registration.resend_activation("again@example.com", Client())
    assert len(store.mails) == limit + 1


async def test_resending_to_unknown_or_active_accounts_sends_nothing(services, store) -> None:
    await services.registration.register("active@example.com", PASSWORD, "en", Client())
    await services.registration.activate(token_of(store.mails[0], "activate"))
    await services.registration.resend_activation("active@example.com", Client())
    await services.registration.resend_activation("unknown@example.com", Client())
    assert len(store.mails) == 1


async def test_ensure_for_purchase_is_idempotent(services, store) -> None:
    first = await services.registration.ensure_account_for_purchase(
        "Buyer@Example.com", "ru", "o-1"
    )
    second = await services.registration.ensure_account_for_purchase(
        "buyer@example.com", "en", "o-1"
    )
    assert first.created
    assert not second.created
    assert first.account_id == second.account_id
    account = store.account("buyer@example.com")
    assert not account.has_password
    assert account.status is AccountStatus.PENDING_ACTIVATION
    assert [m.template for m in store.mails] == ["create_password"]
    assert [type(e) for e in store.events] == [AccountCreatedForPurchase]
    assert store.events[0].order_id == "o-1"


async def test_ensure_mails_again_only_when_the_link_expired(services, store, clock) -> None:
    await services.registration.ensure_account_for_purchase("slow@example.com", "en", "o-1")
    clock.advance(seconds=services.settings.links.create_password_ttl + 1)
    result = await services.registration.ensure_account_for_purchase(
        "slow@example.com", "en", "o-2"
    )
    assert not result.created
    assert [m.template for m in store.mails] == ["create_password", "create_password"]


async def test_ensure_for_an_existing_active_account_changes_nothing(services, store) -> None:
    await services.registration.register("member@example.com", PASSWORD, "en", Client())
    await services.registration.activate(token_of(store.mails[0], "activate"))
    result = await services.registration.ensure_account_for_purchase(
        "member@example.com", "en", "o"
    )
    assert not result.created
    assert result.account_id == store.account("member@example.com").id
    assert len(store.mails) == 1


async def test_setting_the_initial_password_activates_and_signs_in(services, store) -> None:
    ensured = await services.registration.ensure_account_for_purchase("new@example.com", "en", "o")
    token = token_of(store.mails[0], "create-password")

    with pytest.raises(DomainError) as caught:
        await services.registration.set_initial_password(token, "weak", Client())
    assert caught.value.code == "password.invalid"

    signed = await services.registration.set_initial_password(
        token, PASSWORD, Client(ip="192.0.2.1")
    )
    assert signed.account_id == ensured.account_id
    account = store.account("new@example.com")
    assert account.status is AccountStatus.ACTIVE
    assert account.has_password
    assert [type(e) for e in store.events][-2:] == [AccountActivated, PasswordChanged]
    [session] = store.state.sessions.values()
    assert (session.id, session.ip) == (signed.session_id, "192.0.2.1")
    token_check = await services.sessions.validate(signed.access_token)
    assert token_check.subject == str(account.id)
    with pytest.raises(DomainError) as caught:
        await services.registration.set_initial_password(token, PASSWORD, Client())
    assert caught.value.code == "password_setup.link_invalid"


async def test_check_password_reports_violations(services) -> None:
    assert [v.code for v in await services.registration.check_password("abc")] == [
        "password.too_short",
        "password.no_digit",
    ]
    assert await services.registration.check_password(PASSWORD, "anna@example.com") == []
