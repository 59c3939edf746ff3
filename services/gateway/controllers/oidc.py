"""Kabinet as OpenID provider, at the edge: HTTP in, ``OidcService`` out.

The protocol rules live in identity (``identity.domain.oidc``); this controller parses requests,
authenticates the browser by its session cookie, renders the pages and answers in the shapes the
RFCs ask for: token, revocation and introspection errors are RFC 6749 JSON (``error``,
``error_description``), never problem+json. No CORS anywhere here (the app configures none), so
``/oauth2/authorize`` cannot be read cross-origin.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import grpc
from litestar import Controller, HttpMethod, Request, Response, get, post, route
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Redirect

from gateway.auth import CSRF_COOKIE, Principal, clear_session_cookies, set_session_cookies
from gateway.clients import ServiceClients
from gateway.oidc_pages import (
    consent_page,
    error_page,
    logout_confirm_page,
    logout_done_page,
    signin_page,
)
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2, oidc_pb2
from kabinet.messages import translate
from kabinet.rpc.errors import domain_error_from_rpc

AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SCOPES_SUPPORTED = ["openid", "profile", "email"]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def oauth_json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    return Response(body, status_code=status, headers={**NO_STORE, **(headers or {})})


def oauth_failure(error: DomainError, language: str) -> Response[dict[str, Any]]:
    """An RFC 6749 error answer for a failure of a token-endpoint-like call."""
    if error.code.startswith("oauth."):
        name = error.code.removeprefix("oauth.")
    elif error.kind is ErrorKind.UNAVAILABLE:
        name = "temporarily_unavailable"
    elif error.kind is ErrorKind.INVALID_ARGUMENT:
        name = "invalid_request"
    else:
        name = "server_error"
    status = {"invalid_client": 401, "temporarily_unavailable": 503, "server_error": 500}.get(
        name, 400
    )
    headers = {"WWW-Authenticate": 'Basic realm="kabinet"'} if status == 401 else {}
    body = {"error": name, "error_description": translate(error.code, language)}
    return oauth_json(body, status, headers)


def page_error(failed: grpc.aio.AioRpcError) -> DomainError:
    """The failure a page shows to the person; outages and bugs go on to the problem handler."""
    error = domain_error_from_rpc(failed)
    if error.kind in (ErrorKind.UNAVAILABLE, ErrorKind.INTERNAL):
        raise failed
    return error


async def oauth_answer(
    language: str, call: Callable[[], Awaitable[Response[Any]]]
) -> Response[Any]:
    """``call``'s answer, or its failure as an RFC 6749 error."""
    try:
        return await call()
    except DomainError as error:
        return oauth_failure(error, language)
    except grpc.aio.AioRpcError as failed:
        return oauth_failure(domain_error_from_rpc(failed), language)


async def authenticated_form(
    request: Request[Any, Any, Any],
) -> tuple[dict[str, str], str, str]:
    """The url-encoded form and the client's id and secret (basic or in the form)."""
    form = await form_of(request)
    client_id, secret = client_credentials_of(request, form)
    return form, client_id, secret


async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The url-encoded form, one value per name (a repeated parameter is refused, RFC 6749 3.1)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise DomainError(ErrorKind.INVALID_ARGUMENT, "oauth.invalid_request")
    form = await request.form()
    values: dict[str, str] = {}
    for key in form:
        items = form.getall(key)
        if len(items) != 1 or not isinstance(items[0], str):
            raise DomainError(ErrorKind.INVALID_ARGUMENT, "oauth.invalid_request")
        values[key] = items[0]
    return values


