"""The OpenID provider's and the device connection's pages, in the portal's layout and language.

Sign-in, consent, sign-out confirmation, errors, and the device pages. They need no script: every
form is a plain POST, and every form that acts for a signed-in person carries the CSRF cookie's
value (double submit) and is checked with the Origin. The pages of the authorization request load
no script at all; their forms may answer with a redirect to the client's ``redirect_uri`` (another
origin), which ``form-action 'self'`` would block, so those pages send the portal's policy without
that directive. The device pages keep the edge's policy and load the portal's script only for
setting up quick sign-in, which goes through the JSON API like the account page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request
from litestar.datastructures import State
from litestar.response import Template

from gateway.edge import PAGE_CSP
from gateway.web.quick_sign_in import offered_providers
from gateway.web.rendering import page_language, render_page
from gateway.web.texts import TEXTS
from kabinet.messages import translate

# The portal's policy, except ``form-action``: these pages' forms end in a redirect to a client.
REDIRECTING_CSP = "; ".join(
    part for part in PAGE_CSP.split("; ") if not part.startswith("form-action")
)
# No referrer to other sites (the authorization request's address stays here); not
# ``no-referrer``: with it a browser sends ``Origin: null`` with the forms, which the Origin check
# (rightly) refuses.
_PAGE_HEADERS = {"Referrer-Policy": "same-origin", "Cache-Control": "no-store"}

Req = Request[Any, Any, Any]


def _page(
    request: Req,
    state: State,
    template: str,
    *,
    signed_in: bool,
    status: int = 200,
    redirecting: bool = False,
    **context: Any,
) -> Template:
    page = render_page(request, state, template, "oidc", signed_in=signed_in, **context)
    page.status_code = status
    page.headers.update(_PAGE_HEADERS)
    if redirecting:
        page.headers["Content-Security-Policy"] = REDIRECTING_CSP
    return page


def _text(request: Req, key: str, **values: str) -> str:
    text = TEXTS[page_language(request)][key]
    return text.format(**values) if values else text


def error_page(
    request: Req, state: State, code: str, status: int = 400, *, signed_in: bool = False
) -> Template:
    """A failure shown to the person (never a redirect to an unverified address)."""
    return _page(
        request,
        state,
        "oidc_message.html",
        signed_in=signed_in,
        status=status,
        scripts=False,
        title=_text(request, "oidc.error.title"),
        heading="",
        message=translate(code, page_language(request)),
        alert=True,
        logout_csrf=None,
    )


async def signin_page(
    request: Req,
    state: State,
    return_to: str,
    app: str = "",
    error: str = "",
    status: int = 200,
) -> Template:
    """The sign-in form and the social sign-ins offered in the caller's region; either comes back
    to ``return_to`` (the authorization request, which may go on to the client at once, or a
    device page): the form posts to ``/oauth2/signin``, a provider's button starts its flow."""
    return _page(
        request,
        state,
        "oidc_signin.html",
        signed_in=False,
        status=status,
        redirecting=return_to.startswith("/oauth2/authorize"),
        scripts=False,
        path=return_to,
        return_to=return_to,
        app=app,
        error=translate(error, page_language(request)) if error else "",
        providers=await offered_providers(request, state),
    )


def consent_page(
    request: Req, state: State, app: str, scopes: list[str], fields: dict[str, str], csrf: str
) -> Template:
    """What the client asks for; allow or deny, both a plain POST that ends at the client."""
    return _page(
        request,
        state,
        "oidc_consent.html",
        signed_in=True,
        redirecting=True,
        scripts=False,
        path="/oauth2/authorize?" + urlencode(fields),
        app=app,
        scopes=scopes,
        fields=fields,
        csrf=csrf,
    )


def logout_confirm_page(request: Req, state: State, csrf: str) -> Template:
    return _page(
        request,
        state,
        "oidc_message.html",
        signed_in=True,
        scripts=False,
        title=_text(request, "oidc.logout.title"),
        heading="",
        message=_text(request, "oidc.logout.lead"),
        alert=False,
        logout_csrf=csrf,
    )


def logout_done_page(request: Req, state: State, app: str = "") -> Template:
    done = (
        _text(request, "oidc.logout.done.app", app=app)
        if app
        else _text(request, "oidc.logout.done")
    )
    return _page(
        request,
        state,
        "oidc_message.html",
        signed_in=False,
        scripts=False,
        path="/",
        title=_text(request, "oidc.logout.title"),
        heading=done,
        message="",
        alert=False,
        logout_csrf=None,
    )


def device_code_page(
    request: Req, state: State, user_code: str, csrf: str, error: str = "", status: int = 200
) -> Template:
    """Where the person enters (or sees pre-filled) the code; confirming it is the next page."""
    return _page(
        request,
        state,
        "device_code.html",
        signed_in=True,
        status=status,
        path="/device" + (f"?{urlencode({'user_code': user_code})}" if user_code else ""),
        user_code=user_code,
        csrf=csrf,
        error=translate(error, page_language(request)) if error else "",
    )


def device_confirm_page(
    request: Req,
    state: State,
    *,
    user_code: str,
    app: str,
    device_name: str,
    platform: str,
    app_version: str,
    scopes: list[str],
    csrf: str,
) -> Template:
    """The app and device that ask, the code to compare, approve or deny."""
    return _page(
        request,
        state,
        "device_confirm.html",
        signed_in=True,
        path="/device?" + urlencode({"user_code": user_code}),
        user_code=user_code,
        app=app,
        device_name=device_name,
        platform=platform,
        app_version=app_version,
        scopes=scopes,
        csrf=csrf,
    )


def device_done_page(
    request: Req, state: State, approved: bool, quick: dict[str, Any] | None
) -> Template:
    """Approved (with the offer to set up quick sign-in) or denied."""
    return _page(
        request,
        state,
        "device_done.html",
        signed_in=True,
        path="/device/quick-sign-in" if approved else "/device",
        approved=approved,
        quick=quick,
    )


def device_quick_page(request: Req, state: State, quick: dict[str, Any], error: str) -> Template:
    """Where linking started on the device page comes back: done, or why not."""
    return _page(request, state, "device_quick.html", signed_in=True, quick=quick, error=error)
