"""The mail support sends, in English and Russian (``$name`` placeholders): ``subject`` (the
ticket's, one line), ``status`` (its status in the mail's language) and ``link`` (the ticket's
page). Values are HTML-escaped in the HTML part; the subject line never carries a link."""

from __future__ import annotations

from kabinet.mail.templates import MailTemplate, TemplateSet


def support_templates() -> TemplateSet:
    """Every template of the support service."""
    return TemplateSet(
        [
            MailTemplate(
                name="support_reply",
                subject={
                    "en": "Support replied: $subject",
                    "ru": "Ответ поддержки: $subject",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        'support replied to your request "$subject" (status: $status).\n'
                        "Read the reply and answer on the request's page:\n\n$link\n"
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Служба поддержки ответила на ваше обращение «$subject»"
                        " (статус: $status).\n"
                        "Прочитать ответ и ответить можно на странице обращения:\n\n$link\n"
                    ),
                },
            ),
            MailTemplate(
                name="support_status",
                subject={
                    "en": "Your request is now: $status",
                    "ru": "Статус обращения: $status",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        'the status of your request "$subject" is now: $status.\n'
                        "See the request:\n\n$link\n"
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Статус вашего обращения «$subject» изменился: $status.\n"
                        "Посмотреть обращение:\n\n$link\n"
                    ),
                },
            ),
        ]
    )
