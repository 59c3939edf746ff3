"""Messages of social sign-in's codes: providers, flows, linking."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "social.provider_unknown": (
        "There is no such sign-in provider here.",
        "Такого способа входа здесь нет.",
    ),
    "social.provider_not_offered": (
        "This sign-in method is not available in your region.",
        "Этот способ входа недоступен в вашем регионе.",
    ),
    "social.return_to_invalid": (
        "The page to return to must be a page of this site.",
        "Вернуться можно только на страницу этого сайта.",
    ),
    "social.state_invalid": (
        "This sign-in attempt has expired or was started in another browser. Start again.",
        "Эта попытка входа устарела или была начата в другом браузере. Начните заново.",
    ),
    "social.cancelled": (
        "Signing in with the provider was cancelled.",
        "Вход через сервис был отменён.",
    ),
    "social.provider_failed": (
        "The provider did not confirm who you are. Try again.",
        "Сервис не подтвердил, кто вы. Повторите попытку.",
    ),
    "social.provider_unavailable": (
        "The provider is not answering right now. Try again shortly.",
        "Сервис сейчас не отвечает. Повторите попытку чуть позже.",
    ),
    "social.id_token_invalid": (
        "The provider's answer failed our security checks. Start again.",
        "Ответ сервиса не прошёл проверку безопасности. Начните заново.",
    ),
    "social.email_unverified": (
        "The provider did not confirm your email address, so it cannot be used here. "
        "Confirm it with the provider, or register with your email and a password.",
        "Сервис не подтвердил ваш адрес электронной почты, поэтому его нельзя использовать. "
        "Подтвердите адрес в сервисе или зарегистрируйтесь с почтой и паролем.",
    ),
    "social.link_required": (
        "An account with this email already exists. Sign in with your password, then set up "
        "quick sign-in with this provider in the device connection window or on your account page.",
        "Учётная запись с этой почтой уже есть. Войдите с паролем, а затем настройте быстрый вход "
        "через этот сервис в окне подключения устройства или на странице учётной записи.",
    ),
    "social.email_mismatch": (
        "The provider's email differs from your account's email, so they cannot be linked.",
        "Почта в сервисе не совпадает с почтой вашей учётной записи, связать их нельзя.",
    ),
    "social.identity_in_use": (
        "This social account is already linked to another Kabinet account.",
        "Этот аккаунт сервиса уже связан с другой учётной записью Кабинета.",
    ),
    "social.provider_already_linked": (
        "Another account of this provider is already linked. Unlink it first.",
        "Уже связан другой аккаунт этого сервиса. Сначала отвяжите его.",
    ),
    "social.identity_not_found": (
        "This sign-in method is not linked to your account.",
        "Этот способ входа не связан с вашей учётной записью.",
    ),
    "social.last_sign_in_method": (
        "This is your only way to sign in. Set a password or link another provider first.",
        "Это ваш единственный способ входа. Сначала задайте пароль или свяжите другой сервис.",
    ),
}
