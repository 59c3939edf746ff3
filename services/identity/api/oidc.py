"""``ClientRegistryService``, ``OidcService`` and ``DeviceRegistryService``: protobuf in, a use
case of ``identity.domain.oidc`` / ``identity.domain.devices``, protobuf out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from identity.api.grpc import client_from_pb
from identity.domain.devices import Device, DeviceFlow
from identity.domain.oidc import (
    DEVICE_CODE,
    AuthorizationParams,
    ClientRegistry,
    OAuthClient,
    OpenIdProvider,
    Tokens,
)
from kabinet.identity.v1 import oidc_pb2 as pb
from kabinet.identity.v1 import oidc_pb2_grpc
from kabinet.protobuf import timestamp

REGISTRY_SERVICE = "kabinet.identity.v1.ClientRegistryService"
OIDC_SERVICE = "kabinet.identity.v1.OidcService"
DEVICES_SERVICE = "kabinet.identity.v1.DeviceRegistryService"
SERVICE_NAMES = (REGISTRY_SERVICE, OIDC_SERVICE, DEVICES_SERVICE)

# Only operators (a person with the operator role, or a client_credentials token with the admin
# scope) may call these; see kabinet.rpc.callers.
OPERATOR_METHODS = frozenset(
    f"/{REGISTRY_SERVICE}/{name}"
    for name in ("RegisterClient", "UpdateClient", "ListClients", "DisableClient")
)

# The scope a product backend's client_credentials token needs for identity's reading methods.
METHOD_SCOPES = {
    "/kabinet.identity.v1.IdentityService/ValidateToken": "kabinet.tokens.validate",
    "/kabinet.identity.v1.IdentityService/Introspect": "kabinet.tokens.validate",
    "/kabinet.identity.v1.IdentityService/CheckSessions": "kabinet.tokens.validate",
    "/kabinet.identity.v1.IdentityService/GetAccount": "kabinet.accounts.read",
}

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass
class OidcServices:
    registry: ClientRegistry
    provider: OpenIdProvider
    devices: DeviceFlow


def client_to_pb(client: OAuthClient) -> pb.OAuthClient:
    return pb.OAuthClient(
        client_id=client.client_id,
        name=client.name,
        confidential=client.confidential,
        redirect_uris=list(client.redirect_uris),
        grant_types=list(client.grant_types),
        scopes=list(client.scopes),
        first_party=client.first_party,
        post_logout_redirect_uris=list(client.post_logout_redirect_uris),
        disabled=client.disabled,
    )


def client_from_pb_message(client: pb.OAuthClient) -> OAuthClient:
    return OAuthClient(
        client_id=client.client_id,
        name=client.name,
        redirect_uris=tuple(client.redirect_uris),
        grant_types=tuple(client.grant_types),
        scopes=tuple(client.scopes),
        first_party=client.first_party,
        post_logout_redirect_uris=tuple(client.post_logout_redirect_uris),
        disabled=client.disabled,
    )


def params_from_pb(params: pb.AuthorizationParams) -> AuthorizationParams:
    return AuthorizationParams(
        client_id=params.client_id,
        redirect_uri=params.redirect_uri,
        response_type=params.response_type,
        scope=params.scope,
        state=params.state,
        nonce=params.nonce,
        code_challenge=params.code_challenge,
        code_challenge_method=params.code_challenge_method,
    )


def tokens_to_pb(tokens: Tokens) -> pb.TokenResponse:
    return pb.TokenResponse(
        access_token=tokens.access_token,
        token_type="Bearer",  # noqa: S106 - the scheme's name
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
        scope=" ".join(tokens.scope),
    )


def device_to_pb(device: Device) -> pb.Device:
    return pb.Device(
        id=str(device.id),
        name=device.name,
        platform=device.platform,
        client_id=device.client_id,
        app_name=device.app_name,
        app_version=device.app_version,
        connected_at=timestamp(device.connected_at),
        last_seen_at=timestamp(device.last_seen_at),
    )


class ClientRegistryServicer(oidc_pb2_grpc.ClientRegistryServiceServicer):
    """The operators' client registry."""

    def __init__(self, registry: ClientRegistry) -> None:
        self._registry = registry

    async def RegisterClient(
        self, request: pb.RegisterClientRequest, context: Context
    ) -> pb.RegisterClientResponse:
        """Add a client; a confidential one's secret is in this answer only."""
        client, secret = await self._registry.register(
            client_from_pb_message(request.client), request.client.confidential
        )
        return pb.RegisterClientResponse(client=client_to_pb(client), client_secret=secret)

    async def UpdateClient(
        self, request: pb.UpdateClientRequest, context: Context
    ) -> pb.UpdateClientResponse:
        """Replace a client's settings."""
        client = await self._registry.update(client_from_pb_message(request.client))
        return pb.UpdateClientResponse(client=client_to_pb(client))

    async def ListClients(
        self, request: pb.ListClientsRequest, context: Context
    ) -> pb.ListClientsResponse:
        """Every client."""
        clients = await self._registry.list()
        return pb.ListClientsResponse(clients=[client_to_pb(c) for c in clients])

    async def DisableClient(
        self, request: pb.DisableClientRequest, context: Context
    ) -> pb.DisableClientResponse:
        """Stop a client."""
        await self._registry.disable(request.client_id)
        return pb.DisableClientResponse()


