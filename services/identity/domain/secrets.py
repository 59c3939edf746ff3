"""Opaque secrets: single-use link tokens (activation, password, reset, email change) and refresh
tokens.

Each is 32 bytes from the operating system's CSPRNG, written as unpadded base64url (43
characters). The store keeps only ``hash_token(token)``, so a leaked table can't be replayed.
Refresh tokens carry a ``krt_`` prefix: a refresh token pasted into a link, or a link token sent
to the refresh endpoint, fails the shape check before any lookup, and secret scanners can spot
them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import NamedTuple

TOKEN_BYTES = 32
REFRESH_TOKEN_PREFIX = "krt_"  # noqa: S105 (a prefix, not a secret)

# 32 bytes are 43 base64url characters; the last one carries only 4 bits, so just 16 of the 64
# letters can end a canonical encoding. A token outside this shape was not made here.
_BODY = r"[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]"
_LINK_TOKEN = re.compile(_BODY)
_REFRESH_TOKEN = re.compile(re.escape(REFRESH_TOKEN_PREFIX) + _BODY)


class NewSecret(NamedTuple):
    """A freshly made token (for the person, once) and its hash (for the store)."""

    token: str
    token_hash: bytes

    def __repr__(self) -> str:
        # Keeps the token out of logs and tracebacks that print this value.
        return f"NewSecret(token=<redacted>, token_hash={self.token_hash.hex()[:12]}...)"


def new_link_token() -> NewSecret:
    """A single-use link token: 256 random bits, URL-safe, with the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return NewSecret(token, hash_token(token))


def new_refresh_token() -> NewSecret:
    """A refresh token: ``krt_`` followed by 256 random bits, with the hash to store."""
    token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    return NewSecret(token, hash_token(token))


def hash_token(token: str) -> bytes:
    """The SHA-256 digest under which a token is stored and looked up.

    A plain fast hash is right here: slow hashes (argon2) exist to make guessing low-entropy
    passwords expensive, but a 256-bit random token can't be guessed at any speed, and a fast,
    deterministic digest lets the store find the row by an index on the hash.
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets (or their hashes) without leaking where they first differ."""
    left = a.encode("utf-8") if isinstance(a, str) else a
    right = b.encode("utf-8") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def is_well_formed_link_token(value: object) -> bool:
    """Whether ``value`` has the exact shape of a link token (refuse early, before the store)."""
    return isinstance(value, str) and _LINK_TOKEN.fullmatch(value) is not None


def is_well_formed_refresh_token(value: object) -> bool:
    """Whether ``value`` has the exact shape of a refresh token (refuse early, before the store)."""
    return isinstance(value, str) and _REFRESH_TOKEN.fullmatch(value) is not None
