"""An account made for a purchase: idempotent, one mail, and the link sets the password once."""

import asyncio

import grpc
import pytest

from kabinet.identity.v1 import events_pb2
from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.rpc.errors import domain_error_from_rpc

pytestmark = pytest.mark.integration


async def get_account(identity, account_id: str) -> pb.Account:
    return (await identity.stub.GetAccount(pb.GetAccountRequest(account_id=account_id))).account


async def test_ensure_twice_makes_one_account_and_one_mail(identity) -> None:
    email = identity.unique_email("buyer")
    since = identity.now()
    first = await identity.stub.EnsureAccountForPurchase(
        pb.EnsureAccountForPurchaseRequest(email=email, language="ru", order_id="order-1")
    )
    second = await identity.stub.EnsureAccountForPurchase(
        pb.EnsureAccountForPurchaseRequest(email=email.upper(), language="ru", order_id="order-1")
    )
    assert first.created
    assert not second.created
    assert first.account_id == second.account_id
    mail = await identity.mail_to(email, "пароль", since=since)
    assert await identity.queued_mail(email) == ["create_password"]
    created = [
        events_pb2.AccountCreatedForPurchase.FromString(p)
        for p in await identity.events("identity.account.created_for_purchase")
    ]
    assert [(e.account_id, e.order_id) for e in created if e.email == email] == [
        (first.account_id, "order-1")
    ]
    account = (
        await identity.stub.GetAccount(pb.GetAccountRequest(account_id=first.account_id))
    ).account
    assert account.status == pb.ACCOUNT_STATUS_PENDING_ACTIVATION
    assert not account.has_password
    assert account.language == "ru"

    token = identity.link_token(mail, "create-password")
    # A password that breaks the policy leaves the link usable.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.stub.SetInitialPassword(
            pb.SetInitialPasswordRequest(token=token, password="short")
        )
    error = domain_error_from_rpc(caught.value)
    assert error.code == "password.invalid"
    assert {"password.too_short", "password.no_digit"} <= {v.code for v in error.violations}

    signed, again = await asyncio.gather(
        identity.stub.SetInitialPassword(
            pb.SetInitialPasswordRequest(
                token=token, password=identity.strong_password, client=identity.client()
            )
        ),
        identity.stub.SetInitialPassword(
            pb.SetInitialPasswordRequest(token=token, password=identity.other_password)
        ),
        return_exceptions=True,
    )
    outcomes = [signed, again]
    winners = [o for o in outcomes if isinstance(o, pb.SignInResponse)]
    losers = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert domain_error_from_rpc(losers[0]).code == "password_setup.link_invalid"
    assert winners[0].account_id == first.account_id
    await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=winners[0].access_token))
    account = (
        await identity.stub.GetAccount(pb.GetAccountRequest(account_id=first.account_id))
    ).account
    assert account.status == pb.ACCOUNT_STATUS_ACTIVE
    assert account.has_password

    # Nothing happens on a third call for an account that is now active.
    third = await identity.stub.EnsureAccountForPurchase(
        pb.EnsureAccountForPurchaseRequest(email=email, language="en", order_id="order-2")
    )
    assert (third.account_id, third.created) == (first.account_id, False)
    assert await identity.queued_mail(email) == ["create_password"]


async def test_concurrent_ensures_for_one_email_agree(identity) -> None:
    email = identity.unique_email("rush")
    results = await asyncio.gather(
        *(
            identity.stub.EnsureAccountForPurchase(
                pb.EnsureAccountForPurchaseRequest(email=email, language="en", order_id="o")
            )
            for _ in range(6)
        )
    )
    assert len({r.account_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await identity.queued_mail(email) == ["create_password"]


async def test_an_account_without_password_cannot_sign_in(identity) -> None:
    email = identity.unique_email("nopass")
    await identity.stub.EnsureAccountForPurchase(
        pb.EnsureAccountForPurchaseRequest(email=email, language="en", order_id="o")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.stub.SignIn(pb.SignInRequest(email=email, password=""))
    assert caught.value.details() == "auth.invalid_credentials"
