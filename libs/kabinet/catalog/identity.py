"""Messages of the identity service's codes (the password rules have their own module)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "email.invalid": (
        "This is not a valid email address.",
        "Это не похоже на правильный адрес электронной почты.",
    ),
    "password.invalid": (
        "The password does not meet the requirements.",
        "Пароль не соответствует требованиям.",
    ),
    "auth.invalid_credentials": (
        "Wrong email or password.",
        "Неверный адрес электронной почты или пароль.",
    ),
    "auth.too_many_attempts": (
        "Too many attempts to sign in. Wait a little and try again.",
        "Слишком много попыток входа. Подождите немного и повторите.",
    ),
    "auth.refresh_invalid": (
        "Your sign-in has ended. Please sign in again.",
        "Сеанс завершён. Пожалуйста, войдите снова.",
    ),
    "token.invalid": (
        "Your sign-in has expired or is not valid. Please sign in again.",
        "Срок действия входа истёк или он недействителен. Войдите снова.",
    ),
    "account.not_activated": (
        "Your account is not activated yet. Open the link we emailed you, or ask for a new one.",
        "Учётная запись ещё не активирована. Откройте ссылку из письма или запросите новую.",
    ),
    "account.not_found": ("There is no such account.", "Такой учётной записи нет."),
    "account.wrong_password": (
        "The password is not right.",
        "Неверный пароль.",
    ),
    "account.no_password": (
        "This account has no password yet. Create one with the link we emailed you.",
        "У этой учётной записи ещё нет пароля. Задайте его по ссылке из письма.",
    ),
    "session.not_found": ("There is no such session.", "Такого сеанса нет."),
    "sessions.too_many_ids": (
        "Too many sessions asked about at once.",
        "Слишком много сеансов в одном запросе.",
    ),
    "email_change.same_address": (
        "This is already your address.",
        "Это и есть ваш текущий адрес.",
    ),
    "profile.name_invalid": (
        "The name is too long or has characters that are not allowed.",
        "Имя слишком длинное или содержит недопустимые символы.",
    ),
    "profile.language_invalid": (
        "Choose Russian (ru) or English (en).",
        "Выберите русский (ru) или английский (en) язык.",
    ),
    "profile.country_invalid": (
        "Choose a country by its two-letter ISO code.",
        "Укажите страну двухбуквенным кодом ISO.",
    ),
    "activation.link_invalid": (
        "This activation link is not valid any more. Ask for a new one.",
        "Эта ссылка для активации больше не действует. Запросите новую.",
    ),
    "password_setup.link_invalid": (
        "This link is not valid any more. Ask for a new one to create your password.",
        "Эта ссылка больше не действует. Запросите новую, чтобы задать пароль.",
    ),
    "password_reset.link_invalid": (
        "This password reset link is not valid any more. Ask for a new one.",
        "Эта ссылка для сброса пароля больше не действует. Запросите новую.",
    ),
    "email_change.link_invalid": (
        "This confirmation link is not valid any more. Ask to change your address again.",
        "Эта ссылка для подтверждения больше не действует. Запросите смену адреса ещё раз.",
    ),
}
