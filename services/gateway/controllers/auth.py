"""/api/v1/auth: register, activate, sign in and out, refresh, passwords."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody

from gateway.auth import (
    REFRESH_COOKIE,
    Principal,
    check_csrf,
    clear_session_cookies,
    set_session_cookies,
)
from gateway.clients import ServiceClients
from gateway.schemas import (
    Accepted,
    ActivationResult,
    EmailBody,
    LoginBody,
    PasswordCheckBody,
    PasswordCheckResult,
    RefreshBody,
    RegisterBody,
    SessionInfo,
    TokenBody,
    TokenPasswordBody,
    TokenResponse,
    Violation,
)
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2
from kabinet.messages import translate

# Link pages must not leak their token to other sites.
NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _tokens(reply: identity_pb2.SignInResponse) -> Response[TokenResponse]:
    body = TokenResponse(
        access_token=reply.access_token,
        refresh_token=reply.refresh_token,
        token_type="Bearer",  # noqa: S106 - the scheme's name
        expires_in=reply.expires_in,
    )
    response = Response(body, headers={"Cache-Control": "no-store"})
    set_session_cookies(
        response,
        access_token=reply.access_token,
        refresh_token=reply.refresh_token,
        expires_in=reply.expires_in,
    )
    return response


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]  # noqa: RUF012
    # Credentials are small: a 1 MB "password" is refused (413) before anything reads it.
    request_max_body_size = 16_384

    @post("/register", status_code=202, summary="Create an account; an activation email follows")
    async def register(
        self,
        data: JSONBody[RegisterBody],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Accepted:
        """Answers 202 whether or not the email is known; a known one's owner gets a notice."""
        await clients.identity.Register(
            identity_pb2.RegisterRequest(
                email=data.email,
                password=data.password,
                language=data.language,
                client=client_info,
            )
        )
        return Accepted()

    @post("/password/check", status_code=200, summary="Which password rules a password breaks")
    async def check_password(
        self,
        data: JSONBody[PasswordCheckBody],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> PasswordCheckResult:
        reply = await clients.identity.CheckPassword(
            identity_pb2.CheckPasswordRequest(password=data.password, email=data.email or "")
        )
        return PasswordCheckResult(
            ok=reply.ok,
            violations=[
                Violation(code=v.code, message=translate(v.code, language))
                for v in reply.violations
            ],
        )

    @post("/activate", status_code=200, summary="Activate an account from its emailed link")
    async def activate(
        self, data: JSONBody[TokenBody], clients: NamedDependency[ServiceClients]
    ) -> Response[ActivationResult]:
        await clients.identity.Activate(identity_pb2.ActivateRequest(token=data.token))
        return Response(ActivationResult(), headers=NO_REFERRER)

    @post("/activation/resend", status_code=202, summary="Send a new activation link")
    async def resend_activation(
        self,
        data: JSONBody[EmailBody],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Accepted:
        await clients.identity.ResendActivation(
            identity_pb2.ResendActivationRequest(email=data.email, client=client_info)
        )
        return Accepted()

    @post("/login", status_code=200, summary="Sign in with email and password")
    async def login(
        self,
        data: JSONBody[LoginBody],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Response[TokenResponse]:
        """Returns the tokens (for apps) and sets the session cookies (for browsers)."""
        reply = await clients.identity.SignIn(
            identity_pb2.SignInRequest(email=data.email, password=data.password, client=client_info)
        )
        return _tokens(reply)

    @post("/refresh", status_code=200, summary="Rotate a refresh token (body or cookie)")
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: JSONBody[RefreshBody],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Response[TokenResponse]:
        token = data.refresh_token
        if token is None:
            check_csrf(request, state.allowed_origins)
            token = request.cookies.get(REFRESH_COOKIE)
        if not token:
            raise DomainError(ErrorKind.UNAUTHENTICATED, "auth.required")
        reply = await clients.identity.Refresh(
            identity_pb2.RefreshRequest(refresh_token=token, client=client_info)
        )
        return _tokens(reply)

    @get("/session", summary="Who the token belongs to, checked at the edge (no service call)")
    async def session(self, principal: NamedDependency[Principal]) -> SessionInfo:
        """The cheap "am I still signed in" for pages and apps: a local token check only."""
        return SessionInfo(
            account_id=principal.account_id,
            session_id=principal.session_id,
            roles=list(principal.roles),
            scope=list(principal.scope),
        )

    @post("/logout", status_code=204, summary="Sign out: the session and its tokens die")
    async def logout(
        self,
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        state: State,
    ) -> Response[None]:
        await clients.identity.SignOut(identity_pb2.SignOutRequest(session_id=principal.session_id))
        state.authenticator.revocations.add(principal.session_id)
        response: Response[None] = Response(None, status_code=204)
        clear_session_cookies(response)
        return response

    @post("/password/forgot", status_code=202, summary="Email a password reset link")
    async def forgot_password(
        self,
        data: JSONBody[EmailBody],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Accepted:
        """Answers 202 whether or not the email is known."""
        await clients.identity.ForgotPassword(
            identity_pb2.ForgotPasswordRequest(email=data.email, client=client_info)
        )
        return Accepted()

    @post("/password/reset", status_code=204, summary="Set a new password from a reset link")
    async def reset_password(
        self, data: JSONBody[TokenPasswordBody], clients: NamedDependency[ServiceClients]
    ) -> Response[None]:
        await clients.identity.ResetPassword(
            identity_pb2.ResetPasswordRequest(token=data.token, password=data.password)
        )
        response: Response[None] = Response(None, status_code=204, headers=NO_REFERRER)
        clear_session_cookies(response)
        return response

    @post("/password/set", status_code=200, summary="Create the first password (after a purchase)")
    async def set_password(
        self,
        data: JSONBody[TokenPasswordBody],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Response[TokenResponse]:
        """Spends the emailed link, sets the password and signs the person in."""
        reply = await clients.identity.SetInitialPassword(
            identity_pb2.SetInitialPasswordRequest(
                token=data.token, password=data.password, client=client_info
            )
        )
        return _tokens(reply)

    @post("/email/confirm", status_code=204, summary="Confirm a new email address from its link")
    async def confirm_email(
        self, data: JSONBody[TokenBody], clients: NamedDependency[ServiceClients]
    ) -> Response[None]:
        await clients.identity.ConfirmEmailChange(
            identity_pb2.ConfirmEmailChangeRequest(token=data.token)
        )
        return Response(None, status_code=204, headers=NO_REFERRER)
