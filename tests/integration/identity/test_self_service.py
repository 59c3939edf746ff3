"""A person's own account over gRPC: sessions, password change and reset, email change, profile,
deletion; and the events other services rely on, read back from NATS JetStream."""

import asyncio
import base64
import json

import grpc
import nats
import pytest

from kabinet.identity.v1 import events_pb2
from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.rpc.errors import domain_error_from_rpc

pytestmark = pytest.mark.integration


async def active_account(identity, prefix: str) -> tuple[str, pb.SignInResponse]:
    email = identity.unique_email(prefix)
    since = identity.now()
    await identity.stub.Register(
        pb.RegisterRequest(email=email, password=identity.strong_password, language="en")
    )
    token = identity.link_token(await identity.mail_to(email, "Activate", since=since), "activate")
    await identity.stub.Activate(pb.ActivateRequest(token=token))
    return email, await sign_in(identity, email)


async def sign_in(
    identity, email: str, password: str | None = None, kind: int = pb.CLIENT_KIND_BROWSER
) -> pb.SignInResponse:
    return await identity.stub.SignIn(
        pb.SignInRequest(
            email=email,
            password=password or identity.strong_password,
            client=identity.client(kind=kind),
        )
    )


async def error_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), domain_error_from_rpc(caught.value).code


async def is_valid(identity, token: str) -> bool:
    return (await identity.stub.Introspect(pb.IntrospectRequest(token=token))).active


async def test_sessions_are_listed_and_revoked_by_their_owner(identity) -> None:
    email, browser = await active_account(identity, "sessions")
    app = await sign_in(identity, email, kind=pb.CLIENT_KIND_APP)
    third = await sign_in(identity, email)
    _, stranger = await active_account(identity, "stranger")

    listed = await identity.stub.ListSessions(
        pb.ListSessionsRequest(account_id=browser.account_id, current_session_id=browser.session_id)
    )
    by_id = {s.id: s for s in listed.sessions}
    assert set(by_id) == {browser.session_id, app.session_id, third.session_id}
    assert by_id[browser.session_id].current
    assert not by_id[app.session_id].current
    assert by_id[app.session_id].kind == pb.CLIENT_KIND_APP
    assert by_id[browser.session_id].ip == "198.51.100.7"
    assert by_id[browser.session_id].user_agent == "pytest/1.0"

    # Someone else's session is not found, and stays live.
    code, error = await error_of(
        identity.stub.RevokeSession(
            pb.RevokeSessionRequest(account_id=stranger.account_id, session_id=app.session_id)
        )
    )
    assert (code, error) == (grpc.StatusCode.NOT_FOUND, "session.not_found")
    assert await is_valid(identity, app.access_token)

    await identity.stub.RevokeSession(
        pb.RevokeSessionRequest(account_id=browser.account_id, session_id=app.session_id)
    )
    assert not await is_valid(identity, app.access_token)
    checked = await identity.stub.CheckSessions(
        pb.CheckSessionsRequest(
            session_ids=[browser.session_id, app.session_id, third.session_id, "not-a-uuid"]
        )
    )
    assert list(checked.live_session_ids) == [browser.session_id, third.session_id]

    revoked = await identity.stub.RevokeOtherSessions(
        pb.RevokeOtherSessionsRequest(
            account_id=browser.account_id, keep_session_id=browser.session_id
        )
    )
    assert revoked.revoked == 1
    assert not await is_valid(identity, third.access_token)
    assert await is_valid(identity, browser.access_token)
    assert await is_valid(identity, stranger.access_token)


async def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    identity,
) -> None:
    email, current = await active_account(identity, "changer")
    other = await sign_in(identity, email)
    since = identity.now()

    code, error = await error_of(
        identity.stub.ChangePassword(
            pb.ChangePasswordRequest(
                account_id=current.account_id,
                session_id=current.session_id,
                current_password="Not-the-password-1",
                new_password=identity.other_password,
            )
        )
    )
    assert (code, error) == (grpc.StatusCode.PERMISSION_DENIED, "account.wrong_password")
    code, error = await error_of(
        identity.stub.ChangePassword(
            pb.ChangePasswordRequest(
                account_id=current.account_id,
                session_id=current.session_id,
                current_password=identity.strong_password,
                new_password="password",
            )
        )
    )
    assert (code, error) == (grpc.StatusCode.INVALID_ARGUMENT, "password.invalid")

    await identity.stub.ChangePassword(
        pb.ChangePasswordRequest(
            account_id=current.account_id,
            session_id=current.session_id,
            current_password=identity.strong_password,
            new_password=identity.other_password,
        )
    )
    assert await is_valid(identity, current.access_token)
    assert not await is_valid(identity, other.access_token)
    await identity.mail_to(email, "password was changed", since=since)
    await sign_in(identity, email, identity.other_password)
    changed = [
        events_pb2.PasswordChanged.FromString(p)
        for p in await identity.events("identity.password.changed")
    ]
    assert any(e.account_id == current.account_id and e.reason == "change" for e in changed)


async def test_password_reset_link_works_once_and_ends_every_session(identity) -> None:
    email, signed = await active_account(identity, "resetter")
    since = identity.now()
    await identity.stub.ForgotPassword(pb.ForgotPasswordRequest(email=email))
    token = identity.link_token(
        await identity.mail_to(email, "Reset", since=since), "reset-password"
    )

    results = await asyncio.gather(
        *(
            identity.stub.ResetPassword(
                pb.ResetPasswordRequest(token=token, password=identity.other_password)
            )
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, pb.ResetPasswordResponse) for r in results) == 1
    assert {
        domain_error_from_rpc(r).code for r in results if isinstance(r, grpc.aio.AioRpcError)
    } == {"password_reset.link_invalid"}
    assert not await is_valid(identity, signed.access_token)
    await sign_in(identity, email, identity.other_password)
    for tampered in (token[:-1] + ("A" if token[-1] != "A" else "E"), "", "x" * 43):
        code, error = await error_of(
            identity.stub.ResetPassword(
                pb.ResetPasswordRequest(token=tampered, password=identity.strong_password)
            )
        )
        assert (code, error) == (grpc.StatusCode.INVALID_ARGUMENT, "password_reset.link_invalid")


