"""Connecting a device (RFC 8628) at the edge, and the account's device registry.

``POST /oauth2/device_authorization`` starts a grant for an app; ``/device`` is the portal page
where the signed-in person enters (or confirms a pre-filled) code, sees which app and device ask,
and approves or denies; ``/api/v1/account/devices`` lists and disconnects devices. A disconnected
device's session is added to this replica's revocation list at once (the others learn it from
``identity.session.revoked``).
"""

from __future__ import annotations

from typing import Any

import grpc
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from gateway.auth import CSRF_COOKIE, Principal
from gateway.clients import ServiceClients
from gateway.controllers.oidc import (
    NO_STORE,
    authenticated_form,
    browser_principal,
    check_form_csrf,
    oauth_answer,
    oauth_json,
    page_error,
)
from gateway.oidc_pages import (
    device_code_page,
    device_confirm_page,
    device_done_page,
    device_quick_page,
    error_page,
    signin_page,
)
from gateway.timestamps import iso
from gateway.web.quick_sign_in import DEVICE_QUICK_PAGE, quick_sign_in
from gateway.web.rendering import page_language, shown_error
from kabinet.errors import ErrorKind
from kabinet.identity.v1 import oidc_pb2


class DeviceInfo(msgspec.Struct):
    id: str
    name: str
    platform: str
    client_id: str
    app_name: str
    app_version: str
    connected_at: str
    last_seen_at: str


class DeviceList(msgspec.Struct):
    devices: list[DeviceInfo]


def _device(device: oidc_pb2.Device) -> DeviceInfo:
    return DeviceInfo(
        id=device.id,
        name=device.name,
        platform=device.platform,
        client_id=device.client_id,
        app_name=device.app_name,
        app_version=device.app_version,
        connected_at=iso(device.connected_at),
        last_seen_at=iso(device.last_seen_at),
    )


class DeviceAuthorizationController(Controller):
    """The app's side: start a device authorization grant."""

    tags = ["oidc"]  # noqa: RUF012
    request_max_body_size = 16_384

    @post(
        "/oauth2/device_authorization", summary="Device authorization (RFC 8628)", status_code=200
    )
    async def device_authorization(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Response[Any]:
        """A device code for the app and a user code for the person."""

        async def call() -> Response[Any]:
            form, client_id, secret = await authenticated_form(request)
            reply = await clients.oidc.AuthorizeDevice(
                oidc_pb2.AuthorizeDeviceRequest(
                    client_id=client_id,
                    client_secret=secret,
                    scope=form.get("scope", ""),
                    device_name=form.get("device_name", ""),
                    platform=form.get("platform", ""),
                    app_version=form.get("app_version", ""),
                )
            )
            page = f"{state.settings.common.issuer}/device"
            return oauth_json(
                {
                    "device_code": reply.device_code,
                    "user_code": reply.user_code,
                    "verification_uri": page,
                    "verification_uri_complete": f"{page}?user_code={reply.user_code}",
                    "expires_in": reply.expires_in,
                    "interval": reply.interval,
                }
            )

        return await oauth_answer(language, call)


class DevicePageController(Controller):
    """The person's side: the portal page that approves or denies a device."""

    include_in_schema = False
    request_max_body_size = 16_384

    @get("/device")
    async def show(
        self,
        request: Request[Any, Any, Any],
        state: State,
        user_code: FromQuery[str] = "",
    ) -> Response[Any]:
        """The code form (pre-filled from the link; confirming it is always a separate step)."""
        principal = await browser_principal(request, state)
        if principal is None:
            return_to = "/device" + (f"?user_code={user_code}" if user_code else "")
            return await signin_page(request, state, return_to)
        return device_code_page(
            request, state, user_code[:16], request.cookies.get(CSRF_COOKIE, "")
        )

    async def _signed_in_form(
        self, request: Request[Any, Any, Any], state: State
    ) -> tuple[Principal | None, dict[str, str]]:
        form = await request.form()
        fields = {k: str(form.get(k, "")) for k in ("user_code", "csrf", "decision")}
        if not check_form_csrf(request, state, fields["csrf"]):
            return None, fields
        return await browser_principal(request, state), fields

    @post("/device/confirm", status_code=200)
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[Any]:
        """Which app and device ask: the person compares the code and decides."""
        principal, fields = await self._signed_in_form(request, state)
        if principal is None:
            return error_page(request, state, "auth.csrf_failed", 403)
        csrf = fields["csrf"]
        try:
            pending = await clients.oidc.LookupUserCode(
                oidc_pb2.LookupUserCodeRequest(
                    user_code=fields["user_code"], account_id=principal.account_id
                )
            )
        except grpc.aio.AioRpcError as failed:
            error = page_error(failed)
            status = 429 if error.kind is ErrorKind.RESOURCE_EXHAUSTED else 400
            return device_code_page(
                request, state, fields["user_code"][:16], csrf, error=error.code, status=status
            )
        return device_confirm_page(
            request,
            state,
            user_code=pending.user_code,
            app=pending.client_name,
            device_name=pending.device_name,
            platform=pending.platform,
            app_version=pending.app_version,
            scopes=list(pending.scopes),
            csrf=csrf,
        )

    @post("/device/decide", status_code=200)
    async def decide(
        self,
        request: Request[Any, Any, Any],
        state: State,
        clients: NamedDependency[ServiceClients],
    ) -> Response[Any]:
        """Approve or deny."""
        principal, fields = await self._signed_in_form(request, state)
        if principal is None:
            return error_page(request, state, "auth.csrf_failed", 403)
        approve = fields["decision"] == "approve"
        try:
            await clients.oidc.DecideUserCode(
                oidc_pb2.DecideUserCodeRequest(
                    user_code=fields["user_code"], account_id=principal.account_id, approve=approve
                )
            )
        except grpc.aio.AioRpcError as failed:
            error = page_error(failed)
            return device_code_page(
                request, state, "", fields["csrf"], error=error.code, status=400
            )
        quick = (
            await quick_sign_in(request, state, principal.account_id, DEVICE_QUICK_PAGE)
            if approve
            else None
        )
        return device_done_page(request, state, approve, quick)

    @get(DEVICE_QUICK_PAGE)
    async def quick(
        self,
        request: Request[Any, Any, Any],
        state: State,
        error: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """Where setting up quick sign-in from the device page comes back: done, or why not."""
        principal = await browser_principal(request, state)
        if principal is None:
            return Redirect(f"/signin?next={DEVICE_QUICK_PAGE}")
        quick = await quick_sign_in(request, state, principal.account_id, DEVICE_QUICK_PAGE)
        return device_quick_page(request, state, quick, shown_error(error, page_language(request)))


class DevicesController(Controller):
    """The account's connected devices."""

    path = "/api/v1/account/devices"
    tags = ["account"]  # noqa: RUF012

    @get("/", summary="The account's connected devices")
    async def list_devices(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> Response[DeviceList]:
        reply = await clients.devices.ListDevices(
            oidc_pb2.ListDevicesRequest(account_id=principal.account_id)
        )
        return Response(DeviceList([_device(d) for d in reply.devices]), headers=NO_STORE)

    @delete("/{device_id:str}", summary="Disconnect a device; its tokens are refused at once")
    async def disconnect(
        self,
        device_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        state: State,
    ) -> None:
        reply = await clients.devices.DisconnectDevice(
            oidc_pb2.DisconnectDeviceRequest(account_id=principal.account_id, device_id=device_id)
        )
        state.authenticator.revocations.add(reply.session_id)
