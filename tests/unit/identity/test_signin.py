"""Password sign-in and its throttling, on fakes of the ports."""

from datetime import timedelta

import pytest

from identity.config import ThrottleSettings
from identity.domain.model import Client, ClientKind
from kabinet.errors import DomainError, ErrorKind

PASSWORD = "Correct-horse-7"
WRONG = "Wrong-horse-8"
PUBLIC_URL = "https://portal.kabinet.test"


async def active_account(services, store, email: str = "anna@example.com"):
    await services.registration.register(email, PASSWORD, "en", Client())
    link = store.mails[-1].values["link"]
    await services.registration.activate(link.split("token=")[1])
    return store.account(email.lower())


async def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


async def test_the_right_password_opens_a_session(services, store, clock) -> None:
    account = await active_account(services, store)
    client = Client(ip="192.0.2.10", user_agent="Firefox", kind=ClientKind.BROWSER)
    signed = await services.signin.sign_in("ANNA@example.com ", PASSWORD, client)
    assert signed.account_id == account.id
    assert signed.expires_in == 600
    session = store.state.sessions[signed.session_id]
    assert (session.kind, session.ip, session.user_agent) == (
        ClientKind.BROWSER,
        "192.0.2.10",
        "Firefox",
    )
    assert session.expires_at == clock() + timedelta(days=30)
    assert signed.refresh_token.startswith("krt_")
    # Only the refresh token's hash is kept.
    assert all(signed.refresh_token.encode() not in h for h in store.state.refresh)


async def test_unknown_email_costs_a_dummy_verification_and_the_generic_answer(
    services, store, passwords
) -> None:
    error = await refused(services.signin.sign_in("ghost@example.com", PASSWORD, Client()))
    assert (error.kind, error.code) == (ErrorKind.UNAUTHENTICATED, "auth.invalid_credentials")
    assert passwords.dummy_verified == 1
    assert store.state.account_throttle == {}


async def test_wrong_password_and_unknown_email_answer_alike(services, store) -> None:
    await active_account(services, store)
    wrong = await refused(services.signin.sign_in("anna@example.com", WRONG, Client()))
    unknown = await refused(services.signin.sign_in("nobody@example.com", WRONG, Client()))
    assert (wrong.kind, wrong.code, wrong.params) == (unknown.kind, unknown.code, unknown.params)


async def test_not_activated_is_said_only_to_the_right_password(services, store) -> None:
    await services.registration.register("new@example.com", PASSWORD, "en", Client())
    right = await refused(services.signin.sign_in("new@example.com", PASSWORD, Client()))
    assert (right.kind, right.code) == (ErrorKind.FAILED_PRECONDITION, "account.not_activated")
    wrong = await refused(services.signin.sign_in("new@example.com", WRONG, Client()))
    assert wrong.code == "auth.invalid_credentials"


async def test_an_over_long_password_is_refused_without_hashing(services, store, passwords) -> None:
    await active_account(services, store)
    verified = passwords.verified
    error = await refused(services.signin.sign_in("anna@example.com", "A1" * 500_000, Client()))
    assert error.code == "auth.invalid_credentials"
    assert passwords.verified == verified
    assert passwords.dummy_verified == 0


async def test_lock_after_the_limit_with_the_right_password_refused_alike(
    services, store, clock
) -> None:
    account = await active_account(services, store)
    for _ in range(3):
        await refused(services.signin.sign_in("anna@example.com", WRONG, Client()))
    assert store.state.account_throttle[account.id].is_locked(clock())
    error = await refused(services.signin.sign_in("anna@example.com", PASSWORD, Client()))
    assert (error.kind, error.code, error.params) == (
        ErrorKind.UNAUTHENTICATED,
        "auth.invalid_credentials",
        {},
    )
    assert [m.template for m in store.mails].count("account_locked") == 1
    locked = store.state.account_throttle[account.id]
    for _ in range(5):
        await refused(services.signin.sign_in("anna@example.com", WRONG, Client()))
    assert store.state.account_throttle[account.id] == locked
    assert [m.template for m in store.mails].count("account_locked") == 1
    assert not any(s.account_id == account.id for s in store.state.sessions.values())

    clock.advance(seconds=services.settings.throttle.account_lock)
    signed = await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    assert signed.account_id == account.id
    assert account.id not in store.state.account_throttle