async def test_email_change_is_confirmed_on_the_new_address(identity) -> None:
    email, signed = await active_account(identity, "mover")
    taken, _ = await active_account(identity, "taken")
    new_email = identity.unique_email("moved")
    since = identity.now()

    # An address with an account answers the same; its owner is told, nothing moves.
    await identity.stub.RequestEmailChange(
        pb.RequestEmailChangeRequest(
            account_id=signed.account_id, password=identity.strong_password, new_email=taken
        )
    )
    await identity.mail_to(taken, "move a Kabinet account", since=since)

    await identity.stub.RequestEmailChange(
        pb.RequestEmailChangeRequest(
            account_id=signed.account_id, password=identity.strong_password, new_email=new_email
        )
    )
    confirm = await identity.mail_to(new_email, "Confirm your new", since=since)
    token = identity.link_token(confirm, "confirm-email")
    await identity.stub.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=token))
    code, error = await error_of(
        identity.stub.ConfirmEmailChange(pb.ConfirmEmailChangeRequest(token=token))
    )
    assert (code, error) == (grpc.StatusCode.INVALID_ARGUMENT, "email_change.link_invalid")

    account = (
        await identity.stub.GetAccount(pb.GetAccountRequest(account_id=signed.account_id))
    ).account
    assert account.email == new_email
    await identity.mail_to(email, "address was changed", since=since)
    await sign_in(identity, new_email)
    with pytest.raises(grpc.aio.AioRpcError):
        await sign_in(identity, email)


async def test_profile_updates_only_what_is_given_and_checks_it(identity) -> None:
    _, signed = await active_account(identity, "profile")
    updated = await identity.stub.UpdateProfile(
        pb.UpdateProfileRequest(account_id=signed.account_id, name="  Анна Петрова ", country="ru")
    )
    assert (updated.account.name, updated.account.country, updated.account.language) == (
        "Анна Петрова",
        "RU",
        "en",
    )
    updated = await identity.stub.UpdateProfile(
        pb.UpdateProfileRequest(account_id=signed.account_id, language="ru")
    )
    assert (updated.account.name, updated.account.language) == ("Анна Петрова", "ru")
    for request, expected in (
        (
            pb.UpdateProfileRequest(account_id=signed.account_id, language="de"),
            "profile.language_invalid",
        ),
        (
            pb.UpdateProfileRequest(account_id=signed.account_id, country="XX"),
            "profile.country_invalid",
        ),
        (
            pb.UpdateProfileRequest(account_id=signed.account_id, name="a\u202eb"),
            "profile.name_invalid",
        ),
        (
            pb.UpdateProfileRequest(account_id=signed.account_id, name="\x00"),
            "profile.name_invalid",
        ),
    ):
        code, error = await error_of(identity.stub.UpdateProfile(request))
        assert (code, error) == (grpc.StatusCode.INVALID_ARGUMENT, expected)


async def test_deleting_the_account_needs_the_password_and_tells_everyone(
    identity, nats_url: str
) -> None:
    email, signed = await active_account(identity, "leaver")
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        deleted_sub = await js.subscribe("identity.account.deleted", ordered_consumer=True)
        revoked_sub = await js.subscribe("identity.session.revoked", ordered_consumer=True)

        code, error = await error_of(
            identity.stub.DeleteAccount(
                pb.DeleteAccountRequest(account_id=signed.account_id, password="Wrong-one-12")
            )
        )
        assert (code, error) == (grpc.StatusCode.PERMISSION_DENIED, "account.wrong_password")
        await identity.stub.DeleteAccount(
            pb.DeleteAccountRequest(account_id=signed.account_id, password=identity.strong_password)
        )
        code, error = await error_of(
            identity.stub.GetAccount(pb.GetAccountRequest(account_id=signed.account_id))
        )
        assert (code, error) == (grpc.StatusCode.NOT_FOUND, "account.not_found")
        assert not await is_valid(identity, signed.access_token)

        async def next_matching(sub, parse, wanted):
            while True:
                message = await sub.next_msg(timeout=20)
                event = parse(message.data)
                if wanted(event):
                    return event

        deleted = await next_matching(
            deleted_sub,
            events_pb2.AccountDeleted.FromString,
            lambda e: e.account_id == signed.account_id,
        )
        assert deleted.occurred_at.seconds > 0
        revoked = await next_matching(
            revoked_sub,
            events_pb2.SessionRevoked.FromString,
            lambda e: e.session_id == signed.session_id,
        )
        assert revoked.reason == "account_deleted"
    finally:
        await connection.close()
    # The address is free again.
    await identity.stub.Register(
        pb.RegisterRequest(email=email, password=identity.strong_password, language="en")
    )
    assert (
        await identity.pool.fetchval("SELECT count(*) FROM accounts WHERE email_key = $1", email)
        == 1
    )


async def test_jwks_lists_the_signing_key_of_issued_tokens(identity) -> None:
    _, signed = await active_account(identity, "jwks")
    jwks = json.loads((await identity.stub.GetJwks(pb.GetJwksRequest())).jwks_json)
    header = json.loads(base64.urlsafe_b64decode(signed.access_token.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert all("d" not in key for key in jwks["keys"])
