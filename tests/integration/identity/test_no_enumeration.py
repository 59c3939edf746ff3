"""Registration, resending activation and forgotten passwords answer alike for known and unknown
emails; one account per email even under concurrent registrations."""

import asyncio

import grpc
import pytest

from kabinet.identity.v1 import events_pb2
from kabinet.identity.v1 import identity_pb2 as pb

pytestmark = pytest.mark.integration


async def register(identity, email: str, password: str | None = None) -> pb.RegisterResponse:
    return await identity.stub.Register(
        pb.RegisterRequest(
            email=email, password=password or identity.strong_password, language="en"
        )
    )


async def test_registering_a_known_email_answers_the_same_and_tells_the_owner(identity) -> None:
    email = identity.unique_email("known")
    since = identity.now()
    first = await register(identity, email)
    token = identity.link_token(await identity.mail_to(email, "Activate", since=since), "activate")
    await identity.stub.Activate(pb.ActivateRequest(token=token))

    second = await register(identity, email.upper(), identity.other_password)

    assert second == first == pb.RegisterResponse()
    notice = await identity.mail_to(email, "already have", since=since)
    assert not [link for link in notice.links if "token=" in link]
    count = await identity.pool.fetchval(
        "SELECT count(*) FROM accounts WHERE email_key = lower($1)", email
    )
    assert count == 1
    # The original password still works; the one typed at the second registration doesn't.
    await identity.stub.SignIn(pb.SignInRequest(email=email, password=identity.strong_password))
    with pytest.raises(grpc.aio.AioRpcError):
        await identity.stub.SignIn(pb.SignInRequest(email=email, password=identity.other_password))


async def test_already_registered_notices_are_rate_limited(identity) -> None:
    email = identity.unique_email("noisy")
    since = identity.now()
    await register(identity, email)
    token = identity.link_token(await identity.mail_to(email, "Activate", since=since), "activate")
    await identity.stub.Activate(pb.ActivateRequest(token=token))
    limit = identity.settings.links.per_account_limit
    for _ in range(limit + 3):
        await register(identity, email)
    assert (await identity.queued_mail(email)).count("already_registered") == limit


async def test_concurrent_registrations_differing_in_case_make_one_account(identity) -> None:
    local = identity.unique_email("Race").split("@")[0]
    variants = [
        f"{local}@example.com",
        f"{local.upper()}@EXAMPLE.COM",
        f"{local.lower()}@Example.Com",
    ]
    results = await asyncio.gather(
        *(register(identity, variant) for variant in variants * 2), return_exceptions=True
    )
    assert all(isinstance(r, pb.RegisterResponse) for r in results), results
    count = await identity.pool.fetchval(
        "SELECT count(*) FROM accounts WHERE email_key = lower($1)", variants[0]
    )
    assert count == 1
    registered = [
        events_pb2.AccountRegistered.FromString(p)
        for p in await identity.events("identity.account.registered")
    ]
    assert sum(e.email.lower() == variants[0].lower() for e in registered) == 1


async def test_forgot_password_answers_the_same_for_an_unknown_email(identity) -> None:
    email = identity.unique_email("forgetful")
    since = identity.now()
    await register(identity, email)
    await identity.mail_to(email, "Activate", since=since)
    unknown = identity.unique_email("nobody")

    known_answer = await identity.stub.ForgotPassword(pb.ForgotPasswordRequest(email=email))
    unknown_answer = await identity.stub.ForgotPassword(pb.ForgotPasswordRequest(email=unknown))

    assert known_answer == unknown_answer == pb.ForgotPasswordResponse()
    await identity.mail_to(email, "Reset", since=since)
    assert await identity.queued_mail(unknown) == []
    # Nothing was stored about the unknown address.
    assert (
        await identity.pool.fetchval("SELECT count(*) FROM accounts WHERE email_key = $1", unknown)
        == 0
    )


async def test_resend_activation_answers_the_same_for_unknown_and_active_emails(identity) -> None:
    pending = identity.unique_email("pending")
    since = identity.now()
    await register(identity, pending)
    first = await identity.mail_to(pending, "Activate", since=since)

    for email in (pending, identity.unique_email("stranger")):
        answer = await identity.stub.ResendActivation(pb.ResendActivationRequest(email=email))
        assert answer == pb.ResendActivationResponse()

    mails = await identity.queued_mail(pending)
    assert mails == ["activation", "activation"]
    newest = await identity.mailbox.wait_for(
        pending, lambda m: m.key != first.key and "Activate" in m.subject, timeout=20
    )
    # Only the newest link works: resending retired the first.
    with pytest.raises(grpc.aio.AioRpcError):
        await identity.stub.Activate(
            pb.ActivateRequest(token=identity.link_token(first, "activate"))
        )
    await identity.stub.Activate(pb.ActivateRequest(token=identity.link_token(newest, "activate")))


async def test_malformed_and_unknown_emails_sign_in_like_a_wrong_password(identity) -> None:
    codes = set()
    for email in ("not-an-email", identity.unique_email("ghost"), "a\u202e@example.com"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await identity.stub.SignIn(
                pb.SignInRequest(email=email, password=identity.strong_password)
            )
        codes.add((caught.value.code(), caught.value.details()))
    assert codes == {(grpc.StatusCode.UNAUTHENTICATED, "auth.invalid_credentials")}
