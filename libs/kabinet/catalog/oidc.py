"""Messages of the OpenID provider, the device connection and the client registry."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "oidc.client_unknown": (
        "The application that sent you here is not known to Kabinet.",
        "Приложение, которое направило вас сюда, не зарегистрировано в Kabinet.",
    ),
    "oidc.redirect_uri_mismatch": (
        "The application asked to return to an address it did not register. Nothing was sent.",
        "Приложение попросило вернуться на незарегистрированный адрес. Ничего не отправлено.",
    ),
    "oidc.client_invalid": (
        "The client's field {field} is missing or invalid.",
        "Поле клиента {field} отсутствует или заполнено неверно.",
    ),
    "oidc.consent_required": (
        "Allow the application access first.",
        "Сначала разрешите приложению доступ.",
    ),
    "device.user_code_invalid": (
        "There is no pending request with this code. Check the code on your device.",
        "Запроса с таким кодом нет. Проверьте код на экране устройства.",
    ),
    "device.too_many_attempts": (
        "Too many wrong codes. Wait a few minutes and try again.",
        "Слишком много неверных кодов. Подождите несколько минут и повторите попытку.",
    ),
    "device.not_found": ("There is no such device.", "Такого устройства нет."),
    # RFC 6749 / RFC 8628 errors, as error_description
    "oauth.invalid_request": (
        "The request is missing a parameter or has a wrong one.",
        "В запросе не хватает параметра или он неверен.",
    ),
    "oauth.invalid_client": (
        "The client could not be authenticated.",
        "Не удалось проверить подлинность клиента.",
    ),
    "oauth.invalid_grant": (
        "The code or token is invalid, expired, already used or not meant for this client.",
        "Код или токен недействителен, просрочен, уже использован или выдан другому клиенту.",
    ),
    "oauth.unauthorized_client": (
        "This client may not use this grant type.",
        "Этому клиенту не разрешён такой способ получения токена.",
    ),
    "oauth.unsupported_grant_type": (
        "This grant type is not supported.",
        "Такой способ получения токена не поддерживается.",
    ),
    "oauth.unsupported_response_type": (
        "Only the authorization code flow (response_type=code) is supported.",
        "Поддерживается только получение кода авторизации (response_type=code).",
    ),
    "oauth.invalid_scope": (
        "The requested scope is invalid or not allowed for this client.",
        "Запрошенные права недопустимы для этого клиента.",
    ),
    "oauth.access_denied": ("Access was denied.", "В доступе отказано."),
    "oauth.authorization_pending": (
        "The person has not approved the request yet.",
        "Пользователь ещё не подтвердил запрос.",
    ),
    "oauth.slow_down": ("Poll less often.", "Опрашивайте реже."),
    "oauth.expired_token": (
        "The device code has expired. Start again.",
        "Срок действия кода устройства истёк. Начните заново.",
    ),
}
