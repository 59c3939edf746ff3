"""The ``Passwords`` port made of the product's policy and the argon2id hasher."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Sequence

from identity.domain.password_hashing import PasswordHasher
from identity.domain.password_policy import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MIN_STRENGTH,
    PRODUCT_NAMES,
    check_password,
)
from kabinet.errors import Violation

# NFC never shrinks text below a quarter of its length (see password_policy).
_NFC_MAX_SHRINK = 4


class Credentials:
    """Checks new passwords against the policy and hashes and verifies them off the loop."""

    def __init__(
        self,
        hasher: PasswordHasher,
        *,
        min_strength: int = DEFAULT_MIN_STRENGTH,
        product_names: Sequence[str] = PRODUCT_NAMES,
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        self._hasher = hasher
        self._min_strength = min_strength
        self._context = tuple(dict.fromkeys(n.lower() for n in (*PRODUCT_NAMES, *product_names)))
        self._max_length = max_length

    async def check(self, password: str, *, email: str | None) -> Sequence[Violation]:
        """Every rule the password breaks; zxcvbn runs in a thread (it takes milliseconds)."""
        return await asyncio.to_thread(
            check_password,
            password,
            email=email,
            context=self._context,
            min_strength=self._min_strength,
            max_length=self._max_length,
        )

    async def hash(self, password: str) -> str:
        return await self._hasher.hash(password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._hasher.verify(password_hash, password)

    async def verify_dummy(self, password: str) -> None:
        await self._hasher.verify_dummy(password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.needs_rehash(password_hash)

    def is_too_long(self, password: str) -> bool:
        """Longer than any password the policy accepts: refused before hashing."""
        if len(password) > self._max_length * _NFC_MAX_SHRINK:
            return True
        return len(unicodedata.normalize("NFC", password)) > self._max_length
