"""Sign-in throttling shared through PostgreSQL: the account lock and the per-address wait."""

import dataclasses

import grpc
import pytest

from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.rpc.errors import domain_error_from_rpc

pytestmark = pytest.mark.integration

WRONG = "Wrong-password-42"


async def active_account(identity, prefix: str) -> str:
    email = identity.unique_email(prefix)
    since = identity.now()
    await identity.stub.Register(
        pb.RegisterRequest(email=email, password=identity.strong_password, language="en")
    )
    token = identity.link_token(await identity.mail_to(email, "Activate", since=since), "activate")
    await identity.stub.Activate(pb.ActivateRequest(token=token))
    return email


async def sign_in_error(identity, email: str, password: str, ip: str = "203.0.113.5"):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.stub.SignIn(
            pb.SignInRequest(email=email, password=password, client=identity.client(ip))
        )
    return caught.value.code(), domain_error_from_rpc(caught.value)


async def test_locked_account_refuses_the_right_password_alike_and_reset_unlocks(identity) -> None:
    email = await active_account(identity, "locked")
    since = identity.now()
    max_failures = identity.settings.throttle.account_max_failures
    for _ in range(max_failures):
        code, error = await sign_in_error(identity, email, WRONG)
        assert (code, error.code) == (grpc.StatusCode.UNAUTHENTICATED, "auth.invalid_credentials")

    # Locked: the right password gets exactly the answer a wrong one gets, and no token.
    code, error = await sign_in_error(identity, email, identity.strong_password)
    assert (code, error.code, error.params) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "auth.invalid_credentials",
        {},
    )
    lock = await identity.pool.fetchval(
        "SELECT locked_until FROM account_throttle t JOIN accounts a ON a.id = t.account_id"
        " WHERE a.email_key = $1",
        email,
    )
    # Failures while locked neither count nor extend the lock.
    for _ in range(3):
        await sign_in_error(identity, email, WRONG)
    assert lock == await identity.pool.fetchval(
        "SELECT locked_until FROM account_throttle t JOIN accounts a ON a.id = t.account_id"
        " WHERE a.email_key = $1",
        email,
    )
    # The owner is told once per lock.
    await identity.mail_to(email, "paused", since=since)
    assert (await identity.queued_mail(email)).count("account_locked") == 1

    # A password reset still works while locked, and lifts the lock.
    await identity.stub.ForgotPassword(pb.ForgotPasswordRequest(email=email))
    reset = await identity.mail_to(email, "Reset", since=since)
    await identity.stub.ResetPassword(
        pb.ResetPasswordRequest(
            token=identity.link_token(reset, "reset-password"), password=identity.other_password
        )
    )
    signed = await identity.stub.SignIn(
        pb.SignInRequest(email=email, password=identity.other_password, client=identity.client())
    )
    assert signed.access_token


async def test_a_success_resets_the_failure_count(identity) -> None:
    email = await active_account(identity, "forgiven")
    max_failures = identity.settings.throttle.account_max_failures
    for _ in range(max_failures - 1):
        await sign_in_error(identity, email, WRONG)
    await identity.stub.SignIn(pb.SignInRequest(email=email, password=identity.strong_password))
    for _ in range(max_failures - 1):
        await sign_in_error(identity, email, WRONG)
    # Had the count not been reset, the account would be locked by now.
    await identity.stub.SignIn(pb.SignInRequest(email=email, password=identity.strong_password))


async def test_unknown_emails_leave_no_account_state(identity) -> None:
    before = await identity.pool.fetchval("SELECT count(*) FROM account_throttle")
    for _ in range(5):
        await sign_in_error(identity, identity.unique_email("phantom"), WRONG, ip="203.0.113.77")
    # Only the address is counted.
    assert await identity.pool.fetchval("SELECT count(*) FROM account_throttle") == before
    failures = await identity.pool.fetchval(
        "SELECT failures FROM client_throttle WHERE client_key = '203.0.113.77'"
    )
    assert failures == 5


async def test_an_address_with_too_many_failures_must_wait(start_identity, identity) -> None:
    throttle = dataclasses.replace(
        identity.settings.throttle, ip_free_failures=2, ip_base_delay=30.0, account_max_failures=10
    )
    async with start_identity(throttle=throttle) as strict:
        email = await active_account(strict, "waiting")
        ip = "2001:db8:1:2::17"
        for _ in range(2):
            code, _ = await sign_in_error(strict, email, WRONG, ip=ip)
            assert code == grpc.StatusCode.UNAUTHENTICATED
        await sign_in_error(strict, email, WRONG, ip=ip)  # the third failure starts a wait
        # Another address of the same /64: waits too, even with the right password.
        code, error = await sign_in_error(
            strict, email, strict.strong_password, ip="2001:db8:1:2:ffff::1"
        )
        assert (code, error.code) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "auth.too_many_attempts")
        assert 1 <= int(error.params["retry_after"]) <= 30
        # Another address is not affected.
        await strict.stub.SignIn(
            pb.SignInRequest(
                email=email, password=strict.strong_password, client=strict.client("192.0.2.44")
            )
        )
