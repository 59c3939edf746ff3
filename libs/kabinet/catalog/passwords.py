"""Human messages of the password rules, ``code -> (English, Russian)``.

The texts carry no ``{placeholders}``: the gateway may translate a code without its params, and
the product's numbers (8 characters) are fixed. The params stay in each violation for clients
that want them (``min``, ``max``, ``score``, ``min_score``).
"""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "password.too_short": (
        "The password must be at least 8 characters long.",
        "Пароль должен содержать не менее 8 символов.",
    ),
    "password.too_long": (
        "The password is too long.",
        "Пароль слишком длинный.",
    ),
    "password.no_digit": (
        "The password must contain at least one digit (0–9).",
        "Пароль должен содержать хотя бы одну цифру (0–9).",
    ),
    "password.no_upper_latin": (
        "The password must contain at least one uppercase Latin letter (A–Z).",
        "Пароль должен содержать хотя бы одну заглавную латинскую букву (A–Z).",
    ),
    "password.no_lower_latin": (
        "The password must contain at least one lowercase Latin letter (a–z).",
        "Пароль должен содержать хотя бы одну строчную латинскую букву (a–z).",
    ),
    "password.has_space": (
        "The password must not contain spaces or other blank characters.",
        "Пароль не должен содержать пробелы и другие пустые символы.",
    ),
    "password.invalid_character": (
        "The password contains characters that cannot be typed, such as control characters.",
        "Пароль содержит символы, которые нельзя набрать, например управляющие.",
    ),
    "password.too_common": (
        "This password is too common and easy to guess. Choose another one.",
        "Этот пароль слишком распространён, его легко угадать. Придумайте другой.",
    ),
    "password.too_weak": (
        "This password is too easy to guess. Make it longer or less predictable.",
        "Этот пароль слишком легко угадать. Сделайте его длиннее или менее предсказуемым.",
    ),
    "password.contains_email": (
        "The password must not contain your email address or part of it.",
        "Пароль не должен содержать ваш адрес электронной почты или его часть.",
    ),
    "password.contains_product_name": (
        "The password must not contain the name of the service.",
        "Пароль не должен содержать название сервиса.",
    ),
}
