"""Self-service on fakes: reset, change, email change, profile, deletion."""

import pytest

from identity.domain.events import (
    AccountActivated,
    AccountDeleted,
    PasswordChanged,
    PasswordChangeReason,
    RevocationReason,
    SessionRevoked,
)
from identity.domain.model import AccountStatus, Client
from kabinet.errors import DomainError, ErrorKind

PASSWORD = "Correct-horse-7"
NEW_PASSWORD = "Battery-staple-9"


def token(mail) -> str:
    return mail.values["link"].split("token=")[1]


async def signed_in(services, store, email: str = "anna@example.com"):
    await services.registration.register(email, PASSWORD, "en", Client())
    await services.registration.activate(token(store.mails[-1]))
    return await services.signin.sign_in(email, PASSWORD, Client())


async def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


async def test_forgot_password_mails_a_short_lived_link_and_is_rate_limited(
    services, store
) -> None:
    await signed_in(services, store)
    for _ in range(5):
        await services.accounts.forgot_password("ANNA@example.com")
        await services.accounts.forgot_password("ghost@example.com")
    resets = [m for m in store.mails if m.template == "password_reset"]
    assert len(resets) == services.settings.links.per_account_limit
    assert {m.to for m in resets} == {"anna@example.com"}
    assert resets[0].values["hours"] == "1"
    assert resets[0].values["link"].startswith("https://portal.kabinet.test/reset-password?token=")


async def test_reset_sets_the_password_revokes_every_session_and_unlocks(
    services, store, clock
) -> None:
    first = await signed_in(services, store)
    second = await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    for _ in range(3):
        await refused(services.signin.sign_in("anna@example.com", "Wrong-pass-1", Client()))
    assert store.state.account_throttle[first.account_id].is_locked(clock())

    await services.accounts.forgot_password("anna@example.com")
    link = token(store.mails[-1])
    await services.accounts.reset_password(link, NEW_PASSWORD)

    assert first.account_id not in store.state.account_throttle
    revoked = {e.session_id for e in store.events if isinstance(e, SessionRevoked)}
    assert revoked == {first.session_id, second.session_id}
    assert {e.reason for e in store.events if isinstance(e, SessionRevoked)} == {
        RevocationReason.RESET
    }
    assert PasswordChanged(first.account_id, PasswordChangeReason.RESET, clock()) in store.events
    assert store.mails[-1].template == "password_changed"
    await services.signin.sign_in("anna@example.com", NEW_PASSWORD, Client())
    error = await refused(services.accounts.reset_password(link, "Another-one-5"))
    assert (error.kind, error.code) == (ErrorKind.INVALID_ARGUMENT, "password_reset.link_invalid")


async def test_a_reset_link_expires_within_the_hour(services, store, clock) -> None:
    await signed_in(services, store)
    await services.accounts.forgot_password("anna@example.com")
    clock.advance(hours=1)
    error = await refused(services.accounts.reset_password(token(store.mails[-1]), NEW_PASSWORD))
    assert error.code == "password_reset.link_invalid"


async def test_a_refused_new_password_keeps_the_reset_link(services, store) -> None:
    await signed_in(services, store)
    await services.accounts.forgot_password("anna@example.com")
    link = token(store.mails[-1])
    error = await refused(services.accounts.reset_password(link, "short"))
    assert error.code == "password.invalid"
    await services.accounts.reset_password(link, NEW_PASSWORD)


async def test_reset_activates_a_waiting_account(services, store) -> None:
    await services.registration.register("waiting@example.com", PASSWORD, "en", Client())
    await services.accounts.forgot_password("waiting@example.com")
    await services.accounts.reset_password(token(store.mails[-1]), NEW_PASSWORD)
    assert store.account("waiting@example.com").status is AccountStatus.ACTIVE
    assert any(isinstance(e, AccountActivated) for e in store.events)


async def test_change_password_needs_the_current_one_and_keeps_the_callers_session(
    services, store
) -> None:
    mine = await signed_in(services, store)
    other = await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    error = await refused(
        services.accounts.change_password(
            str(mine.account_id), str(mine.session_id), "Not-it-123", NEW_PASSWORD
        )
    )
    assert (error.kind, error.code) == (ErrorKind.PERMISSION_DENIED, "account.wrong_password")
    await services.accounts.change_password(
        str(mine.account_id), str(mine.session_id), PASSWORD, NEW_PASSWORD
    )
    await services.sessions.validate(mine.access_token)
    await refused(services.sessions.validate(other.access_token))
    assert [(e.session_id, e.reason) for e in store.events if isinstance(e, SessionRevoked)] == [
        (other.session_id, RevocationReason.PASSWORD_CHANGE)
    ]


async def test_wrong_current_passwords_count_towards_the_lock(services, store, clock) -> None:
    mine = await signed_in(services, store)
    for _ in range(3):
        await refused(
            services.accounts.change_password(
                str(mine.account_id), str(mine.session_id), "Not-it-123", NEW_PASSWORD
            )
        )
    assert store.state.account_throttle[mine.account_id].is_locked(clock())
    # Locked: even the right current password is refused, as is signing in.
    error = await refused(
        services.accounts.change_password(
            str(mine.account_id), str(mine.session_id), PASSWORD, NEW_PASSWORD
        )
    )
    assert error.code == "account.wrong_password"
    await refused(services.signin.sign_in("anna@example.com", PASSWORD, Client()))


