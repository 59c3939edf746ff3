"""The portal's words, in English and Russian (error texts live in ``kabinet.messages``)."""

from __future__ import annotations

from gateway.web import texts_commerce
from gateway.web.texts_devices import TEXTS as _DEVICES
from gateway.web.texts_support import TEXTS as _SUPPORT

_PORTAL: dict[str, dict[str, str]] = {
    "en": {
        "brand": "Kabinet",
        "skip": "Skip to the content",
        "nav.account": "Account",
        "nav.signin": "Sign in",
        "nav.signup": "Create an account",
        "nav.signout": "Sign out",
        "nav.mailbox": "Mailbox",
        "nav.docs": "API",
        "language.switch": "Русский",
        "home.title": "Your Kabinet",
        "home.lead": (
            "Your account for the vendor's applications: subscriptions, devices, downloads"
            " and support."
        ),
        "signup.title": "Create an account",
        "signup.lead": "We will send a link to activate it.",
        "signup.submit": "Create the account",
        "signup.have_account": "Already have an account?",
        "check_email.title": "Check your email",
        "check_email.lead": (
            "If the address can get an account, a message with an activation link is on its way."
            " Open it to finish."
        ),
        "signin.title": "Sign in",
        "signin.submit": "Sign in",
        "signin.forgot": "Forgot your password?",
        "signin.no_account": "No account yet?",
        "signin.social": "Or sign in with",
        "forgot.title": "Reset your password",
        "forgot.lead": "Enter your email: if it has an account, we will send a reset link.",
        "forgot.submit": "Send the link",
        "forgot.sent": "If the address has an account, a reset link is on its way.",
        "field.email": "Email",
        "field.password": "Password",
        "field.current_password": "Current password",
        "field.new_password": "New password",
        "field.name": "Name",
        "field.language": "Language",
        "field.country": "Country (two letters)",
        "rules.title": "The password needs:",
        "rule.password.too_short": "at least 8 characters",
        "rule.password.no_digit": "a digit",
        "rule.password.no_upper_latin": "an uppercase Latin letter",
        "rule.password.no_lower_latin": "a lowercase Latin letter",
        "rule.password.has_space": "no spaces",
        "rules.other": "and must not be common or easy to guess.",
        "account.title": "Account",
        "account.profile": "Profile",
        "account.save": "Save",
        "account.saved": "Saved.",
        "account.email": "Change the email address",
        "account.email.submit": "Send a confirmation link",
        "account.email.sent": "A link is on its way to the new address; open it to confirm.",
        "field.new_email": "New email",
        "account.password": "Change the password",
        "account.password.submit": "Change the password",
        "account.password.done": "The password is changed; your other sessions are signed out.",
        "account.sessions": "Where you are signed in",
        "account.session.current": "this browser",
        "account.session.end": "Sign out there",
        "account.session.ended": "Signed out.",
        "account.quick": "Quick sign-in",
        "account.quick.lead": (
            "Sign in with a social account whose email is this account's email."
        ),
        "account.quick.link": "Set up with",
        "account.quick.unlink": "Remove",
        "account.quick.removed": "Removed.",
        "account.delete": "Delete the account",
        "account.delete.lead": "This cannot be undone. Confirm with your password.",
        "account.delete.submit": "Delete my account",
        "status.working": "Working…",
    },
    "ru": {
        "brand": "Kabinet",
        "skip": "Перейти к содержимому",
        "nav.account": "Учётная запись",
        "nav.signin": "Войти",
        "nav.signup": "Создать учётную запись",
        "nav.signout": "Выйти",
        "nav.mailbox": "Почта",
        "nav.docs": "API",
        "language.switch": "English",
        "home.title": "Ваш Kabinet",
        "home.lead": (
            "Учётная запись для приложений производителя: подписки, устройства, загрузки"
            " и поддержка."
        ),
        "signup.title": "Создание учётной записи",
        "signup.lead": "Мы пришлём ссылку для активации.",
        "signup.submit": "Создать учётную запись",
        "signup.have_account": "Уже есть учётная запись?",
        "check_email.title": "Проверьте почту",
        "check_email.lead": (
            "Если на этот адрес можно создать учётную запись, письмо со ссылкой для активации"
            " уже в пути. Откройте его, чтобы закончить."
        ),
        "signin.title": "Вход",
        "signin.submit": "Войти",
        "signin.forgot": "Забыли пароль?",
        "signin.no_account": "Ещё нет учётной записи?",
        "signin.social": "Или войдите через",
        "forgot.title": "Сброс пароля",
        "forgot.lead": "Укажите адрес: если для него есть учётная запись, мы пришлём ссылку.",
        "forgot.submit": "Отправить ссылку",
        "forgot.sent": "Если для адреса есть учётная запись, ссылка для сброса уже в пути.",
        "field.email": "Электронная почта",
        "field.password": "Пароль",
        "field.current_password": "Текущий пароль",
        "field.new_password": "Новый пароль",
        "field.name": "Имя",
        "field.language": "Язык",
        "field.country": "Страна (две буквы)",
        "rules.title": "Пароль должен содержать:",
        "rule.password.too_short": "не менее 8 символов",
        "rule.password.no_digit": "цифру",
        "rule.password.no_upper_latin": "заглавную латинскую букву",
        "rule.password.no_lower_latin": "строчную латинскую букву",
        "rule.password.has_space": "без пробелов",
        "rules.other": "и не быть распространённым или легко угадываемым.",
        "account.title": "Учётная запись",
        "account.profile": "Профиль",
        "account.save": "Сохранить",
        "account.saved": "Сохранено.",
        "account.email": "Смена адреса почты",
        "account.email.submit": "Отправить ссылку для подтверждения",
        "account.email.sent": "Ссылка отправлена на новый адрес; откройте её, чтобы подтвердить.",
        "field.new_email": "Новый адрес",
        "account.password": "Смена пароля",
        "account.password.submit": "Сменить пароль",
        "account.password.done": "Пароль изменён; на других устройствах выполнен выход.",
        "account.sessions": "Где выполнен вход",
        "account.session.current": "этот браузер",
        "account.session.end": "Выйти там",
        "account.session.ended": "Выход выполнен.",
        "account.quick": "Быстрый вход",
        "account.quick.lead": (
            "Вход через аккаунт сервиса, почта которого совпадает с почтой этой учётной записи."
        ),
        "account.quick.link": "Настроить через",
        "account.quick.unlink": "Удалить",
        "account.quick.removed": "Удалено.",
        "account.delete": "Удаление учётной записи",
        "account.delete.lead": "Это нельзя отменить. Подтвердите паролем.",
        "account.delete.submit": "Удалить учётную запись",
        "status.working": "Выполняется…",
    },
}

# The rules shown beside every new-password field, checked live as the person types.
PASSWORD_RULES = (
    "password.too_short",
    "password.no_digit",
    "password.no_upper_latin",
    "password.no_lower_latin",
    "password.has_space",
)

# How each social sign-in provider is named on buttons (the providers' own names).
PROVIDER_LABELS = {
    "google": "Google",
    "apple": "Apple",
    "facebook": "Facebook",
    "yandex": "Яндекс ID",
    "vk": "VK ID",
}


def merge(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """One table of words from each area's (every key in both languages, none defined twice)."""
    merged: dict[str, dict[str, str]] = {"en": {}, "ru": {}}
    for part in parts:
        if part["en"].keys() != part["ru"].keys():
            raise ValueError(
                f"words missing in one language: {part['en'].keys() ^ part['ru'].keys()}"
            )
        clash = merged["en"].keys() & part["en"].keys()
        if clash:
            raise ValueError(f"words defined twice: {sorted(clash)}")
        for language in ("en", "ru"):
            merged[language].update(part[language])
    return merged


TEXTS = merge(_PORTAL, texts_commerce.TEXTS, _SUPPORT, _DEVICES)