async def test_a_success_clears_the_failures(services, store) -> None:
    account = await active_account(services, store)
    for _ in range(2):
        await refused(services.signin.sign_in("anna@example.com", WRONG, Client()))
    await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    assert account.id not in store.state.account_throttle
    for _ in range(2):
        await refused(services.signin.sign_in("anna@example.com", WRONG, Client()))
    await services.signin.sign_in("anna@example.com", PASSWORD, Client())


async def test_an_address_past_its_free_failures_waits_before_any_check(
    services, store, passwords, clock
) -> None:
    await active_account(services, store)
    attacker = Client(ip="198.51.100.66")
    for number in range(5):
        await refused(services.signin.sign_in(f"x{number}@example.com", WRONG, attacker))
    await refused(services.signin.sign_in("x5@example.com", WRONG, attacker))  # the first wait
    checks = passwords.verified + passwords.dummy_verified
    error = await refused(services.signin.sign_in("anna@example.com", PASSWORD, attacker))
    assert (error.kind, error.code, error.params) == (
        ErrorKind.RESOURCE_EXHAUSTED,
        "auth.too_many_attempts",
        {"retry_after": "2"},
    )
    assert passwords.verified + passwords.dummy_verified == checks
    # Others are not held up, and the wait runs out.
    await services.signin.sign_in("anna@example.com", PASSWORD, Client(ip="192.0.2.1"))
    clock.advance(seconds=2)
    await services.signin.sign_in("anna@example.com", PASSWORD, attacker)


async def test_outdated_hashes_are_replaced_at_sign_in(services, store, passwords) -> None:
    account = await active_account(services, store)
    assert account.password_hash.startswith("fake-v1$")
    passwords.version = "v2"
    await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    assert store.account("anna@example.com").password_hash.startswith("fake-v2$")


async def test_a_disabled_account_gets_the_generic_answer(services, store) -> None:
    import dataclasses

    from identity.domain.model import AccountStatus

    account = await active_account(services, store)
    store.state.accounts[account.id] = dataclasses.replace(account, status=AccountStatus.DISABLED)
    error = await refused(services.signin.sign_in("anna@example.com", PASSWORD, Client()))
    assert error.code == "auth.invalid_credentials"


async def test_the_lock_mail_is_in_the_owners_language(make_services, store) -> None:
    services = await make_services(throttle=ThrottleSettings(account_max_failures=1))
    await services.registration.register("ru@example.com", PASSWORD, "ru", Client())
    await services.registration.activate(store.mails[-1].values["link"].split("token=")[1])
    await refused(services.signin.sign_in("ru@example.com", WRONG, Client()))
    locked = store.mails[-1]
    assert (locked.template, locked.language, locked.to) == (
        "account_locked",
        "ru",
        "ru@example.com",
    )


async def test_every_refusal_takes_at_least_the_configured_time(make_services, store) -> None:
    import time

    services = await make_services(
        throttle=ThrottleSettings(account_max_failures=2, failure_min_duration=0.15)
    )
    await active_account(services, store)
    attempts = [
        ("ghost@example.com", PASSWORD),  # unknown email
        ("anna@example.com", WRONG),  # wrong password
        ("anna@example.com", WRONG),  # wrong password, locks
        ("anna@example.com", PASSWORD),  # locked, right password
        ("not an email", PASSWORD),
    ]
    for email, password in attempts:
        started = time.monotonic()
        error = await refused(services.signin.sign_in(email, password, Client()))
        assert error.code == "auth.invalid_credentials"
        assert time.monotonic() - started >= 0.149
