"""Sessions and tokens: refresh rotation, replay, revocation and validation, on fakes."""

import uuid

import pytest

from identity.domain.events import RevocationReason, SessionRevoked
from identity.domain.model import Client
from kabinet.errors import DomainError, ErrorKind

PASSWORD = "Correct-horse-7"


async def signed_in(services, store, email: str = "anna@example.com"):
    await services.registration.register(email, PASSWORD, "en", Client())
    await services.registration.activate(store.mails[-1].values["link"].split("token=")[1])
    return await services.signin.sign_in(email, PASSWORD, Client(ip="192.0.2.1"))


async def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


def revocations(store) -> list[tuple[uuid.UUID, RevocationReason]]:
    return [(e.session_id, e.reason) for e in store.events if isinstance(e, SessionRevoked)]


async def test_refresh_rotates_the_token_and_keeps_the_session(services, store, clock) -> None:
    signed = await signed_in(services, store)
    clock.advance(minutes=5)
    refreshed = await services.sessions.refresh(signed.refresh_token, Client(ip="192.0.2.99"))
    assert refreshed.session_id == signed.session_id
    assert refreshed.refresh_token != signed.refresh_token
    assert refreshed.access_token != signed.access_token
    session = store.state.sessions[signed.session_id]
    assert (session.last_seen_at, session.ip) == (clock(), "192.0.2.99")


async def test_replaying_a_spent_refresh_token_revokes_the_session(services, store) -> None:
    signed = await signed_in(services, store)
    refreshed = await services.sessions.refresh(signed.refresh_token, Client())
    error = await refused(services.sessions.refresh(signed.refresh_token, Client()))
    assert (error.kind, error.code) == (ErrorKind.UNAUTHENTICATED, "auth.refresh_invalid")
    assert revocations(store) == [(signed.session_id, RevocationReason.REPLAY)]
    await refused(services.sessions.refresh(refreshed.refresh_token, Client()))
    await refused(services.sessions.validate(refreshed.access_token))


@pytest.mark.parametrize("token", ["", "krt_short", "A" * 47, "krt_" + "A" * 43 + "x"])
async def test_malformed_refresh_tokens_are_refused(services, token: str) -> None:
    error = await refused(services.sessions.refresh(token, Client()))
    assert error.code == "auth.refresh_invalid"


async def test_a_session_ends_at_its_absolute_expiry(services, store, clock) -> None:
    signed = await signed_in(services, store)
    token = signed.refresh_token
    for _ in range(29):
        clock.advance(days=1)
        token = (await services.sessions.refresh(token, Client())).refresh_token
    clock.advance(days=1)
    error = await refused(services.sessions.refresh(token, Client()))
    assert error.code == "auth.refresh_invalid"


async def test_access_tokens_die_with_their_session(services, store) -> None:
    signed = await signed_in(services, store)
    validated = await services.sessions.validate(signed.access_token)
    assert (validated.subject, validated.session_id, validated.roles) == (
        str(signed.account_id),
        str(signed.session_id),
        (),
    )
    await services.sessions.sign_out(str(signed.session_id))
    error = await refused(services.sessions.validate(signed.access_token))
    assert (error.kind, error.code) == (ErrorKind.UNAUTHENTICATED, "token.invalid")
    assert await services.sessions.introspect(signed.access_token) is None
    assert revocations(store) == [(signed.session_id, RevocationReason.SIGN_OUT)]
    # Signing out again is fine and says nothing more.
    await services.sessions.sign_out(str(signed.session_id))
    await services.sessions.sign_out("not-a-uuid")
    assert len(revocations(store)) == 1


async def test_expired_access_tokens_are_refused(services, store, clock) -> None:
    signed = await signed_in(services, store)
    clock.advance(minutes=11)
    await refused(services.sessions.validate(signed.access_token))


async def test_owners_revoke_their_own_sessions_only(services, store) -> None:
    first = await signed_in(services, store)
    second = await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    third = await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    other = await signed_in(services, store, "boris@example.com")

    error = await refused(services.sessions.revoke(str(other.account_id), str(first.session_id)))
    assert (error.kind, error.code) == (ErrorKind.NOT_FOUND, "session.not_found")
    await services.sessions.revoke(str(first.account_id), str(second.session_id))
    error = await refused(services.sessions.revoke(str(first.account_id), str(second.session_id)))
    assert error.code == "session.not_found"

    live = await services.sessions.live_sessions(str(first.account_id))
    assert {s.id for s in live} == {first.session_id, third.session_id}
    revoked = await services.sessions.revoke_others(str(first.account_id), str(first.session_id))
    assert revoked == 1
    assert [s.id for s in await services.sessions.live_sessions(str(first.account_id))] == [
        first.session_id
    ]
    assert await services.sessions.live_ids(
        [
            str(first.session_id),
            str(second.session_id),
            str(third.session_id),
            "junk",
            str(other.session_id),
        ]
    ) == [str(first.session_id), str(other.session_id)]


async def test_too_many_session_ids_at_once_are_refused(services) -> None:
    limit = services.settings.tokens.max_session_checks
    error = await refused(services.sessions.live_ids([str(uuid.uuid4())] * (limit + 1)))
    assert (error.kind, error.code) == (ErrorKind.INVALID_ARGUMENT, "sessions.too_many_ids")


async def test_roles_travel_in_the_token(services, store) -> None:
    import dataclasses

    signed = await signed_in(services, store)
    account = store.state.accounts[signed.account_id]
    store.state.accounts[account.id] = dataclasses.replace(account, roles=("support",))
    again = await services.signin.sign_in("anna@example.com", PASSWORD, Client())
    assert (await services.sessions.validate(again.access_token)).roles == ("support",)
