"""The portal: server-rendered pages in Russian and English, with one small script.

Pages are Jinja templates (``templates/``) filled from the services over gRPC; their forms send
JSON to the same public API that apps use (``static/portal.js``), so every rule and error text
stays in one place. The language comes from the ``kabinet_lang`` cookie (set by the switch link
on every page), else the browser's Accept-Language. Nothing is loaded from other origins and no
script is inline, so the edge's Content-Security-Policy holds on every page.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, get
from litestar.datastructures import Cookie, State
from litestar.params import FromPath, FromQuery
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from gateway.auth import Principal
from gateway.controllers.social import region_hint
from gateway.web.texts import PASSWORD_RULES, PROVIDER_LABELS, TEXTS
from kabinet.identity.v1 import federation_pb2, identity_pb2
from kabinet.messages import CATALOG, LANGUAGES, pick_language, translate

HERE = Path(__file__).parent
LANGUAGE_COOKIE = "kabinet_lang"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescaping (the engine's default for .html templates)."""
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


def static_router() -> ControllerRouterHandler:
    """The portal's stylesheet and script under /static."""
    return create_static_files_router(
        path="/static", directories=[HERE / "static"], include_in_schema=False
    )


def page_language(request: Request[Any, Any, Any]) -> str:
    """The remembered choice, else what the browser asks for, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return pick_language(request.headers.get("accept-language"))


def safe_next(target: str | None, default: str = "/account") -> str:
    """Only a path on this site: never another origin (open redirect), never ``//host``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def shown_error(code: str | None, language: str) -> str:
    """The text of an error code another page sent here (``?error=``); only known codes are
    shown, so the address cannot put words of someone else's on the page."""
    if not code or code not in CATALOG:
        return ""
    return translate(code, language, {})


def _when(ts: Any) -> str:
    if not getattr(ts, "seconds", 0):
        return ""
    moment: datetime = ts.ToDatetime()
    return moment.strftime("%Y-%m-%d %H:%M")


class PortalController(Controller):
    """Pages a person uses in a browser; the data they change goes through /api/v1."""

    include_in_schema = False

    async def _principal(self, request: Request[Any, Any, Any], state: State) -> Principal | None:
        principal: Principal | None = await state.authenticator.principal(request)
        return principal

    def _page(
        self,
        request: Request[Any, Any, Any],
        state: State,
        template: str,
        page: str,
        *,
        signed_in: bool,
        **context: Any,
    ) -> Template:
        lang = page_language(request)
        return Template(
            template_name=template,
            context={
                "lang": lang,
                "other_lang": "en" if lang == "ru" else "ru",
                "t": TEXTS[lang],
                "page": page,
                "path": request.url.path,
                "signed_in": signed_in,
                "mailbox": state.settings.mailbox_dir is not None,
                "rules": PASSWORD_RULES,
                **context,
            },
            headers={"Cache-Control": "no-store", "Content-Language": lang},
        )

    @get("/")
    async def home(self, request: Request[Any, Any, Any], state: State) -> Template:
        signed_in = await self._principal(request, state) is not None
        return self._page(request, state, "home.html", "home", signed_in=signed_in)

    @get("/signup")
    async def signup(self, request: Request[Any, Any, Any], state: State) -> Template:
        return self._page(request, state, "signup.html", "signup", signed_in=False)

    @get("/signup/check-email")
    async def check_email(self, request: Request[Any, Any, Any], state: State) -> Template:
        return self._page(request, state, "check_email.html", "signup", signed_in=False)

    async def _providers(
        self, request: Request[Any, Any, Any], state: State, account_id: str = ""
    ) -> list[str]:
        """The social sign-ins offered to this caller (region rules decided by identity)."""
        reply = await state.clients.federation.ListSocialProviders(
            federation_pb2.ListSocialProvidersRequest(
                region_hint=region_hint(request, state), account_id=account_id
            )
        )
        return list(reply.providers)

    @get("/signin")
    async def signin(
        self,
        request: Request[Any, Any, Any],
        state: State,
        next: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
    ) -> Template:
        target = safe_next(next)
        return self._page(
            request,
            state,
            "signin.html",
            "signin",
            signed_in=False,
            next=target,
            error=shown_error(error, page_language(request)),
            providers=[
                {"name": p, "label": PROVIDER_LABELS[p]}
                for p in await self._providers(request, state)
                if p in PROVIDER_LABELS
            ],
        )

    @get("/forgot-password")
    async def forgot_password(self, request: Request[Any, Any, Any], state: State) -> Template:
        return self._page(request, state, "forgot.html", "signin", signed_in=False)

    @get("/account")
    async def account(
        self, request: Request[Any, Any, Any], state: State, error: FromQuery[str | None] = None
    ) -> Template | Redirect:
        principal = await self._principal(request, state)
        if principal is None:
            return Redirect("/signin?next=/account")
        identity = state.clients.identity
        account = (
            await identity.GetAccount(
                identity_pb2.GetAccountRequest(account_id=principal.account_id)
            )
        ).account
        sessions = (
            await identity.ListSessions(
                identity_pb2.ListSessionsRequest(
                    account_id=principal.account_id, current_session_id=principal.session_id
                )
            )
        ).sessions
        linked = (
            await state.clients.federation.ListLinkedIdentities(
                federation_pb2.ListLinkedIdentitiesRequest(account_id=principal.account_id)
            )
        ).identities
        linked_names = {i.provider for i in linked}
        offered = await self._providers(request, state, principal.account_id)
        return self._page(
            request,
            state,
            "account.html",
            "account",
            signed_in=True,
            error=shown_error(error, page_language(request)),
            account=account,
            linked=[
                {
                    "name": i.provider,
                    "label": PROVIDER_LABELS.get(i.provider, i.provider),
                    "email": i.email,
                }
                for i in linked
            ],
            linkable=[
                {"name": p, "label": PROVIDER_LABELS[p]}
                for p in offered
                if p in PROVIDER_LABELS and p not in linked_names
            ],
            sessions=[
                {
                    "id": s.id,
                    "user_agent": s.user_agent,
                    "ip": s.ip,
                    "created_at": _when(s.created_at),
                    "current": s.current,
                }
                for s in sessions
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
