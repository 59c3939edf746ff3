"""``kabinet.identity.v1.IdentityService``: protobuf in, a use case, protobuf out.

Nothing else happens here: errors are ``DomainError``s that the server interceptor maps to
statuses once, and every rule lives in ``identity.domain``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from identity.domain.model import (
    Account,
    AccountStatus,
    Client,
    ClientKind,
    Session,
    SignedIn,
    ValidatedToken,
)
from identity.domain.roles import RoleService
from identity.domain.services import IdentityServices
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.identity.v1 import identity_pb2_grpc
from kabinet.protobuf import timestamp

SERVICE_NAME = "kabinet.identity.v1.IdentityService"

# Methods only operators may call (enforced by the server's operator check).
OPERATOR_METHODS: frozenset[str] = frozenset(
    {f"/{SERVICE_NAME}/GrantRole", f"/{SERVICE_NAME}/RevokeRole"}
)

Context = grpc.aio.ServicerContext[Any, Any]

_KIND_FROM_PB = {pb.CLIENT_KIND_BROWSER: ClientKind.BROWSER, pb.CLIENT_KIND_APP: ClientKind.APP}
_KIND_TO_PB = {
    ClientKind.BROWSER: pb.CLIENT_KIND_BROWSER,
    ClientKind.APP: pb.CLIENT_KIND_APP,
    ClientKind.UNKNOWN: pb.CLIENT_KIND_UNSPECIFIED,
}
_STATUS_TO_PB = {
    AccountStatus.PENDING_ACTIVATION: pb.ACCOUNT_STATUS_PENDING_ACTIVATION,
    AccountStatus.ACTIVE: pb.ACCOUNT_STATUS_ACTIVE,
    AccountStatus.DISABLED: pb.ACCOUNT_STATUS_DISABLED,
}


def _epoch(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


def client_from_pb(client: pb.ClientInfo) -> Client:
    return Client(
        ip=client.ip,
        user_agent=client.user_agent,
        kind=_KIND_FROM_PB.get(client.kind, ClientKind.UNKNOWN),
    )


def account_to_pb(account: Account) -> pb.Account:
    return pb.Account(
        id=str(account.id),
        email=account.email,
        status=_STATUS_TO_PB[account.status],
        name=account.name,
        language=account.language,
        country=account.country,
        has_password=account.has_password,
        roles=list(account.roles),
        created_at=timestamp(account.created_at),
    )


def session_to_pb(session: Session, current: str) -> pb.Session:
    return pb.Session(
        id=str(session.id),
        kind=_KIND_TO_PB[session.kind],
        user_agent=session.user_agent,
        ip=session.ip,
        created_at=timestamp(session.created_at),
        last_seen_at=timestamp(session.last_seen_at),
        current=str(session.id) == current,
    )


def signed_in_to_pb(signed: SignedIn) -> pb.SignInResponse:
    return pb.SignInResponse(
        access_token=signed.access_token,
        refresh_token=signed.refresh_token,
        expires_in=signed.expires_in,
        session_id=str(signed.session_id),
        account_id=str(signed.account_id),
    )


def claims_to_pb(token: ValidatedToken) -> pb.TokenClaims:
    return pb.TokenClaims(
        subject=token.subject,
        session_id=token.session_id,
        scope=list(token.scope),
        client_id=token.client_id or "",
        expires_at=_epoch(token.expires_at),
        issued_at=_epoch(token.issued_at),
        roles=list(token.roles),
    )


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """Each RPC calls one use case of ``IdentityServices``."""

    def __init__(self, services: IdentityServices) -> None:
        self._s = services

    async def Register(self, request: pb.RegisterRequest, context: Context) -> pb.RegisterResponse:
        """Create an inactive account and mail its activation link (same answer for any email)."""
        await self._s.registration.register(
            request.email, request.password, request.language, client_from_pb(request.client)
        )
        return pb.RegisterResponse()

    async def CheckPassword(
        self, request: pb.CheckPasswordRequest, context: Context
    ) -> pb.CheckPasswordResponse:
        """Every rule the password breaks, for live feedback."""
        violations = await self._s.registration.check_password(request.password, request.email)
        return pb.CheckPasswordResponse(
            ok=not violations,
            violations=[pb.PasswordViolation(code=v.code) for v in violations],
        )

    async def Activate(self, request: pb.ActivateRequest, context: Context) -> pb.ActivateResponse:
        """Spend an activation link."""
        account_id = await self._s.registration.activate(request.token)
        return pb.ActivateResponse(account_id=str(account_id))

    async def ResendActivation(
        self, request: pb.ResendActivationRequest, context: Context
    ) -> pb.ResendActivationResponse:
        """Mail a fresh activation link to an account still waiting for one."""
        await self._s.registration.resend_activation(request.email, client_from_pb(request.client))
        return pb.ResendActivationResponse()

    async def EnsureAccountForPurchase(
        self, request: pb.EnsureAccountForPurchaseRequest, context: Context
    ) -> pb.EnsureAccountForPurchaseResponse:
        """The buyer's account, created with a "create your password" link when missing."""
        ensured = await self._s.registration.ensure_account_for_purchase(
            request.email, request.language, request.order_id
        )
        return pb.EnsureAccountForPurchaseResponse(
            account_id=str(ensured.account_id), created=ensured.created
        )

    async def SetInitialPassword(
        self, request: pb.SetInitialPasswordRequest, context: Context
    ) -> pb.SignInResponse:
        """Spend a "create your password" link, set the password and sign in."""
        signed = await self._s.registration.set_initial_password(
            request.token, request.password, client_from_pb(request.client)
        )
        return signed_in_to_pb(signed)

    async def SignIn(self, request: pb.SignInRequest, context: Context) -> pb.SignInResponse:
        """Check an email and password and open a session."""
        signed = await self._s.signin.sign_in(
            request.email, request.password, client_from_pb(request.client)
        )
        return signed_in_to_pb(signed)

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.SignInResponse:
        """Rotate a refresh token; a replayed one revokes its session."""
        signed = await self._s.sessions.refresh(
            request.refresh_token, client_from_pb(request.client)
        )
        return signed_in_to_pb(signed)

    async def SignOut(self, request: pb.SignOutRequest, context: Context) -> pb.SignOutResponse:
        """Revoke one session."""
        await self._s.sessions.sign_out(request.session_id)
        return pb.SignOutResponse()

    async def ForgotPassword(
        self, request: pb.ForgotPasswordRequest, context: Context
    ) -> pb.ForgotPasswordResponse:
        """Mail a reset link when the account exists; the answer never tells."""
        await self._s.accounts.forgot_password(request.email)
        return pb.ForgotPasswordResponse()

    async def ResetPassword(
        self, request: pb.ResetPasswordRequest, context: Context
    ) -> pb.ResetPasswordResponse:
        """Spend a reset link, set the password, revoke every session."""
        await self._s.accounts.reset_password(request.token, request.password)
        return pb.ResetPasswordResponse()

    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: Context
    ) -> pb.ChangePasswordResponse:
        """Change the password (confirmed by the current one); other sessions end."""
        await self._s.accounts.change_password(
            request.account_id, request.session_id, request.current_password, request.new_password
        )
        return pb.ChangePasswordResponse()

    async def RequestEmailChange(
        self, request: pb.RequestEmailChangeRequest, context: Context
    ) -> pb.RequestEmailChangeResponse:
        """Mail a confirmation link to the new address."""
        await self._s.accounts.request_email_change(
            request.account_id, request.password, request.new_email
        )
        return pb.RequestEmailChangeResponse()

    async def ConfirmEmailChange(
        self, request: pb.ConfirmEmailChangeRequest, context: Context
    ) -> pb.ConfirmEmailChangeResponse:
        """Spend an email change link."""
        await self._s.accounts.confirm_email_change(request.token)
        return pb.ConfirmEmailChangeResponse()

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Context
    ) -> pb.GetAccountResponse:
        """Read an account by id."""
        account = await self._s.accounts.get(request.account_id)
        return pb.GetAccountResponse(account=account_to_pb(account))

    async def UpdateProfile(
        self, request: pb.UpdateProfileRequest, context: Context
    ) -> pb.UpdateProfileResponse:
        """Change name, language and country (fields left out stay as they are)."""
        account = await self._s.accounts.update_profile(
            request.account_id,
            name=request.name if request.HasField("name") else None,
            language=request.language if request.HasField("language") else None,
            country=request.country if request.HasField("country") else None,
        )
        return pb.UpdateProfileResponse(account=account_to_pb(account))

    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: Context
    ) -> pb.ListSessionsResponse:
        """The account's live sessions, the caller's marked current."""
        sessions = await self._s.sessions.live_sessions(request.account_id)
        return pb.ListSessionsResponse(
            sessions=[session_to_pb(s, request.current_session_id) for s in sessions]
        )

    async def RevokeSession(
        self, request: pb.RevokeSessionRequest, context: Context
    ) -> pb.RevokeSessionResponse:
        """Revoke one of the account's sessions."""
        await self._s.sessions.revoke(request.account_id, request.session_id)
        return pb.RevokeSessionResponse()

    async def RevokeOtherSessions(
        self, request: pb.RevokeOtherSessionsRequest, context: Context
    ) -> pb.RevokeOtherSessionsResponse:
        """Revoke every session of the account but the caller's."""
        revoked = await self._s.sessions.revoke_others(request.account_id, request.keep_session_id)
        return pb.RevokeOtherSessionsResponse(revoked=revoked)

    async def DeleteAccount(
        self, request: pb.DeleteAccountRequest, context: Context
    ) -> pb.DeleteAccountResponse:
        """Erase the account, confirmed by its password."""
        await self._s.accounts.delete(request.account_id, request.password)
        return pb.DeleteAccountResponse()

    async def ValidateToken(
        self, request: pb.ValidateTokenRequest, context: Context
    ) -> pb.ValidateTokenResponse:
        """Signature, claims and a live session; ``token.invalid`` otherwise."""
        token = await self._s.sessions.validate(request.token)
        return pb.ValidateTokenResponse(claims=claims_to_pb(token))

    async def Introspect(
        self, request: pb.IntrospectRequest, context: Context
    ) -> pb.IntrospectResponse:
        """RFC 7662: ``active`` and the claims, never an error for a bad token."""
        token = await self._s.sessions.introspect(request.token)
        if token is None:
            return pb.IntrospectResponse(active=False)
        return pb.IntrospectResponse(active=True, claims=claims_to_pb(token))

    async def CheckSessions(
        self, request: pb.CheckSessionsRequest, context: Context
    ) -> pb.CheckSessionsResponse:
        """Which of the given session ids are live."""
        live = await self._s.sessions.live_ids(list(request.session_ids))
        return pb.CheckSessionsResponse(live_session_ids=live)

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        """The public signing keys as a JWKS document."""
        jwks = json.dumps(self._s.keys.jwks(), separators=(",", ":"))
        return pb.GetJwksResponse(jwks_json=jwks)

    async def GrantRole(
        self, request: pb.GrantRoleRequest, context: Context
    ) -> pb.GrantRoleResponse:
        """Give the account (by email or id) a role; operators only."""
        change = await self._roles().grant(
            request.role, email=request.email, account_id=request.account_id
        )
        return pb.GrantRoleResponse(
            account_id=str(change.account_id), roles=list(change.roles), changed=change.changed
        )

    async def RevokeRole(
        self, request: pb.RevokeRoleRequest, context: Context
    ) -> pb.RevokeRoleResponse:
        """Take a role away from the account (by email or id); operators only."""
        change = await self._roles().revoke(
            request.role, email=request.email, account_id=request.account_id
        )
        return pb.RevokeRoleResponse(
            account_id=str(change.account_id), roles=list(change.roles), changed=change.changed
        )

    def _roles(self) -> RoleService:
        if self._s.roles is None:
            raise DomainError(ErrorKind.UNAVAILABLE, "service.unavailable")
        return self._s.roles


def register(services: IdentityServices) -> Callable[[grpc.aio.Server], None]:
    """The function ``ServiceHost.serve`` calls to add this servicer to its server."""

    def add(server: grpc.aio.Server) -> None:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(IdentityServicer(services), server)

    return add
