"""/api/v1/account: the signed-in person's account, sessions, password and email."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from gateway.auth import Principal, clear_session_cookies
from gateway.clients import ServiceClients
from gateway.schemas import (
    Accepted,
    Account,
    ChangeEmailBody,
    ChangePasswordBody,
    PasswordBody,
    ProfileBody,
    RevokedCount,
    Session,
)
from gateway.timestamps import iso
from kabinet.identity.v1 import identity_pb2

_STATUS = {
    identity_pb2.ACCOUNT_STATUS_PENDING_ACTIVATION: "pending_activation",
    identity_pb2.ACCOUNT_STATUS_ACTIVE: "active",
    identity_pb2.ACCOUNT_STATUS_DISABLED: "disabled",
}
_KIND = {identity_pb2.CLIENT_KIND_BROWSER: "browser", identity_pb2.CLIENT_KIND_APP: "app"}


def _account(account: identity_pb2.Account) -> Account:
    return Account(
        id=account.id,
        email=account.email,
        status=_STATUS.get(account.status, "unknown"),
        name=account.name,
        language=account.language,
        country=account.country,
        has_password=account.has_password,
        roles=list(account.roles),
        created_at=iso(account.created_at),
    )


class AccountController(Controller):
    path = "/api/v1/account"
    tags = ["account"]  # noqa: RUF012
    request_max_body_size = 16_384

    @get("/", summary="The signed-in account")
    async def get_account(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> Account:
        reply = await clients.identity.GetAccount(
            identity_pb2.GetAccountRequest(account_id=principal.account_id)
        )
        return _account(reply.account)

    @patch("/", summary="Change name, language or country")
    async def update_profile(
        self,
        data: JSONBody[ProfileBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Account:
        request = identity_pb2.UpdateProfileRequest(account_id=principal.account_id)
        if data.name is not None:
            request.name = data.name
        if data.language is not None:
            request.language = data.language
        if data.country is not None:
            request.country = data.country
        reply = await clients.identity.UpdateProfile(request)
        return _account(reply.account)

    @post("/password", status_code=204, summary="Change the password (other sessions end)")
    async def change_password(
        self,
        data: JSONBody[ChangePasswordBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> None:
        await clients.identity.ChangePassword(
            identity_pb2.ChangePasswordRequest(
                account_id=principal.account_id,
                session_id=principal.session_id,
                current_password=data.current_password,
                new_password=data.new_password,
            )
        )

    @post("/email", status_code=202, summary="Change the email; a link confirms the new one")
    async def change_email(
        self,
        data: JSONBody[ChangeEmailBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Accepted:
        await clients.identity.RequestEmailChange(
            identity_pb2.RequestEmailChangeRequest(
                account_id=principal.account_id, password=data.password, new_email=data.new_email
            )
        )
        return Accepted()

    @get("/sessions", summary="Where the account is signed in")
    async def sessions(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> list[Session]:
        reply = await clients.identity.ListSessions(
            identity_pb2.ListSessionsRequest(
                account_id=principal.account_id, current_session_id=principal.session_id
            )
        )
        return [
            Session(
                id=s.id,
                kind=_KIND.get(s.kind, "unknown"),
                user_agent=s.user_agent,
                ip=s.ip,
                created_at=iso(s.created_at),
                last_seen_at=iso(s.last_seen_at),
                current=s.current,
            )
            for s in reply.sessions
        ]

    @delete("/sessions/{session_id:str}", status_code=204, summary="End one session")
    async def revoke_session(
        self,
        session_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        state: State,
    ) -> None:
        await clients.identity.RevokeSession(
            identity_pb2.RevokeSessionRequest(
                account_id=principal.account_id, session_id=session_id
            )
        )
        state.authenticator.revocations.add(session_id)

    @post("/sessions/revoke-others", status_code=200, summary="End every other session")
    async def revoke_others(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> RevokedCount:
        reply = await clients.identity.RevokeOtherSessions(
            identity_pb2.RevokeOtherSessionsRequest(
                account_id=principal.account_id, keep_session_id=principal.session_id
            )
        )
        return RevokedCount(revoked=reply.revoked)

    @post("/delete", status_code=204, summary="Delete the account (confirmed by the password)")
    async def delete_account(
        self,
        data: JSONBody[PasswordBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        state: State,
    ) -> Response[None]:
        await clients.identity.DeleteAccount(
            identity_pb2.DeleteAccountRequest(
                account_id=principal.account_id, password=data.password
            )
        )
        state.authenticator.revocations.add(principal.session_id)
        response: Response[None] = Response(None, status_code=204)
        clear_session_cookies(response)
        return response
