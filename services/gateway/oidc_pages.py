"""The OpenID provider's and the device connection's server-rendered pages (no scripts).

Sign-in, consent, sign-out confirmation, errors, and the device page. Every form that acts for a
signed-in person carries the CSRF cookie's value (double submit) and is checked with the Origin.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from litestar import Response

from gateway.pages import html_page
from kabinet.messages import translate

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "signin.title": "Sign in to Kabinet",
        "signin.lead": "{app} asks you to sign in with your Kabinet account.",
        "signin.lead.plain": "Sign in with your Kabinet account to continue.",
        "signin.email": "Email",
        "signin.password": "Password",
        "signin.button": "Sign in",
        "consent.title": "Allow access",
        "consent.lead": "{app} asks for:",
        "consent.allow": "Allow",
        "consent.deny": "Deny",
        "scope.openid": "who you are (your account id)",
        "scope.email": "your email address",
        "scope.profile": "your name and language",
        "error.title": "This request cannot be completed",
        "logout.title": "Sign out of Kabinet?",
        "logout.lead": "You will be signed out of Kabinet in this browser.",
        "logout.button": "Sign out",
        "logout.done": "You are signed out of Kabinet.",
        "logout.done.app": "You are signed out of Kabinet and {app}.",
        "device.title": "Connect a device",
        "device.lead": "Enter the code shown on your device.",
        "device.code": "Code",
        "device.next": "Continue",
        "device.confirm.title": "Connect this device?",
        "device.confirm.lead": (
            "Only approve if you started this on your own device just now and the code there is"
        ),
        "device.app": "Application",
        "device.name": "Device",
        "device.platform": "Platform",
        "device.version": "Version",
        "device.scopes": "Access",
        "device.approve": "Connect",
        "device.deny": "Deny",
        "device.approved": "The device is connected. You can return to it now.",
        "device.denied": "The request was denied. Nothing was connected.",
        "device.quick": "Set up quick sign-in with a social account",
        "home": "To the front page",
    },
    "ru": {
        "signin.title": "Вход в Kabinet",
        "signin.lead": "{app} просит войти с учётной записью Kabinet.",
        "signin.lead.plain": "Войдите с учётной записью Kabinet, чтобы продолжить.",
        "signin.email": "Электронная почта",
        "signin.password": "Пароль",
        "signin.button": "Войти",
        "consent.title": "Разрешить доступ",
        "consent.lead": "{app} запрашивает:",
        "consent.allow": "Разрешить",
        "consent.deny": "Отказать",
        "scope.openid": "кто вы (идентификатор учётной записи)",
        "scope.email": "ваш адрес электронной почты",
        "scope.profile": "ваше имя и язык",
        "error.title": "Запрос нельзя выполнить",
        "logout.title": "Выйти из Kabinet?",
        "logout.lead": "Вы выйдете из Kabinet в этом браузере.",
        "logout.button": "Выйти",
        "logout.done": "Вы вышли из Kabinet.",
        "logout.done.app": "Вы вышли из Kabinet и {app}.",
        "device.title": "Подключение устройства",
        "device.lead": "Введите код, показанный на устройстве.",
        "device.code": "Код",
        "device.next": "Продолжить",
        "device.confirm.title": "Подключить это устройство?",
        "device.confirm.lead": (
            "Подтверждайте, только если вы сами только что начали подключение на своём устройстве"
            " и на нём показан код"
        ),
        "device.app": "Приложение",
        "device.name": "Устройство",
        "device.platform": "Платформа",
        "device.version": "Версия",
        "device.scopes": "Доступ",
        "device.approve": "Подключить",
        "device.deny": "Отказать",
        "device.approved": "Устройство подключено. Можно вернуться к нему.",
        "device.denied": "Запрос отклонён, ничего не подключено.",
        "device.quick": "Настроить быстрый вход через соцсеть",
        "home": "На главную",
    },
}

# "Set up quick sign-in" (linking a social account, built on the federation branch): the linking
# start is the JSON API ``POST /api/v1/account/identities/{provider}``, driven by the portal's
# account page (its quick sign-in section, ``/account#h-quick`` there). Set this to that page's
# address once both are merged; while it is None no (dead) link is shown.
QUICK_SIGN_IN_URL: str | None = None


def t(language: str, key: str, **values: str) -> str:
    text = _TEXT[language][key]
    return text.format(**{k: html.escape(v) for k, v in values.items()}) if values else text


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )


def error_page(language: str, code: str, status: int = 400) -> Response[str]:
    """A failure shown to the person (never a redirect to an unverified address)."""
    body = (
        f"<h1>{t(language, 'error.title')}</h1>"
        f'<p role="alert">{html.escape(translate(code, language))}</p>'
        f'<p><a href="/">{t(language, "home")}</a></p>'
    )
    return html_page(t(language, "error.title"), body, lang=language, status=status)


def signin_page(
    language: str, return_to: str, app: str = "", error: str = "", status: int = 200
) -> Response[str]:
    """The minimal sign-in form; it posts to ``/oauth2/signin`` and comes back to ``return_to``."""
    lead = t(language, "signin.lead", app=app) if app else t(language, "signin.lead.plain")
    alert = f'<p role="alert">{html.escape(translate(error, language))}</p>' if error else ""
    body = (
        f"<h1>{t(language, 'signin.title')}</h1>{alert}<p>{lead}</p>"
        '<form method="post" action="/oauth2/signin">'
        f"{_hidden({'return_to': return_to})}"
        f'<p><label for="email">{t(language, "signin.email")}</label><br>'
        '<input id="email" name="email" type="email" autocomplete="username" required></p>'
        f'<p><label for="password">{t(language, "signin.password")}</label><br>'
        '<input id="password" name="password" type="password" autocomplete="current-password"'
        " required></p>"
        f'<button type="submit">{t(language, "signin.button")}</button></form>'
    )
    return html_page(t(language, "signin.title"), body, lang=language, status=status)


def _scope_list(language: str, scopes: list[str]) -> str:
    items = []
    for scope in scopes:
        key = f"scope.{scope}"
        label = _TEXT[language].get(key, scope)
        items.append(f"<li>{html.escape(label)}</li>")
    return f"<ul>{''.join(items)}</ul>"


def consent_page(
    language: str, app: str, scopes: list[str], fields: Mapping[str, str], csrf: str
) -> Response[str]:
    body = (
        f"<h1>{t(language, 'consent.title')}</h1><p>{t(language, 'consent.lead', app=app)}</p>"
        f"{_scope_list(language, scopes)}"
        '<form method="post" action="/oauth2/authorize/consent">'
        f"{_hidden({**fields, 'csrf': csrf})}"
        f'<button type="submit" name="decision" value="allow">{t(language, "consent.allow")}'
        "</button> "
        f'<button type="submit" name="decision" value="deny">{t(language, "consent.deny")}'
        "</button></form>"
    )
    return html_page(t(language, "consent.title"), body, lang=language)


def logout_confirm_page(language: str, csrf: str) -> Response[str]:
    body = (
        f"<h1>{t(language, 'logout.title')}</h1><p>{t(language, 'logout.lead')}</p>"
        f'<form method="post" action="/oauth2/logout">{_hidden({"csrf": csrf})}'
        f'<button type="submit">{t(language, "logout.button")}</button></form>'
    )
    return html_page(t(language, "logout.title"), body, lang=language)


def logout_done_page(language: str, app: str = "") -> Response[str]:
    text = t(language, "logout.done.app", app=app) if app else t(language, "logout.done")
    body = f'<h1>{text}</h1><p><a href="/">{t(language, "home")}</a></p>'
    return html_page(t(language, "logout.title"), body, lang=language)


def device_code_page(
    language: str, user_code: str, csrf: str, error: str = "", status: int = 200
) -> Response[str]:
    """Where the person enters (or sees pre-filled) the code; confirming it is the next page."""
    alert = f'<p role="alert">{html.escape(translate(error, language))}</p>' if error else ""
    body = (
        f"<h1>{t(language, 'device.title')}</h1>{alert}<p>{t(language, 'device.lead')}</p>"
        f'<form method="post" action="/device/confirm">{_hidden({"csrf": csrf})}'
        f'<p><label for="user_code">{t(language, "device.code")}</label><br>'
        f'<input id="user_code" name="user_code" value="{html.escape(user_code)}"'
        ' autocomplete="off" required maxlength="16"></p>'
        f'<button type="submit">{t(language, "device.next")}</button></form>'
    )
    return html_page(t(language, "device.title"), body, lang=language, status=status)


def device_confirm_page(
    language: str,
    *,
    user_code: str,
    app: str,
    device_name: str,
    platform: str,
    app_version: str,
    scopes: list[str],
    csrf: str,
) -> Response[str]:
    """The app and device that ask, the code to compare, approve or deny."""
    rows = "".join(
        f"<tr><th>{t(language, key)}</th><td>{html.escape(value)}</td></tr>"
        for key, value in (
            ("device.app", app),
            ("device.name", device_name or "-"),
            ("device.platform", platform or "-"),
            ("device.version", app_version or "-"),
        )
    )
    body = (
        f"<h1>{t(language, 'device.confirm.title')}</h1>"
        f"<p>{t(language, 'device.confirm.lead')} <strong>{html.escape(user_code)}</strong>.</p>"
        f"<table>{rows}</table><p>{t(language, 'device.scopes')}:</p>"
        f"{_scope_list(language, scopes)}"
        '<form method="post" action="/device/decide">'
        f"{_hidden({'user_code': user_code, 'csrf': csrf})}"
        f'<button type="submit" name="decision" value="approve">{t(language, "device.approve")}'
        "</button> "
        f'<button type="submit" name="decision" value="deny">{t(language, "device.deny")}'
        "</button></form>"
        f"{quick_sign_in_section(language)}"
    )
    return html_page(t(language, "device.confirm.title"), body, lang=language)


def quick_sign_in_section(language: str) -> str:
    """The offer to set up quick sign-in with a social account, next to connecting a device."""
    if QUICK_SIGN_IN_URL is None:
        return ""
    return (
        f'<p class="quick-sign-in"><a href="{html.escape(QUICK_SIGN_IN_URL)}">'
        f"{t(language, 'device.quick')}</a></p>"
    )


def device_done_page(language: str, approved: bool) -> Response[str]:
    text = t(language, "device.approved" if approved else "device.denied")
    quick = quick_sign_in_section(language) if approved else ""
    body = f'<h1>{text}</h1>{quick}<p><a href="/">{t(language, "home")}</a></p>'
    return html_page(t(language, "device.title"), body, lang=language)
