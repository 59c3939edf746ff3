"""Social sign-in at the edge: the providers offered, starting a flow (302 to the provider), the
callback (GET, and POST for Apple's form_post), and the account's linked sign-ins.

The flow is bound to the browser by a ``__Host-`` cookie per provider holding the binding secret
identity returned; identity keeps only its digest. The cookie is ``SameSite=None``: Apple answers
with a cross-site POST, which carries no ``Lax`` cookie, and the binding must arrive with it. This
is safe because the cookie only ever completes the one flow it was made for, with the matching
``state``, once, within minutes, and it is HttpOnly and Secure. The region comes from the
configured header only when the socket peer is a trusted proxy; otherwise the header is ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import grpc
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect

from gateway.auth import Principal, set_session_cookies
from gateway.client_ip import from_trusted_proxy
from gateway.clients import ServiceClients
from gateway.social_schemas import (
    LinkedIdentity,
    LinkStartBody,
    LinkStarted,
    SocialProvider,
    SocialProviders,
)
from gateway.timestamps import iso
from kabinet.auth.tokens import InvalidToken
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import federation_pb2, identity_pb2
from kabinet.rpc.errors import domain_error_from_rpc

BINDING_COOKIE = "__Host-kabinet_sf_{provider}"
# Where a failed linking lands when it was started from one of these pages (it comes back there
# anyway when it succeeds); the cookie only ever names a page of this list, else ``/account``.
LINK_BACK_COOKIE = "__Host-kabinet_sf_back"
LINK_FAILURE_PAGES = frozenset({"/device/quick-sign-in"})
PROVIDER_NAMES = frozenset({"google", "apple", "facebook", "yandex", "vk"})
MAX_PARAM = 4096
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# Starting may read a discovery document, completing calls the provider up to three times
# (token, keys, profile): these two calls get a longer deadline than the gateway's default.
PROVIDER_CALL_TIMEOUT = 20.0


def _provider(name: str) -> str:
    """A provider name as a path segment; anything else is ``social.provider_unknown``."""
    if name not in PROVIDER_NAMES:
        raise DomainError(ErrorKind.NOT_FOUND, "social.provider_unknown")
    return name


def region_hint(request: Request[Any, Any, Any], state: State) -> str:
    """The region the edge vouches for: the configured header, from a trusted proxy only."""
    if not from_trusted_proxy(request, state.trusted_proxies):
        return ""
    return request.headers.get(state.settings.region_header, "")[:8].strip()


def _set_binding(response: Response[Any], provider: str, binding: str, max_age: int) -> None:
    response.set_cookie(
        BINDING_COOKIE.format(provider=provider),
        binding,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="none",
    )


def _set_back(response: Response[Any], page: str, max_age: int) -> None:
    response.set_cookie(
        LINK_BACK_COOKIE,
        page,
        max_age=max_age,
        path="/",
        secure=True,  # a ``__Host-`` cookie is only set (and only removed) with Secure
        httponly=True,
        samesite="none",  # like the binding: Apple comes back with a cross-site POST
    )


def _param(values: Any, name: str) -> str:
    value = values.get(name) or ""
    return value[:MAX_PARAM] if isinstance(value, str) else ""


class SocialSignInController(Controller):
    path = "/api/v1/auth"
    tags = ["social sign-in"]  # noqa: RUF012
    request_max_body_size = 16_384

    @get("/providers", summary="The social sign-in providers the caller may use")
    async def providers(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[SocialProviders]:
        account_id = ""
        try:
            principal = await state.authenticator.principal(request)
        except (InvalidToken, DomainError):
            principal = None  # a bad token here only loses the account's country
        if principal is not None:
            account_id = principal.account_id
        reply = await clients.federation.ListSocialProviders(
            federation_pb2.ListSocialProvidersRequest(
                region_hint=region_hint(request, state), account_id=account_id
            )
        )
        base = state.settings.common.public_url.rstrip("/")
        body = SocialProviders(
            region=reply.region,
            providers=[
                SocialProvider(name=p, start_url=f"{base}/api/v1/auth/social/{p}/start")
                for p in reply.providers
            ],
        )
        return Response(body, headers={"Cache-Control": "no-store", "Vary": "Cookie"})

    @get("/social/{provider:str}/start", summary="Start signing in with a provider (302)")
    async def start(
        self,
        provider: FromPath[str],
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
        return_to: FromQuery[str] = "/",
    ) -> Redirect:
        """Records the flow in identity and sends the browser to the provider."""
        reply = await clients.federation.StartSocialFlow(
            federation_pb2.StartSocialFlowRequest(
                provider=_provider(provider),
                purpose=federation_pb2.SOCIAL_FLOW_PURPOSE_SIGN_IN,
                return_to=return_to[:MAX_PARAM],
                region_hint=region_hint(request, state),
                client=client_info,
            ),
            timeout=PROVIDER_CALL_TIMEOUT,
        )
        response = Redirect(reply.authorization_url, status_code=302, headers=NO_STORE)
        _set_binding(response, provider, reply.binding, reply.expires_in)
        return response

    @get("/social/{provider:str}/callback", summary="The provider sends the browser back here")
    async def callback(
        self,
        provider: FromPath[str],
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
        language: NamedDependency[str],
    ) -> Redirect:
        return await _complete(
            provider, dict(request.query_params), request, state, clients, client_info, language
        )

    @post(
        "/social/{provider:str}/callback",
        status_code=303,
        summary="The provider posts the browser back here (Apple's response_mode=form_post)",
    )
    async def callback_form_post(
        self,
        provider: FromPath[str],
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
        language: NamedDependency[str],
    ) -> Redirect:
        """A cross-site POST: no CSRF token can come with it; the state and the binding cookie
        are what authenticate it."""
        form = await request.form()
        values = {key: form.get(key) for key in ("code", "state", "error", "user", "device_id")}
        return await _complete(provider, values, request, state, clients, client_info, language)


async def _complete(
    provider: str,
    values: dict[str, Any],
    request: Request[Any, Any, Any],
    state: State,
    clients: ServiceClients,
    client_info: identity_pb2.ClientInfo,
    language: str,
) -> Redirect:
    name = _provider(provider)
    cookie = BINDING_COOKIE.format(provider=name)
    base = state.settings.common.public_url.rstrip("/")
    try:
        reply = await clients.federation.CompleteSocialFlow(
            federation_pb2.CompleteSocialFlowRequest(
                provider=name,
                state=_param(values, "state"),
                binding=request.cookies.get(cookie, "")[:MAX_PARAM],
                code=_param(values, "code"),
                error=_param(values, "error"),
                device_id=_param(values, "device_id"),
                user_json=_param(values, "user"),
                region_hint=region_hint(request, state),
                language=language,
                client=client_info,
            ),
            timeout=PROVIDER_CALL_TIMEOUT,
        )
    except grpc.aio.AioRpcError as failure:
        # A browser navigation sees the refusal on the sign-in page (a stable code in the
        # address, never a secret); an API client gets the problem+json answer.
        error = domain_error_from_rpc(failure)
        browser = "text/html" in request.headers.get("accept", "")
        if not browser or error.kind in (ErrorKind.INTERNAL, ErrorKind.UNAVAILABLE):
            raise
        try:
            signed_in = await state.authenticator.principal(request) is not None
        except (InvalidToken, DomainError):
            signed_in = False
        back = request.cookies.get(LINK_BACK_COOKIE, "")
        # Linking happens when signed in: its failure goes to the account page, or back to
        # the page it was started from.
        page = (back if back in LINK_FAILURE_PAGES else "/account") if signed_in else "/signin"
        failed = Redirect(
            f"{base}{page}?{urlencode({'error': error.code})}", status_code=303, headers=NO_STORE
        )
        _set_binding(failed, name, "", 0)
        _set_back(failed, "", 0)
        return failed
    response = Redirect(f"{base}{reply.return_to or '/'}", status_code=303, headers=NO_STORE)
    _set_binding(response, name, "", 0)
    _set_back(response, "", 0)
    if reply.HasField("tokens"):
        set_session_cookies(
            response,
            access_token=reply.tokens.access_token,
            refresh_token=reply.tokens.refresh_token,
            expires_in=reply.tokens.expires_in,
        )
    return response


class LinkedIdentitiesController(Controller):
    path = "/api/v1/account/identities"
    tags = ["account"]  # noqa: RUF012
    request_max_body_size = 16_384

    @get("/", summary="The social sign-ins linked to the account")
    async def list_identities(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> list[LinkedIdentity]:
        reply = await clients.federation.ListLinkedIdentities(
            federation_pb2.ListLinkedIdentitiesRequest(account_id=principal.account_id)
        )
        return [
            LinkedIdentity(
                provider=i.provider,
                email=i.email,
                linked_at=iso(i.linked_at),
                last_used_at=iso(i.last_used_at),
            )
            for i in reply.identities
        ]

    @post(
        "/{provider:str}",
        status_code=200,
        summary="Start linking a provider (quick sign-in); go to authorization_url next",
    )
    async def start_link(
        self,
        provider: FromPath[str],
        data: JSONBody[LinkStartBody],
        request: Request[Any, Any, Any],
        state: State,
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
    ) -> Response[LinkStarted]:
        """Linking needs the provider to vouch for an email equal to the account's."""
        reply = await clients.federation.StartSocialFlow(
            federation_pb2.StartSocialFlowRequest(
                provider=_provider(provider),
                purpose=federation_pb2.SOCIAL_FLOW_PURPOSE_LINK,
                account_id=principal.account_id,
                return_to=data.return_to,
                region_hint=region_hint(request, state),
                client=client_info,
            ),
            timeout=PROVIDER_CALL_TIMEOUT,
        )
        response = Response(
            LinkStarted(authorization_url=reply.authorization_url, expires_in=reply.expires_in),
            headers=NO_STORE,
        )
        _set_binding(response, provider, reply.binding, reply.expires_in)
        if data.return_to in LINK_FAILURE_PAGES:
            _set_back(response, data.return_to, reply.expires_in)
        else:
            _set_back(response, "", 0)
        return response

    @delete("/{provider:str}", status_code=204, summary="Unlink a provider")
    async def unlink(
        self,
        provider: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> None:
        """Refused while it is the account's only way to sign in."""
        await clients.federation.UnlinkIdentity(
            federation_pb2.UnlinkIdentityRequest(
                account_id=principal.account_id, provider=_provider(provider)
            )
        )
