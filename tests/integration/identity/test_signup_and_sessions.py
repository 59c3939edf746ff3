"""Register → activation mail over SMTP → activate → sign in → tokens → refresh → sign out,
against the identity service on real PostgreSQL, NATS and SMTP, over gRPC."""

import asyncio

import grpc
import pytest

from kabinet.identity.v1 import events_pb2
from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.rpc.errors import domain_error_from_rpc

pytestmark = pytest.mark.integration


async def failure(call: object) -> tuple[grpc.StatusCode, str]:
    """The status code and Kabinet error code of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), domain_error_from_rpc(caught.value).code


async def test_register_activate_sign_in_refresh_replay_sign_out(identity) -> None:
    email = identity.unique_email("flow")
    since = identity.now()
    await identity.stub.Register(
        pb.RegisterRequest(
            email=email, password=identity.strong_password, language="ru", client=identity.client()
        )
    )
    code, error = await failure(
        identity.stub.SignIn(
            pb.SignInRequest(
                email=email, password=identity.strong_password, client=identity.client()
            )
        )
    )
    assert (code, error) == (grpc.StatusCode.FAILED_PRECONDITION, "account.not_activated")

    mail = await identity.mail_to(email, "Активируйте", since=since)
    token = identity.link_token(mail, "activate")
    activated = await identity.stub.Activate(pb.ActivateRequest(token=token))
    assert activated.account_id

    signed = await identity.stub.SignIn(
        pb.SignInRequest(
            email=email.upper(), password=identity.strong_password, client=identity.client()
        )
    )
    assert signed.account_id == activated.account_id
    assert signed.expires_in == 600
    claims = (
        await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=signed.access_token))
    ).claims
    assert claims.subject == activated.account_id
    assert claims.session_id == signed.session_id

    refreshed = await identity.stub.Refresh(
        pb.RefreshRequest(refresh_token=signed.refresh_token, client=identity.client())
    )
    assert refreshed.session_id == signed.session_id
    assert refreshed.refresh_token != signed.refresh_token
    await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=refreshed.access_token))

    # The spent refresh token presented again: refused, and the whole session dies with it.
    code, error = await failure(
        identity.stub.Refresh(pb.RefreshRequest(refresh_token=signed.refresh_token))
    )
    assert (code, error) == (grpc.StatusCode.UNAUTHENTICATED, "auth.refresh_invalid")
    code, error = await failure(
        identity.stub.ValidateToken(pb.ValidateTokenRequest(token=refreshed.access_token))
    )
    assert (code, error) == (grpc.StatusCode.UNAUTHENTICATED, "token.invalid")
    code, _ = await failure(
        identity.stub.Refresh(pb.RefreshRequest(refresh_token=refreshed.refresh_token))
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED
    revoked = [
        events_pb2.SessionRevoked.FromString(p)
        for p in await identity.events("identity.session.revoked")
    ]
    assert any(e.session_id == signed.session_id and e.reason == "replay" for e in revoked)

    # A new session, then signing out refuses its access token at once.
    again = await identity.stub.SignIn(
        pb.SignInRequest(email=email, password=identity.strong_password, client=identity.client())
    )
    assert again.session_id != signed.session_id
    await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=again.access_token))
    await identity.stub.SignOut(pb.SignOutRequest(session_id=again.session_id))
    code, error = await failure(
        identity.stub.ValidateToken(pb.ValidateTokenRequest(token=again.access_token))
    )
    assert (code, error) == (grpc.StatusCode.UNAUTHENTICATED, "token.invalid")
    introspected = await identity.stub.Introspect(pb.IntrospectRequest(token=again.access_token))
    assert not introspected.active


async def test_activation_link_works_once_even_in_parallel(identity) -> None:
    email = identity.unique_email("parallel")
    since = identity.now()
    await identity.stub.Register(
        pb.RegisterRequest(email=email, password=identity.strong_password, language="en")
    )
    token = identity.link_token(await identity.mail_to(email, "Activate", since=since), "activate")
    results = await asyncio.gather(
        *(identity.stub.Activate(pb.ActivateRequest(token=token)) for _ in range(5)),
        return_exceptions=True,
    )
    succeeded = [r for r in results if isinstance(r, pb.ActivateResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(succeeded) == 1
    assert len(refused) == 4
    assert {domain_error_from_rpc(r).code for r in refused} == {"activation.link_invalid"}
    activated = [
        events_pb2.AccountActivated.FromString(p)
        for p in await identity.events("identity.account.activated")
    ]
    assert [e.account_id for e in activated].count(succeeded[0].account_id) == 1
