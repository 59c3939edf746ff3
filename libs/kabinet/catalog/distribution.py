"""Messages of the distribution service's codes: downloads, links, releases and artifacts."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "download.not_entitled": (
        "{application} is included in the {plan} plan. Add a {plan} subscription to download it.",
        "{application_ru} входит в тариф «{plan_ru}». Оформите подписку «{plan_ru}», чтобы"
        " скачать приложение.",
    ),
    "download.link_invalid": (
        "This download link is not valid. Get a new one from the downloads page.",
        "Ссылка для скачивания недействительна. Получите новую на странице загрузок.",
    ),
    "download.link_expired": (
        "This download link has expired. Get a new one from the downloads page.",
        "Срок действия ссылки для скачивания истёк. Получите новую на странице загрузок.",
    ),
    "download.link_other_account": (
        "This download link was made for another account.",
        "Эта ссылка для скачивания создана для другой учётной записи.",
    ),
    "application.not_found": ("There is no such application.", "Такого приложения нет."),
    "artifact.not_found": (
        "There is no such installer.",
        "Такого установочного файла нет.",
    ),
    "release.not_found": ("There is no such release.", "Такого выпуска нет."),
    "release.not_draft": (
        "Files can be added only to a release that is not yet published.",
        "Файлы можно добавлять только в ещё не опубликованный выпуск.",
    ),
    "release.not_published": (
        "Only a published release can be the latest.",
        "Последним может быть только опубликованный выпуск.",
    ),
    "release.empty": (
        "A release needs at least one installer before it is published.",
        "Перед публикацией в выпуск нужно добавить хотя бы один установочный файл.",
    ),
    "release.version_invalid": (
        "The version may hold letters, digits, dots, plus and minus signs (up to 64).",
        "Версия может содержать буквы, цифры, точки, плюс и минус (до 64 символов).",
    ),
    "release.channel_invalid": (
        "The channel must be stable or beta.",
        "Канал должен быть stable или beta.",
    ),
    "artifact.platform_invalid": (
        "The platform must be windows, macos, linux, android or ios.",
        "Платформа должна быть windows, macos, linux, android или ios.",
    ),
    "artifact.language_invalid": (
        "The language must be multi, en or ru.",
        "Язык должен быть multi, en или ru.",
    ),
    "artifact.file_name_invalid": (
        "The file name may hold letters, digits, dots, dashes and underscores (up to 128).",
        "Имя файла может содержать буквы, цифры, точки, дефисы и подчёркивания (до 128).",
    ),
    "artifact.checksum_invalid": (
        "The SHA-256 must be 64 hexadecimal digits.",
        "SHA-256 должен состоять из 64 шестнадцатеричных цифр.",
    ),
    "artifact.checksum_mismatch": (
        "The uploaded bytes do not match the announced SHA-256; nothing was stored.",
        "Загруженные данные не совпадают с заявленным SHA-256; ничего не сохранено.",
    ),
    "artifact.too_large": (
        "The file is larger than {limit} bytes.",
        "Файл больше {limit} байт.",
    ),
    "artifact.exists": (
        "The release already has an installer for this platform and language.",
        "В выпуске уже есть установочный файл для этой платформы и языка.",
    ),
    "artifact.store_url_invalid": (
        "The store listing must be an https link.",
        "Ссылка на магазин приложений должна начинаться с https.",
    ),
    "artifact.store_url_platform": (
        "Android and iOS apps come from a store listing, other platforms from a file.",
        "Приложения для Android и iOS публикуются ссылкой на магазин, для других платформ —"
        " файлом.",
    ),
    "send.too_many": (
        "Too many links sent to devices. Try again in {retry_after} seconds.",
        "Слишком много ссылок отправлено на устройства. Повторите через {retry_after} с.",
    ),
    "upload.header_missing": (
        "An upload starts with its header (application, version, platform, file).",
        "Загрузка начинается с заголовка (приложение, версия, платформа, файл).",
    ),
}