class OidcServicer(oidc_pb2_grpc.OidcServiceServicer):
    """The OpenID provider's endpoints, as the gateway calls them."""

    def __init__(self, provider: OpenIdProvider, devices: DeviceFlow) -> None:
        self._p = provider
        self._d = devices

    async def CheckAuthorization(
        self, request: pb.CheckAuthorizationRequest, context: Context
    ) -> pb.CheckAuthorizationResponse:
        """Validate an authorization request."""
        check = await self._p.check_authorization(
            params_from_pb(request.params), request.account_id
        )
        return pb.CheckAuthorizationResponse(
            client_name=check.client_name,
            scopes=list(check.scopes),
            consent_required=check.consent_required,
            redirect_allowed=check.redirect_allowed,
            error=check.error,
            error_code=check.error_code,
        )

    async def IssueCode(
        self, request: pb.IssueCodeRequest, context: Context
    ) -> pb.IssueCodeResponse:
        """An authorization code for the signed-in account."""
        code = await self._p.issue_code(
            params_from_pb(request.params),
            request.account_id,
            request.session_id,
            request.consent_given,
        )
        return pb.IssueCodeResponse(code=code)

    async def Token(self, request: pb.TokenRequest, context: Context) -> pb.TokenResponse:
        """The token endpoint, every grant type."""
        caller = client_from_pb(request.client)
        if request.grant_type == DEVICE_CODE:
            tokens = await self._d.poll(
                request.client_id, request.client_secret, request.device_code, caller
            )
        else:
            tokens = await self._p.token(
                request.grant_type,
                request.client_id,
                request.client_secret,
                code=request.code,
                redirect_uri=request.redirect_uri,
                code_verifier=request.code_verifier,
                refresh_token=request.refresh_token,
                scope=request.scope,
                client=caller,
            )
        return tokens_to_pb(tokens)

    async def UserInfo(self, request: pb.UserInfoRequest, context: Context) -> pb.UserInfoResponse:
        """The token's account's claims."""
        claims = await self._p.userinfo(request.access_token)
        return pb.UserInfoResponse(claims_json=json.dumps(claims))

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: Context
    ) -> pb.RevokeTokenResponse:
        """RFC 7009."""
        await self._p.revoke(request.token, request.client_id, request.client_secret)
        return pb.RevokeTokenResponse()

    async def IntrospectToken(
        self, request: pb.IntrospectTokenRequest, context: Context
    ) -> pb.IntrospectTokenResponse:
        """RFC 7662."""
        answer = await self._p.introspect(request.token, request.client_id, request.client_secret)
        return pb.IntrospectTokenResponse(answer_json=json.dumps(answer))

    async def EndSession(
        self, request: pb.EndSessionRequest, context: Context
    ) -> pb.EndSessionResponse:
        """End the client's session when the hint is valid."""
        ended = await self._p.end_session(
            request.id_token_hint, request.post_logout_redirect_uri, request.client_id
        )
        return pb.EndSessionResponse(
            confirmed=ended.confirmed,
            redirect_uri=ended.redirect_uri,
            client_name=ended.client_name,
        )

    async def AuthorizeDevice(
        self, request: pb.AuthorizeDeviceRequest, context: Context
    ) -> pb.AuthorizeDeviceResponse:
        """RFC 8628 device authorization."""
        started = await self._d.authorize(
            request.client_id,
            request.client_secret,
            request.scope,
            device_name=request.device_name,
            platform=request.platform,
            app_version=request.app_version,
        )
        return pb.AuthorizeDeviceResponse(
            device_code=started.device_code,
            user_code=started.user_code,
            expires_in=started.expires_in,
            interval=started.interval,
        )

    async def LookupUserCode(
        self, request: pb.LookupUserCodeRequest, context: Context
    ) -> pb.LookupUserCodeResponse:
        """The request behind a user code."""
        pending = await self._d.lookup(request.user_code, request.account_id)
        return pb.LookupUserCodeResponse(
            user_code=pending.user_code,
            client_name=pending.client_name,
            device_name=pending.device_name,
            platform=pending.platform,
            app_version=pending.app_version,
            scopes=list(pending.scopes),
        )

    async def DecideUserCode(
        self, request: pb.DecideUserCodeRequest, context: Context
    ) -> pb.DecideUserCodeResponse:
        """Approve or deny."""
        await self._d.decide(request.user_code, request.account_id, request.approve)
        return pb.DecideUserCodeResponse()


class DeviceRegistryServicer(oidc_pb2_grpc.DeviceRegistryServiceServicer):
    """The account's connected devices."""

    def __init__(self, devices: DeviceFlow) -> None:
        self._d = devices

    async def ListDevices(
        self, request: pb.ListDevicesRequest, context: Context
    ) -> pb.ListDevicesResponse:
        """Connected devices."""
        devices = await self._d.devices(request.account_id)
        return pb.ListDevicesResponse(devices=[device_to_pb(d) for d in devices])

    async def DisconnectDevice(
        self, request: pb.DisconnectDeviceRequest, context: Context
    ) -> pb.DisconnectDeviceResponse:
        """Disconnect one device; its tokens die at once."""
        session_id = await self._d.disconnect(request.account_id, request.device_id)
        return pb.DisconnectDeviceResponse(session_id=str(session_id))


def register(services: OidcServices) -> Callable[[grpc.aio.Server], None]:
    """Adds the three servicers to a server."""

    def add(server: grpc.aio.Server) -> None:
        oidc_pb2_grpc.add_ClientRegistryServiceServicer_to_server(
            ClientRegistryServicer(services.registry), server
        )
        oidc_pb2_grpc.add_OidcServiceServicer_to_server(
            OidcServicer(services.provider, services.devices), server
        )
        oidc_pb2_grpc.add_DeviceRegistryServiceServicer_to_server(
            DeviceRegistryServicer(services.devices), server
        )

    return add
