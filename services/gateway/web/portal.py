"""The person's own pages: front page, sign-up, sign-in, password reset request, account, and
the language switch."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from gateway.web.quick_sign_in import offered_providers, sign_in_choices
from gateway.web.rendering import (
    LANGUAGE_COOKIE,
    LANGUAGE_COOKIE_MAX_AGE,
    page_language,
    principal_of,
    render_page,
    safe_next,
    shown_error,
    when,
)
from kabinet.identity.v1 import identity_pb2, oidc_pb2
from kabinet.messages import LANGUAGES


class PortalController(Controller):
    """Pages a person uses in a browser; the data they change goes through /api/v1."""

    include_in_schema = False

    @get("/")
    async def home(self, request: Request[Any, Any, Any], state: State) -> Template:
        signed_in = await principal_of(request, state) is not None
        return render_page(request, state, "home.html", "home", signed_in=signed_in)

    @get("/signup")
    async def signup(self, request: Request[Any, Any, Any], state: State) -> Template:
        return render_page(request, state, "signup.html", "signup", signed_in=False)

    @get("/signup/check-email")
    async def check_email(self, request: Request[Any, Any, Any], state: State) -> Template:
        return render_page(request, state, "check_email.html", "signup", signed_in=False)

    @get("/signin")
    async def signin(
        self,
        request: Request[Any, Any, Any],
        state: State,
        next: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
    ) -> Template:
        target = safe_next(next)
        return render_page(
            request,
            state,
            "signin.html",
            "signin",
            signed_in=False,
            next=target,
            error=shown_error(error, page_language(request)),
            providers=await offered_providers(request, state),
        )

    @get("/forgot-password")
    async def forgot_password(self, request: Request[Any, Any, Any], state: State) -> Template:
        return render_page(request, state, "forgot.html", "signin", signed_in=False)

    @get("/account")
    async def account(
        self, request: Request[Any, Any, Any], state: State, error: FromQuery[str | None] = None
    ) -> Template | Redirect:
        principal = await principal_of(request, state)
        if principal is None:
            return Redirect("/signin?next=/account")
        identity = state.clients.identity
        account_id = principal.account_id
        account_reply, sessions_reply, (linked, linkable), devices_reply = await asyncio.gather(
            identity.GetAccount(identity_pb2.GetAccountRequest(account_id=account_id)),
            identity.ListSessions(
                identity_pb2.ListSessionsRequest(
                    account_id=account_id, current_session_id=principal.session_id
                )
            ),
            sign_in_choices(request, state, account_id),
            state.clients.devices.ListDevices(oidc_pb2.ListDevicesRequest(account_id=account_id)),
        )
        return render_page(
            request,
            state,
            "account.html",
            "account",
            signed_in=True,
            error=shown_error(error, page_language(request)),
            account=account_reply.account,
            linked=linked,
            linkable=linkable,
            devices=[
                {
                    "id": d.id,
                    "name": d.name,
                    "platform": d.platform,
                    "app": d.app_name,
                    "app_version": d.app_version,
                    "connected_at": when(d.connected_at),
                    "last_seen_at": when(d.last_seen_at),
                }
                for d in devices_reply.devices
            ],
            sessions=[
                {
                    "id": s.id,
                    "user_agent": s.user_agent,
                    "ip": s.ip,
                    "created_at": when(s.created_at),
                    "current": s.current,
                }
                for s in sessions_reply.sessions
            ],
        )

    @get("/language/{code:str}")
    async def choose_language(
        self, code: FromPath[str], next: FromQuery[str | None] = None
    ) -> Response[None]:
        """Remember the language in a cookie and go back where the person was."""
        target = safe_next(next, default="/")
        if code not in LANGUAGES:
            return Redirect(target)
        return Redirect(
            target,
            cookies=[
                Cookie(
                    key=LANGUAGE_COOKIE,
                    value=code,
                    max_age=LANGUAGE_COOKIE_MAX_AGE,
                    path="/",
                    samesite="lax",
                    httponly=True,
                )
            ],
        )
