"""The pages that emailed links open: activate, create a password, reset it, confirm an email.

Opening a link only shows a page; the action needs a button press (a POST), because mail
scanners and link previews open links on their own. The token travels in the form, the answer
is a page in the reader's language, and nothing here loads anything from elsewhere (no referrer
can leak the token).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromQuery, URLEncodedBody

from gateway.auth import set_session_cookies
from gateway.clients import ServiceClients
from gateway.pages import html_page
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2
from kabinet.messages import translate
from kabinet.rpc.errors import domain_error_from_rpc

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "activate.title": "Activate your account",
        "activate.lead": "Press the button to activate your Kabinet account.",
        "activate.button": "Activate",
        "activate.done": "Your account is active. You can sign in now.",
        "create-password.title": "Create your password",
        "create-password.lead": "Choose the password for your Kabinet account.",
        "create-password.button": "Save and sign in",
        "create-password.done": "Your password is set and you are signed in.",
        "reset-password.title": "Choose a new password",
        "reset-password.lead": "Your other sessions will be signed out.",
        "reset-password.button": "Save the new password",
        "reset-password.done": "Your password is changed. Sign in with the new one.",
        "confirm-email.title": "Confirm your new email address",
        "confirm-email.lead": "Press the button to use this address for your Kabinet account.",
        "confirm-email.button": "Confirm",
        "confirm-email.done": "Your email address is changed.",
        "password.label": "Password",
        "password.rules": (
            "At least 8 characters, with a digit, an uppercase and a lowercase Latin letter,"
            " no spaces; not a common or easily guessed password."
        ),
        "failed": "That did not work",
        "home": "To the front page",
    },
    "ru": {
        "activate.title": "Активация учётной записи",
        "activate.lead": "Нажмите кнопку, чтобы активировать учётную запись Kabinet.",
        "activate.button": "Активировать",
        "activate.done": "Учётная запись активирована. Теперь можно войти.",
        "create-password.title": "Придумайте пароль",
        "create-password.lead": "Задайте пароль для учётной записи Kabinet.",
        "create-password.button": "Сохранить и войти",
        "create-password.done": "Пароль сохранён, вы вошли в Kabinet.",
        "reset-password.title": "Новый пароль",
        "reset-password.lead": "На других устройствах потребуется войти заново.",
        "reset-password.button": "Сохранить новый пароль",
        "reset-password.done": "Пароль изменён. Войдите с новым паролем.",
        "confirm-email.title": "Подтверждение нового адреса",
        "confirm-email.lead": "Нажмите кнопку, чтобы использовать этот адрес для Kabinet.",
        "confirm-email.button": "Подтвердить",
        "confirm-email.done": "Адрес электронной почты изменён.",
        "password.label": "Пароль",
        "password.rules": (
            "Не менее 8 символов, цифра, заглавная и строчная латинские буквы, без пробелов;"
            " не распространённый и не легко угадываемый пароль."
        ),
        "failed": "Не получилось",
        "home": "На главную",
    },
}


class TokenForm(msgspec.Struct):
    token: str = ""


class PasswordForm(msgspec.Struct):
    token: str = ""
    password: str = ""


@dataclass(frozen=True)
class _Page:
    name: str
    asks_password: bool


def _form(page: _Page, language: str, token: str, error: str = "") -> str:
    t = _TEXT[language]
    field = ""
    if page.asks_password:
        field = (
            f'<p><label for="password">{t["password.label"]}</label><br>'
            '<input id="password" name="password" type="password" autocomplete="new-password"'
            ' required minlength="8" maxlength="256" autofocus></p>'
            f'<p id="rules">{t["password.rules"]}</p>'
        )
    return (
        f"<h1>{t[page.name + '.title']}</h1>{error}<p>{t[page.name + '.lead']}</p>"
        f'<form method="post" action="/{page.name}">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">{field}'
        f'<button type="submit">{t[page.name + ".button"]}</button></form>'
    )


def _failure(error: DomainError, language: str) -> str:
    items = "".join(
        f"<li>{html.escape(translate(v.code, language, v.params))}</li>" for v in error.violations
    )
    detail = html.escape(translate(error.code, language, error.params))
    return (
        f'<div role="alert"><p><strong>{_TEXT[language]["failed"]}:</strong> {detail}</p>'
        f"{f'<ul>{items}</ul>' if items else ''}</div>"
    )


def _done(page: _Page, language: str) -> str:
    t = _TEXT[language]
    return (
        f"<h1>{t[page.name + '.title']}</h1><p>{t[page.name + '.done']}</p>"
        f'<p><a href="/">{t["home"]}</a></p>'
    )


def _from_our_page(request: Request[Any, Any, Any], allowed_origins: frozenset[str]) -> bool:
    """Whether the form was posted from one of our pages (login-CSRF defence: these forms can
    sign the browser in). The link pages send no referrer, so browsers post them with
    ``Origin: null``; Fetch Metadata then tells a same-origin post from a cross-site one."""
    origin = request.headers.get("origin")
    if origin is None or origin in allowed_origins:
        return True
    return origin == "null" and request.headers.get("sec-fetch-site") == "same-origin"


async def _perform(
    page: _Page,
    language: str,
    token: str,
    action: Callable[[], Awaitable[identity_pb2.SignInResponse | None]],
    request: Request[Any, Any, Any],
    state: State,
) -> Response[str]:
    """Run ``action`` and answer with the outcome page (signed in when the action returns a
    session); a failure shows the form again with what went wrong."""
    if not _from_our_page(request, state.allowed_origins):
        error = DomainError(ErrorKind.PERMISSION_DENIED, "auth.csrf_failed")
        return html_page(
            _TEXT[language]["failed"], _failure(error, language), lang=language, status=403
        )
    try:
        signed_in = await action()
    except grpc.aio.AioRpcError as rpc_error:
        error = domain_error_from_rpc(rpc_error)
        status = 503 if error.kind is ErrorKind.UNAVAILABLE else 400
        body = _form(page, language, token, _failure(error, language))
        return html_page(_TEXT[language][page.name + ".title"], body, lang=language, status=status)
    done = html_page(_TEXT[language][page.name + ".title"], _done(page, language), lang=language)
    if signed_in is not None:
        set_session_cookies(
            done,
            access_token=signed_in.access_token,
            refresh_token=signed_in.refresh_token,
            expires_in=signed_in.expires_in,
        )
    return done


ACTIVATE = _Page("activate", asks_password=False)
CREATE_PASSWORD = _Page("create-password", asks_password=True)
RESET_PASSWORD = _Page("reset-password", asks_password=True)
CONFIRM_EMAIL = _Page("confirm-email", asks_password=False)


class LinkPagesController(Controller):
    include_in_schema = False
    request_max_body_size = 16_384

    @get(["/activate", "/create-password", "/reset-password", "/confirm-email"])
    async def show(
        self,
        request: Request[Any, Any, Any],
        language: NamedDependency[str],
        token: FromQuery[str] = "",
    ) -> Response[str]:
        page = {p.name: p for p in (ACTIVATE, CREATE_PASSWORD, RESET_PASSWORD, CONFIRM_EMAIL)}[
            request.url.path.strip("/")
        ]
        return html_page(
            _TEXT[language][page.name + ".title"], _form(page, language, token), lang=language
        )

    @post("/activate", status_code=200)
    async def activate(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: URLEncodedBody[TokenForm],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Response[str]:
        async def action() -> None:
            await clients.identity.Activate(identity_pb2.ActivateRequest(token=data.token))

        return await _perform(ACTIVATE, language, data.token, action, request, state)

    @post("/confirm-email", status_code=200)
    async def confirm_email(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: URLEncodedBody[TokenForm],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Response[str]:
        async def action() -> None:
            await clients.identity.ConfirmEmailChange(
                identity_pb2.ConfirmEmailChangeRequest(token=data.token)
            )

        return await _perform(CONFIRM_EMAIL, language, data.token, action, request, state)

    @post("/reset-password", status_code=200)
    async def reset_password(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: URLEncodedBody[PasswordForm],
        clients: NamedDependency[ServiceClients],
        language: NamedDependency[str],
    ) -> Response[str]:
        async def action() -> None:
            await clients.identity.ResetPassword(
                identity_pb2.ResetPasswordRequest(token=data.token, password=data.password)
            )

        return await _perform(RESET_PASSWORD, language, data.token, action, request, state)

    @post("/create-password", status_code=200)
    async def create_password(
        self,
        request: Request[Any, Any, Any],
        state: State,
        data: URLEncodedBody[PasswordForm],
        clients: NamedDependency[ServiceClients],
        client_info: NamedDependency[identity_pb2.ClientInfo],
        language: NamedDependency[str],
    ) -> Response[str]:
        async def action() -> identity_pb2.SignInResponse:
            return await clients.identity.SetInitialPassword(
                identity_pb2.SetInitialPasswordRequest(
                    token=data.token, password=data.password, client=client_info
                )
            )

        return await _perform(CREATE_PASSWORD, language, data.token, action, request, state)