def client_credentials_of(request: Request[Any, Any, Any], form: dict[str, str]) -> tuple[str, str]:
    """client_secret_basic (RFC 6749 2.3.1, form-encoded parts) or client_secret_post / none."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise DomainError(ErrorKind.UNAUTHENTICATED, "oauth.invalid_client")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise DomainError(ErrorKind.UNAUTHENTICATED, "oauth.invalid_client") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep or "client_secret" in form:
            raise DomainError(ErrorKind.UNAUTHENTICATED, "oauth.invalid_client")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def check_form_csrf(request: Request[Any, Any, Any], state: State, token: str) -> bool:
    """A page's form came from our page: its Origin (when sent) is ours and its CSRF field
    equals the CSRF cookie."""
    origin = request.headers.get("origin")
    if origin is not None and origin not in state.allowed_origins:
        return False
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), token.encode())


def _redirect(uri: str, params: dict[str, str]) -> Response[Any]:
    query = urlencode({k: v for k, v in params.items() if v})
    separator = "&" if urlsplit(uri).query else "?"
    return Redirect(uri + separator + query, status_code=303, headers=NO_STORE)


async def browser_principal(request: Request[Any, Any, Any], state: State) -> Principal | None:
    """The person signed in with the portal's session cookie, or None (a bad or revoked cookie,
    and any bearer token: these pages act for a browser only)."""
    try:
        principal = await state.authenticator.principal(request)
    except DomainError:
        return None
    if principal is None or not principal.by_cookie or principal.client_id is not None:
        return None
    return principal


class OidcController(Controller):
    """Discovery, authorization, token, userinfo, revocation, introspection, end session."""

    tags = ["oidc"]  # noqa: RUF012
    request_max_body_size = 16_384

    @get(
        "/.well-known/openid-configuration",
        summary="OpenID Provider metadata (discovery)",
        sync_to_thread=False,
    )
    def discovery(self, state: State) -> Response[dict[str, Any]]:
        issuer = state.settings.common.issuer
        return Response(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/oauth2/authorize",
                "token_endpoint": f"{issuer}/oauth2/token",
                "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
                "revocation_endpoint": f"{issuer}/oauth2/revoke",
                "introspection_endpoint": f"{issuer}/oauth2/introspect",
                "end_session_endpoint": f"{issuer}/oauth2/logout",
                "device_authorization_endpoint": f"{issuer}/oauth2/device_authorization",
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": [
                    "authorization_code",
                    "refresh_token",
                    "client_credentials",
                    DEVICE_GRANT,
                ],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "scopes_supported": SCOPES_SUPPORTED,
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "azp",
                    "sid",
                    "email",
                    "email_verified",
                    "name",
                    "locale",
                ],
                "authorization_response_iss_parameter_supported": True,
                "prompt_values_supported": ["none"],
            },
            headers={"Cache-Control": "public, max-age=300"},
        )

    @get("/oauth2/authorize", summary="Authorization endpoint (code flow)", include_in_schema=False)
    async def authorize(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[Any]:
        """Check the request, then sign in, ask consent, or issue the code and go back."""
        params = {
            name: values[0] if len(values) == 1 else "\x00"
            for name in AUTHORIZE_PARAMS
            if (values := request.query_params.getall(name, []))
        }
        silent = "none" in request.query_params.get("prompt", "").split()
        return await self._continue(request, state, clients, params, consent=False, silent=silent)

    async def _continue(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: ServiceClients,
        params: dict[str, str],
        *,
        consent: bool,
        silent: bool = False,
    ) -> Response[Any]:
        """Where an authorization request goes next. ``silent`` (``prompt=none``): no page is
        shown; what would need one goes back as ``login_required`` or ``consent_required``."""
        principal = await browser_principal(request, state)
        message = oidc_pb2.AuthorizationParams(**params)
        check = await clients.oidc.CheckAuthorization(
            oidc_pb2.CheckAuthorizationRequest(
                params=message, account_id=principal.account_id if principal else ""
            )
        )
        issuer = state.settings.common.issuer
        if check.error:
            if not check.redirect_allowed:
                return error_page(request, state, check.error_code)
            return _redirect(
                params["redirect_uri"],
                {"error": check.error, "state": params.get("state", ""), "iss": issuer},
            )
        needs = (
            "login_required"
            if principal is None
            else "consent_required"
            if check.consent_required and not consent
            else ""
        )
        if silent and needs:
            return _redirect(
                params["redirect_uri"],
                {"error": needs, "state": params.get("state", ""), "iss": issuer},
            )
        if principal is None:
            return_to = "/oauth2/authorize?" + urlencode(params)
            return await signin_page(request, state, return_to, app=check.client_name)
        if check.consent_required and not consent:
            csrf = request.cookies.get(CSRF_COOKIE, "")
            return consent_page(request, state, check.client_name, list(check.scopes), params, csrf)
        reply = await clients.oidc.IssueCode(
            oidc_pb2.IssueCodeRequest(
                params=message,
                account_id=principal.account_id,
                session_id=principal.session_id,
                consent_given=consent,
            )
        )
        return _redirect(
            params["redirect_uri"],
            {"code": reply.code, "state": params.get("state", ""), "iss": issuer},
        )

    @post("/oauth2/authorize/consent", status_code=303, include_in_schema=False)
    async def consent(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[Any]:
        """The consent page's answer: allow issues the code, deny returns access_denied."""
        form = await request.form()
        fields = {k: str(form.get(k, "")) for k in (*AUTHORIZE_PARAMS, "csrf", "decision")}
        if not check_form_csrf(request, state, fields.pop("csrf")):
            return error_page(request, state, "auth.csrf_failed", 403)
        decision = fields.pop("decision")
        params = {k: v for k, v in fields.items() if v}
        if decision != "allow":
            check = await clients.oidc.CheckAuthorization(
                oidc_pb2.CheckAuthorizationRequest(params=oidc_pb2.AuthorizationParams(**params))
            )
            if check.error and not check.redirect_allowed:
                return error_page(request, state, check.error_code)
            return _redirect(
                params["redirect_uri"],
                {
                    "error": "access_denied",
                    "state": params.get("state", ""),
                    "iss": state.settings.common.issuer,
                },
            )
        return await self._continue(request, state, clients, params, consent=True)

    @post("/oauth2/signin", status_code=303, include_in_schema=False)
    async def signin(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Response[Any]:
        """The sign-in form of the provider's pages: the password sign-in, then back."""
        form = await request.form()
        return_to = str(form.get("return_to", ""))
        if not return_to.startswith(("/oauth2/authorize?", "/device")) or "//" in return_to:
            return_to = "/"
        origin = request.headers.get("origin")
        if origin is not None and origin not in state.allowed_origins:
            return error_page(request, state, "auth.csrf_failed", 403)
        try:
            reply = await clients.identity.SignIn(
                identity_pb2.SignInRequest(
                    email=str(form.get("email", "")),
                    password=str(form.get("password", "")),
                    client=client_info,
                )
            )
        except grpc.aio.AioRpcError as failed:
            return await signin_page(
                request, state, return_to, error=page_error(failed).code, status=400
            )
        response: Response[Any] = Redirect(return_to, status_code=303, headers=NO_STORE)
        set_session_cookies(
            response,
            access_token=reply.access_token,
            refresh_token=reply.refresh_token,
            expires_in=reply.expires_in,
        )
        return response

    @post("/oauth2/token", summary="Token endpoint", status_code=200)
    async def token(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
        language: NamedDependency[str],
    ) -> Response[Any]:
        """authorization_code, refresh_token, client_credentials and device_code grants."""

        async def call() -> Response[Any]:
            form, client_id, secret = await authenticated_form(request)
            reply = await clients.oidc.Token(
                oidc_pb2.TokenRequest(
                    grant_type=form.get("grant_type", ""),
                    client_id=client_id,
                    client_secret=secret,
                    code=form.get("code", ""),
                    redirect_uri=form.get("redirect_uri", ""),
                    code_verifier=form.get("code_verifier", ""),
                    refresh_token=form.get("refresh_token", ""),
                    scope=form.get("scope", ""),
                    device_code=form.get("device_code", ""),
                    client=client_info,
                )
            )
            body: dict[str, Any] = {
                "access_token": reply.access_token,
                "token_type": reply.token_type,
                "expires_in": reply.expires_in,
            }
            for name in ("refresh_token", "id_token", "scope"):
                if value := getattr(reply, name):
                    body[name] = value
            return oauth_json(body)

        return await oauth_answer(language, call)

    @route(
        "/oauth2/userinfo",
        http_method=[HttpMethod.GET, HttpMethod.POST],
        status_code=200,
        summary="UserInfo endpoint (GET or POST, bearer token in the header)",
    )
    async def userinfo(
        self, request: Request[Any, Any, Any], clients: NamedDependency[ServiceClients]
    ) -> Response[dict[str, Any]]:
        """The claims the bearer token's scopes allow."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return oauth_json(
                {"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer realm="kabinet"'}
            )
        try:
            reply = await clients.oidc.UserInfo(
                oidc_pb2.UserInfoRequest(access_token=token.strip())
            )
        except grpc.aio.AioRpcError as failed:
            error = domain_error_from_rpc(failed)
            if error.kind is not ErrorKind.UNAUTHENTICATED:
                raise
            return oauth_json(
                {"error": "invalid_token"},
                401,
                {"WWW-Authenticate": 'Bearer realm="kabinet", error="invalid_token"'},
            )
        return oauth_json(json.loads(reply.claims_json))

    @post("/oauth2/revoke", summary="Token revocation (RFC 7009)", status_code=200)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Response[Any]:
        """Revokes the session behind the token; unknown tokens get the same 200."""

        async def call() -> Response[Any]:
            form, client_id, secret = await authenticated_form(request)
            await clients.oidc.RevokeToken(
                oidc_pb2.RevokeTokenRequest(
                    token=form.get("token", ""), client_id=client_id, client_secret=secret
                )
            )
            return Response(None, status_code=200, headers=NO_STORE)

        return await oauth_answer(language, call)

    @post("/oauth2/introspect", summary="Token introspection (RFC 7662)", status_code=200)
    async def introspect(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Response[Any]:
        """For confidential clients: whether a token is active, with its claims."""

        async def call() -> Response[Any]:
            form, client_id, secret = await authenticated_form(request)
            reply = await clients.oidc.IntrospectToken(
                oidc_pb2.IntrospectTokenRequest(
                    token=form.get("token", ""), client_id=client_id, client_secret=secret
                )
            )
            return oauth_json(json.loads(reply.answer_json))

        return await oauth_answer(language, call)

    @get("/oauth2/logout", summary="End session", include_in_schema=False)
    async def logout(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[Any]:
        """With a valid id_token_hint: sign out and go back; without one: ask to confirm."""
        query = request.query_params
        ended = await clients.oidc.EndSession(
            oidc_pb2.EndSessionRequest(
                id_token_hint=query.get("id_token_hint", ""),
                post_logout_redirect_uri=query.get("post_logout_redirect_uri", ""),
                client_id=query.get("client_id", ""),
            )
        )
        if not ended.confirmed:
            return logout_confirm_page(request, state, request.cookies.get(CSRF_COOKIE, ""))
        await self._sign_out_browser(request, state, clients)
        if ended.redirect_uri:
            response: Response[Any] = _redirect(
                ended.redirect_uri, {"state": query.get("state", "")}
            )
        else:
            response = logout_done_page(request, state, ended.client_name)
        clear_session_cookies(response)
        return response

    @post("/oauth2/logout", status_code=200, include_in_schema=False)
    async def confirm_logout(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[Any]:
        """The person confirmed signing out."""
        form = await request.form()
        if not check_form_csrf(request, state, str(form.get("csrf", ""))):
            return error_page(request, state, "auth.csrf_failed", 403)
        await self._sign_out_browser(request, state, clients)
        response = logout_done_page(request, state)
        clear_session_cookies(response)
        return response

    @staticmethod
    async def _sign_out_browser(
        request: Request[Any, Any, Any], state: State, clients: ServiceClients
    ) -> None:
        principal = await browser_principal(request, state)
        if principal is not None:
            await clients.identity.SignOut(
                identity_pb2.SignOutRequest(session_id=principal.session_id)
            )
            state.authenticator.revocations.add(principal.session_id)
