"""The mail distribution sends, in English and Russian (``$name`` placeholders): the link to
install an application on another device (``link``, ``application``)."""

from __future__ import annotations

from kabinet.mail.templates import MailTemplate, TemplateSet


def distribution_templates() -> TemplateSet:
    """Every template of the distribution service."""
    return TemplateSet(
        [
            MailTemplate(
                name="send_to_device",
                subject={
                    "en": "Install $application on your device",
                    "ru": "Установите $application на устройство",
                },
                text={
                    "en": (
                        "Hello,\n\n"
                        "open this link on the device where you want $application:\n\n"
                        "$link\n\n"
                        "Sign in to Kabinet there and you will get the installer for that device."
                        " If you did not ask for this message, ignore it."
                    ),
                    "ru": (
                        "Здравствуйте!\n\n"
                        "Откройте эту ссылку на устройстве, куда нужно установить"
                        " $application:\n\n"
                        "$link\n\n"
                        "Войдите там в Kabinet — и получите установочный файл для этого"
                        " устройства. Если вы не запрашивали это письмо, просто"
                        " проигнорируйте его."
                    ),
                },
            )
        ]
    )
