"""Activation codes: ``XXXXX-XXXXX-XXXXX-XXXXX``, 20 characters with a check character.

The alphabet has the 31 characters that cannot be mistaken for one another when read aloud or
copied from a card: the digits 2-9 and the Latin letters without I, L and O (no 0/O, 1/I/L).
Nineteen characters are drawn with ``secrets`` (about 94 bits); the twentieth makes the weighted
sum ``sum(i * value(c_i) for i in 1..20)`` divisible by 31. Because 31 is prime and the weights
1..20 are distinct and non-zero modulo 31, every change of a single character and every swap of
two different characters changes the sum, so typos are refused before the code is looked up.

Codes are bearer secrets until redeemed: the store keeps only the SHA-256 of the normalised code
and its first five characters (for support to find a code a customer reads out).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
LENGTH = 20
GROUP = 5
PREFIX_LENGTH = 5
# Anything longer than a code with generous separators is not a code: refuse it before work.
MAX_INPUT = 64

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]+")


class Malformed(ValueError):
    """Not 20 characters of the alphabet once separators and case are set aside."""


class CheckFailed(ValueError):
    """Well formed, but the check character does not match: a typo."""


@dataclass(frozen=True)
class Code:
    """A code that passed the format and check-character tests."""

    value: str  # 20 characters, upper case, no separators

    @property
    def digest(self) -> bytes:
        """What the store keeps instead of the code."""
        return code_digest(self.value)

    @property
    def prefix(self) -> str:
        return self.value[:PREFIX_LENGTH]

    def formatted(self) -> str:
        return format_code(self.value)


def _weighted_sum(chars: str) -> int:
    return sum((i + 1) * _VALUE[c] for i, c in enumerate(chars))


def check_character(body: str) -> str:
    """The character that completes the first 19 characters of a code."""
    if len(body) != LENGTH - 1 or any(c not in _VALUE for c in body):
        raise Malformed(body)
    # LENGTH * v + sum ≡ 0 (mod 31)  →  v = -sum * LENGTH⁻¹
    inverse = pow(LENGTH, -1, BASE)
    return ALPHABET[(-_weighted_sum(body) * inverse) % BASE]


def is_valid(value: str) -> bool:
    """Whether 20 alphabet characters carry a matching check character."""
    return (
        len(value) == LENGTH
        and all(c in _VALUE for c in value)
        and _weighted_sum(value) % BASE == 0
    )


def format_code(value: str) -> str:
    """``ABCDE-FGHJK-MNPQR-STUVW``."""
    return "-".join(value[i : i + GROUP] for i in range(0, len(value), GROUP))


def generate() -> Code:
    """A new random code."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH - 1))
    return Code(body + check_character(body))


def normalise(typed: str) -> str:
    """The code as typed without separators (dashes, blanks) and in upper case; no checks."""
    return _SEPARATORS.sub("", typed[: MAX_INPUT + 1]).upper()


def parse(typed: str) -> Code:
    """The code someone typed, or ``Malformed``/``CheckFailed``; needs no database."""
    if len(typed) > MAX_INPUT:
        raise Malformed("too long")
    value = normalise(typed)
    if len(value) != LENGTH or any(c not in _VALUE for c in value):
        raise Malformed("not a code")
    if _weighted_sum(value) % BASE != 0:
        raise CheckFailed("check character")
    return Code(value)


def code_digest(value: str) -> bytes:
    """SHA-256 of a normalised code (codes carry ~94 random bits: no salt or stretching needed)."""
    return hashlib.sha256(value.encode("ascii")).digest()
