"""Email addresses as identity keeps and compares them.

An address is trimmed, refused when it carries invisible or control characters (NUL, bidi
overrides, zero-width joiners...) or is longer than 254 characters, and split at its one ``@``.
The local part is kept as typed (NFC); the domain is IDNA-encoded (UTS #46, so ``ПРИМЕР.рф`` and
``пример.рф`` are the same ``xn--e1afmkfd.xn--p1ai``). Two addresses are the same account when
their ``key`` (the whole address lower-cased) is equal; the store keeps that key under a UNIQUE
index.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import idna

from identity.domain import errors

MAX_LENGTH = 254
MAX_LOCAL_LENGTH = 64
MAX_LABEL_LENGTH = 63

# Anything longer is refused before it is even scanned.
_MAX_INPUT = 1024
# Characters that would break an address header or that RFC 5322 only allows quoted.
_FORBIDDEN_LOCAL = frozenset('<>()[]\\,;:"@')
# Unicode categories never allowed: controls, format characters (bidi marks and overrides,
# zero-width spaces and joiners, BOM), surrogates, private use, unassigned, separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class Email:
    """A normalised address (to write to) and its comparison key (to look up by)."""

    address: str
    key: str

    def __str__(self) -> str:
        return self.address


def _has_forbidden_characters(text: str) -> bool:
    return any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in text)


def _domain(raw: str) -> str | None:
    """The IDNA (ASCII) form of a domain, lower-cased, or None when it is not a host name."""
    if not raw or raw.startswith(".") or raw.endswith(".") or ".." in raw:
        return None
    try:
        encoded = idna.encode(raw, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    labels = encoded.split(".")
    if len(labels) < 2 or any(not 0 < len(label) <= MAX_LABEL_LENGTH for label in labels):
        return None
    if labels[-1].isdigit():  # an IP address literal is not a mail domain here
        return None
    return encoded.lower()


def normalise_email(raw: str) -> Email:
    """The normalised address of ``raw``; raises ``email.invalid`` (INVALID_ARGUMENT)."""
    if not isinstance(raw, str) or len(raw) > _MAX_INPUT:
        raise errors.email_invalid()
    text = raw.strip()
    if not text or len(text) > MAX_LENGTH or _has_forbidden_characters(text):
        raise errors.email_invalid()
    local, at, domain_part = text.rpartition("@")
    if not at or not local or any(c in _FORBIDDEN_LOCAL for c in local):
        raise errors.email_invalid()
    local = unicodedata.normalize("NFC", local)
    if len(local.encode("utf-8")) > MAX_LOCAL_LENGTH:
        raise errors.email_invalid()
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise errors.email_invalid()
    domain = _domain(domain_part)
    if domain is None:
        raise errors.email_invalid()
    address = f"{local}@{domain}"
    if len(address) > MAX_LENGTH:
        raise errors.email_invalid()
    return Email(address=address, key=address.lower())


def try_normalise_email(raw: str) -> Email | None:
    """Like ``normalise_email``, but None for an invalid address (for paths that must not tell)."""
    try:
        return normalise_email(raw)
    except errors.DomainError:
        return None
