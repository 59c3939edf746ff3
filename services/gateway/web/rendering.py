"""What every portal page shares: the language, the layout's context, safe redirects, the
template engine and the static files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.datastructures import State
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from gateway.auth import Principal
from gateway.web.texts import PASSWORD_RULES, TEXTS
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


def when(ts: Any) -> str:
    """A protobuf timestamp as the pages show it (UTC, to the minute)."""
    if not getattr(ts, "seconds", 0):
        return ""
    moment: datetime = ts.ToDatetime()
    return moment.strftime("%Y-%m-%d %H:%M")


async def principal_of(request: Request[Any, Any, Any], state: State) -> Principal | None:
    """The signed-in person, if any (pages redirect to sign-in rather than answer 401)."""
    principal: Principal | None = await state.authenticator.principal(request)
    return principal


def render_page(
    request: Request[Any, Any, Any],
    state: State,
    template: str,
    page: str,
    *,
    signed_in: bool,
    **context: Any,
) -> Template:
    """``template`` in the layout, in the person's language; ``page`` marks the nav item."""
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