async def test_email_change_goes_through_the_new_address(services, store) -> None:
    signed = await signed_in(services, store)
    await services.accounts.request_email_change(
        str(signed.account_id), PASSWORD, "New@Example.com"
    )
    confirm = store.mails[-1]
    assert (confirm.template, confirm.to) == ("email_change_confirm", "New@example.com")
    assert store.account("anna@example.com")  # nothing moved yet
    await services.accounts.confirm_email_change(token(confirm))
    assert store.state.accounts[signed.account_id].email == "New@example.com"
    notice = store.mails[-1]
    assert (notice.template, notice.to, notice.values["new_email"]) == (
        "email_changed_notice",
        "anna@example.com",
        "New@example.com",
    )
    error = await refused(services.accounts.confirm_email_change(token(confirm)))
    assert error.code == "email_change.link_invalid"


async def test_email_change_to_a_taken_address_answers_alike(services, store) -> None:
    signed = await signed_in(services, store)
    await signed_in(services, store, "boris@example.com")
    mails = len(store.mails)
    answer = await services.accounts.request_email_change(
        str(signed.account_id), PASSWORD, "BORIS@example.com"
    )
    assert answer is None
    assert [(m.template, m.to) for m in store.mails[mails:]] == [
        ("email_in_use", "boris@example.com")
    ]


async def test_email_change_needs_the_password_and_another_address(services, store) -> None:
    signed = await signed_in(services, store)
    error = await refused(
        services.accounts.request_email_change(str(signed.account_id), "Nope-1234", "x@example.com")
    )
    assert error.code == "account.wrong_password"
    error = await refused(
        services.accounts.request_email_change(str(signed.account_id), PASSWORD, "ANNA@example.com")
    )
    assert error.code == "email_change.same_address"


async def test_the_address_may_be_taken_before_the_link_is_used(services, store) -> None:
    signed = await signed_in(services, store)
    await services.accounts.request_email_change(str(signed.account_id), PASSWORD, "c@example.com")
    link = token(store.mails[-1])
    await signed_in(services, store, "c@example.com")
    error = await refused(services.accounts.confirm_email_change(link))
    assert error.code == "email_change.link_invalid"
    assert store.state.accounts[signed.account_id].email == "anna@example.com"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"language": "de"}, "profile.language_invalid"),
        ({"country": "XX"}, "profile.country_invalid"),
        ({"country": "RUS"}, "profile.country_invalid"),
        ({"name": "x" * 101}, "profile.name_invalid"),
        ({"name": "Anna\u200b"}, "profile.name_invalid"),
        ({"name": "Anna\u202e"}, "profile.name_invalid"),
        ({"name": "Anna\x00"}, "profile.name_invalid"),
    ],
)
async def test_profile_values_are_checked(services, store, change, code) -> None:
    signed = await signed_in(services, store)
    error = await refused(services.accounts.update_profile(str(signed.account_id), **change))
    assert (error.kind, error.code) == (ErrorKind.INVALID_ARGUMENT, code)


async def test_profile_changes_only_what_is_given(services, store) -> None:
    signed = await signed_in(services, store)
    account = await services.accounts.update_profile(
        str(signed.account_id), name=" Анна ", country="kz"
    )
    assert (account.name, account.country, account.language) == ("Анна", "KZ", "en")
    account = await services.accounts.update_profile(str(signed.account_id), language="ru")
    assert (account.name, account.country, account.language) == ("Анна", "KZ", "ru")
    account = await services.accounts.update_profile(str(signed.account_id), country="")
    assert account.country == ""


async def test_unknown_accounts_are_not_found(services) -> None:
    for account_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        error = await refused(services.accounts.get(account_id))
        assert (error.kind, error.code) == (ErrorKind.NOT_FOUND, "account.not_found")
        error = await refused(services.accounts.update_profile(account_id, name="x"))
        assert error.code == "account.not_found"


async def test_deleting_needs_the_password_and_erases_everything(services, store, clock) -> None:
    signed = await signed_in(services, store)
    error = await refused(services.accounts.delete(str(signed.account_id), "Not-it-123"))
    assert error.code == "account.wrong_password"
    await services.accounts.delete(str(signed.account_id), PASSWORD)
    assert signed.account_id not in store.state.accounts
    assert store.state.sessions == {}
    assert store.state.links == {}
    assert store.events[-1] == AccountDeleted(signed.account_id, clock())
    assert (
        SessionRevoked(
            signed.account_id, signed.session_id, RevocationReason.ACCOUNT_DELETED, clock()
        )
        in store.events
    )
    await refused(services.sessions.validate(signed.access_token))


async def test_an_account_without_password_cannot_confirm_by_password(services, store) -> None:
    ensured = await services.registration.ensure_account_for_purchase("p@example.com", "en", "o")
    error = await refused(services.accounts.delete(str(ensured.account_id), PASSWORD))
    assert (error.kind, error.code) == (ErrorKind.FAILED_PRECONDITION, "account.no_password")
