"""Per-request values the controllers receive by dependency injection."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from gateway.auth import Authenticator, Principal, check_csrf
from gateway.client_ip import client_ip
from gateway.clients import ServiceClients
from gateway.web.rendering import page_language
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2


def provide_clients(state: State) -> ServiceClients:
    clients: ServiceClients = state.clients
    return clients


def provide_authenticator(state: State) -> Authenticator:
    authenticator: Authenticator = state.authenticator
    return authenticator


# The scope a token issued to an OAuth client (a device app) needs to use the portal API; tokens
# of the portal's own sessions need none. Other web resources' tokens (openid, email...) and
# backends' client_credentials tokens are refused here.
API_SCOPE = "kabinet.api"


async def optional_principal(request: Request[Any, Any, Any], state: State) -> Principal | None:
    """The caller if signed in, else ``None``; a present principal gets the same checks as
    :func:`provide_principal` (403 on a forged browser request or a client's token without the
    API scope), for routes open to anonymous callers that act for the account when there is one."""
    principal = await state.authenticator.principal(request)
    if principal is None:
        return None
    if principal.client_id is not None and API_SCOPE not in principal.scope:
        raise DomainError(ErrorKind.PERMISSION_DENIED, "auth.forbidden")
    if principal.by_cookie:
        check_csrf(request, state.allowed_origins)
    return principal


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """The signed-in caller; 401 ``auth.required`` otherwise, 403 on a forged browser request
    or a client's token without the API scope."""
    principal = await optional_principal(request, state)
    if principal is None:
        raise DomainError(ErrorKind.UNAUTHENTICATED, "auth.required")
    return principal


def provide_client_info(request: Request[Any, Any, Any], state: State) -> identity_pb2.ClientInfo:
    """What identity records about the caller: IP (trusted proxies only), user agent, kind.
    Browsers announce themselves with Fetch Metadata or Origin headers; apps send neither."""
    is_browser = "sec-fetch-mode" in request.headers or "origin" in request.headers
    return identity_pb2.ClientInfo(
        ip=client_ip(request, state.trusted_proxies),
        user_agent=request.headers.get("user-agent", "")[:512],
        kind=identity_pb2.CLIENT_KIND_BROWSER if is_browser else identity_pb2.CLIENT_KIND_APP,
    )


def provide_language(request: Request[Any, Any, Any]) -> str:
    """The language the person chose on the portal (its cookie), else Accept-Language."""
    return page_language(request)
