"""Messages of the support service's codes (tickets, attachments) and of role changes."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "ticket.not_found": ("There is no such request.", "Такого обращения нет."),
    "attachment.not_found": ("There is no such file.", "Такого файла нет."),
    "support.agent_only": (
        "Only support agents may do this.",
        "Это может сделать только сотрудник поддержки.",
    ),
    "support.owner_only": (
        "Only the author of the request may do this.",
        "Это может сделать только автор обращения.",
    ),
    "ticket.invalid": (
        "Some fields of the request are filled in incorrectly.",
        "Некоторые поля обращения заполнены неверно.",
    ),
    "ticket.topic_invalid": (
        "Choose a topic: installation, activation, account, payment, technical or other.",
        "Выберите тему: установка, активация, учётная запись, оплата, техническая проблема или"
        " другое.",
    ),
    "ticket.subject_invalid": (
        "The subject must be one line without special characters.",
        "Тема должна быть одной строкой без служебных символов.",
    ),
    "ticket.field_too_long": (
        "This field is too long (at most {limit} characters).",
        "Поле слишком длинное (не более {limit} символов).",
    ),
    "ticket.text_required": ("Fill in this field.", "Заполните это поле."),
    "ticket.text_invalid": (
        "The text contains characters that are not allowed.",
        "Текст содержит недопустимые символы.",
    ),
    "attachment.too_large": (
        "The file is too large (at most {limit} bytes).",
        "Файл слишком большой (не более {limit} байт).",
    ),
    "attachment.type_not_allowed": (
        "This kind of file cannot be attached. Attach images (PNG, JPEG, GIF, WebP), PDF or text"
        " files.",
        "Такой файл приложить нельзя. Прикладывайте изображения (PNG, JPEG, GIF, WebP), PDF или"
        " текстовые файлы.",
    ),
    "attachment.too_many": (
        "Too many files (at most {limit}).",
        "Слишком много файлов (не более {limit}).",
    ),
    "ticket.transition_invalid": (
        "The request cannot move to this status now.",
        "Обращение нельзя сейчас перевести в этот статус.",
    ),
    "ticket.closed": (
        "The request is resolved or closed. Reopen it to continue.",
        "Обращение решено или закрыто. Чтобы продолжить, откройте его снова.",
    ),
    "ticket.reopen_expired": (
        "A request can be reopened only within {days} days after it was resolved. Open a new one.",
        "Обращение можно открыть снова только в течение {days} дней после решения. Создайте новое.",
    ),
    "ticket.rating_invalid": (
        "Rate from 1 to 5; the comment may be at most 2000 characters.",
        "Поставьте оценку от 1 до 5; комментарий — не длиннее 2000 символов.",
    ),
    "ticket.rating_not_allowed": (
        "A request can be rated once it is resolved.",
        "Оценить обращение можно после его решения.",
    ),
    "ticket.already_rated": ("This request is already rated.", "Это обращение уже оценено."),
    "ticket.assignee_invalid": (
        "The request cannot be assigned to this account.",
        "Обращение нельзя назначить этой учётной записи.",
    ),
    "role.unknown": (
        "There is no such role. Roles: {roles}.",
        "Такой роли нет. Роли: {roles}.",
    ),
}
