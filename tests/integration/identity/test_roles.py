"""Role grants on the real identity service: the change is stored, announced once through the
outbox, and carried by the tokens issued at the next refresh."""

import grpc
import pytest

from kabinet.identity.v1 import events_pb2
from kabinet.identity.v1 import identity_pb2 as pb

pytestmark = pytest.mark.integration


async def test_a_granted_role_reaches_the_next_tokens_and_is_announced_once(identity) -> None:
    email = identity.unique_email("agent")
    since = identity.now()
    await identity.stub.Register(
        pb.RegisterRequest(
            email=email, password=identity.strong_password, language="en", client=identity.client()
        )
    )
    mail = await identity.mail_to(email, "Activate", since=since)
    await identity.stub.Activate(pb.ActivateRequest(token=identity.link_token(mail, "activate")))
    signed = await identity.stub.SignIn(
        pb.SignInRequest(email=email, password=identity.strong_password, client=identity.client())
    )
    before = await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=signed.access_token))
    assert list(before.claims.roles) == []

    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await identity.stub.GrantRole(pb.GrantRoleRequest(email=email, role="operator"))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    granted = await identity.stub.GrantRole(
        pb.GrantRoleRequest(email=email.upper(), role="support_agent"),
        metadata=await identity.operator(),
    )
    assert granted.account_id == signed.account_id
    assert granted.changed
    again = await identity.stub.GrantRole(
        pb.GrantRoleRequest(account_id=signed.account_id, role="support_agent"),
        metadata=await identity.operator(),
    )
    assert not again.changed

    refreshed = await identity.stub.Refresh(
        pb.RefreshRequest(refresh_token=signed.refresh_token, client=identity.client())
    )
    after = await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=refreshed.access_token))
    assert list(after.claims.roles) == ["support_agent"]
    account = await identity.stub.GetAccount(pb.GetAccountRequest(account_id=signed.account_id))
    assert list(account.account.roles) == ["support_agent"]

    announced = [
        events_pb2.AccountRolesChanged.FromString(p)
        for p in await identity.events("identity.account.roles_changed")
    ]
    mine = [e for e in announced if e.account_id == signed.account_id]
    assert [list(e.roles) for e in mine] == [["support_agent"]]

    revoked = await identity.stub.RevokeRole(
        pb.RevokeRoleRequest(email=email, role="support_agent"),
        metadata=await identity.operator(),
    )
    assert list(revoked.roles) == []
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await identity.stub.GrantRole(
            pb.GrantRoleRequest(email="nobody-here@example.com", role="operator"),
            metadata=await identity.operator(),
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
