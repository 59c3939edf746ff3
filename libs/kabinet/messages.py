"""Human messages for every stable error code, in English and Russian.

One catalog for the whole cluster: the platform's codes here, each domain's in
``kabinet.catalog.<domain>``. The gateway turns any code it receives into a message in the caller's
language; tests check that every code a service can raise has both translations. Templates use
``str.format`` fields filled from the error's params.
"""

from __future__ import annotations

from collections.abc import Mapping

from kabinet.catalog import (
    distribution,
    identity,
    oidc,
    passwords,
    social,
    subscription,
    support,
)

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"

# code -> (English, Russian)
PLATFORM: dict[str, tuple[str, str]] = {
    # transport and platform
    "request.invalid": ("The request is invalid.", "Некорректный запрос."),
    "request.malformed_json": (
        "The request body is not valid JSON.",
        "Тело запроса не является корректным JSON.",
    ),
    "request.unsupported_media_type": (
        "The request must be sent as application/json.",
        "Запрос должен быть в формате application/json.",
    ),
    "request.invalid_field": (
        "This field is missing or invalid.",
        "Поле отсутствует или заполнено неверно.",
    ),
    "request.too_large": ("The request body is too large.", "Тело запроса слишком велико."),
    "request.not_found": ("Nothing is here.", "Здесь ничего нет."),
    "request.method_not_allowed": (
        "This method is not allowed here.",
        "Этот метод здесь не поддерживается.",
    ),
    "request.rate_limited": (
        "Too many requests. Try again later.",
        "Слишком много запросов. Повторите попытку позже.",
    ),
    "request.deadline_exceeded": (
        "The request took too long. Try again.",
        "Запрос выполнялся слишком долго. Повторите попытку.",
    ),
    "service.unavailable": (
        "The service is temporarily unavailable. Try again shortly.",
        "Сервис временно недоступен. Повторите попытку чуть позже.",
    ),
    "internal": (
        "Something went wrong on our side. We are looking into it.",
        "Что-то пошло не так на нашей стороне. Мы уже разбираемся.",
    ),
    "auth.required": ("Please sign in.", "Пожалуйста, войдите в систему."),
    "auth.forbidden": ("You may not do this.", "У вас нет прав на это действие."),
    "auth.csrf_failed": (
        "This request did not come from a Kabinet page. Reload the page and try again.",
        "Запрос пришёл не со страницы Кабинета. Обновите страницу и повторите попытку.",
    ),
}


def _merge(*catalogs: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for catalog in catalogs:
        clash = set(catalog) & set(merged)
        if clash:
            raise ValueError(f"message codes defined twice: {sorted(clash)}")
        merged.update(catalog)
    return merged


CATALOG: dict[str, tuple[str, str]] = _merge(
    PLATFORM,
    identity.MESSAGES,
    passwords.MESSAGES,
    subscription.MESSAGES,
    support.MESSAGES,
    social.MESSAGES,
    oidc.MESSAGES,
    distribution.MESSAGES,
)


def pick_language(accept_language: str | None, preferred: str | None = None) -> str:
    """The language to answer in: an explicit preference, else the first supported one in an
    Accept-Language header, else English."""
    if preferred in LANGUAGES:
        return str(preferred)
    if accept_language:
        ranked = []
        for index, part in enumerate(accept_language.split(",")):
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            ranked.append((-weight, index, tag.split("-")[0].strip().lower()))
        for _, _, lang in sorted(ranked):
            if lang in LANGUAGES:
                return lang
    return DEFAULT_LANGUAGE


def translate(code: str, language: str, params: Mapping[str, str] | None = None) -> str:
    """The message for ``code`` in ``language`` (English when unknown)."""
    en, ru = CATALOG.get(code, CATALOG["internal"])
    template = ru if language == "ru" else en
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError, ValueError):
        return template
