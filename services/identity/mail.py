"""The mail identity sends, in English and Russian (``$name`` placeholders).

Values every template may use: ``email`` (the account's address) and ``portal`` (the public
origin). Link mails also get ``link`` and ``hours`` (how long the link works); the email change
mails get ``new_email``; the lock notice gets ``minutes``. Subjects never carry a link.
"""

from __future__ import annotations

from kabinet.mail.templates import MailTemplate, TemplateSet

_IGNORE_EN = "If it wasn't you, ignore this message: nothing changes without the link."
_IGNORE_RU = "Если это были не вы, просто проигнорируйте письмо: без ссылки ничего не изменится."


def identity_templates() -> TemplateSet:
    """Every template of the identity service."""
    return TemplateSet(
        [
            MailTemplate(
                name="activation",
                subject={
                    "en": "Activate your Kabinet account",
                    "ru": "Активируйте учётную запись Kabinet",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "someone (we hope you) created a Kabinet account for $email.\n"
                        "Open this link to activate it (it works for $hours h, once):\n\n"
                        "$link\n\n" + _IGNORE_EN
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Для адреса $email создана учётная запись Kabinet.\n"
                        "Чтобы активировать её, откройте ссылку (она действует $hours ч.,"
                        " один раз):\n\n"
                        "$link\n\n" + _IGNORE_RU
                    ),
                },
            ),
            MailTemplate(
                name="already_registered",
                subject={
                    "en": "You already have a Kabinet account",
                    "ru": "У вас уже есть учётная запись Kabinet",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "someone tried to register a new Kabinet account for $email, but this"
                        " address already has one. Sign in at $portal — if you forgot your"
                        ' password, choose "Forgot password" there.\n\n'
                        "If it wasn't you, ignore this message: your account is unchanged."
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Кто-то попытался зарегистрировать учётную запись Kabinet для $email,"
                        " но она у этого адреса уже есть. Войдите на $portal — если вы забыли"
                        " пароль, выберите там «Забыли пароль?».\n\n"
                        "Если это были не вы, просто проигнорируйте письмо: с вашей учётной"
                        " записью ничего не произошло."
                    ),
                },
            ),
            MailTemplate(
                name="create_password",
                subject={
                    "en": "Create your Kabinet password",
                    "ru": "Придумайте пароль для Kabinet",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "thank you for your purchase. We created a Kabinet account for $email,"
                        " where your subscription, downloads and support live.\n"
                        "Open this link to choose your password (it works for $hours h,"
                        " once):\n\n"
                        "$link"
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Спасибо за покупку. Мы создали для $email учётную запись Kabinet: там"
                        " ваша подписка, загрузки и поддержка.\n"
                        "Чтобы задать пароль, откройте ссылку (она действует $hours ч.,"
                        " один раз):\n\n"
                        "$link"
                    ),
                },
            ),
            MailTemplate(
                name="password_reset",
                subject={
                    "en": "Reset your Kabinet password",
                    "ru": "Сброс пароля Kabinet",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "someone asked to reset the password of the Kabinet account $email.\n"
                        "Open this link to choose a new one (it works for $hours h, once);"
                        " every device signed in to the account will be signed out:\n\n"
                        "$link\n\n" + _IGNORE_EN
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Поступил запрос на сброс пароля учётной записи Kabinet $email.\n"
                        "Чтобы задать новый пароль, откройте ссылку (она действует $hours ч.,"
                        " один раз); все устройства выйдут из учётной записи:\n\n"
                        "$link\n\n" + _IGNORE_RU
                    ),
                },
            ),
            MailTemplate(
                name="email_change_confirm",
                subject={
                    "en": "Confirm your new Kabinet address",
                    "ru": "Подтвердите новый адрес для Kabinet",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "the Kabinet account $email asked to use $new_email from now on.\n"
                        "Open this link to confirm (it works for $hours h, once):\n\n"
                        "$link\n\n" + _IGNORE_EN
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Учётная запись Kabinet $email просит перейти на адрес $new_email.\n"
                        "Чтобы подтвердить, откройте ссылку (она действует $hours ч.,"
                        " один раз):\n\n"
                        "$link\n\n" + _IGNORE_RU
                    ),
                },
            ),
            MailTemplate(
                name="email_changed_notice",
                subject={
                    "en": "Your Kabinet address was changed",
                    "ru": "Адрес вашей учётной записи Kabinet изменён",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "your Kabinet account now uses $new_email instead of $email; mail will"
                        " go there from now on.\n\n"
                        "If you didn't do this, contact support at once: $portal"
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Ваша учётная запись Kabinet теперь использует адрес $new_email вместо"
                        " $email; письма будут приходить туда.\n\n"
                        "Если это сделали не вы, сразу обратитесь в поддержку: $portal"
                    ),
                },
            ),
            MailTemplate(
                name="email_in_use",
                subject={
                    "en": "Someone asked to move a Kabinet account to your address",
                    "ru": "Кто-то хотел перенести учётную запись Kabinet на ваш адрес",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "someone asked to move another Kabinet account to $email. This address"
                        " already has its own account, so nothing was changed.\n\n"
                        "If it was you, sign in to this account at $portal instead."
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Кто-то попросил перенести другую учётную запись Kabinet на адрес"
                        " $email. У этого адреса уже есть своя учётная запись, поэтому ничего"
                        " не изменилось.\n\n"
                        "Если это были вы, войдите в эту учётную запись на $portal."
                    ),
                },
            ),
            MailTemplate(
                name="account_locked",
                subject={
                    "en": "Sign-in to your Kabinet account is paused",
                    "ru": "Вход в вашу учётную запись Kabinet приостановлен",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "there were too many failed attempts to sign in to the Kabinet account"
                        " $email, so signing in is paused for $minutes minutes.\n\n"
                        'If it was you, wait, or reset your password now with "Forgot'
                        " password\" at $portal — that also lifts the pause. If it wasn't you,"
                        " someone may be guessing your password: choose a strong one."
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Было слишком много неудачных попыток войти в учётную запись Kabinet"
                        " $email, поэтому вход приостановлен на $minutes мин.\n\n"
                        "Если это были вы, подождите или сбросьте пароль через «Забыли пароль?»"
                        " на $portal — это сразу снимет ограничение. Если не вы, возможно,"
                        " кто-то подбирает ваш пароль: выберите надёжный."
                    ),
                },
            ),
            MailTemplate(
                name="password_changed",
                subject={
                    "en": "Your Kabinet password was changed",
                    "ru": "Пароль Kabinet изменён",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "the password of the Kabinet account $email was just changed.\n\n"
                        "If you didn't do this, reset your password at once with \"Forgot"
                        ' password" at $portal.'
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Пароль учётной записи Kabinet $email только что изменён.\n\n"
                        "Если это сделали не вы, сразу сбросьте пароль через «Забыли пароль?»"
                        " на $portal."
                    ),
                },
            ),
        ]
    )
