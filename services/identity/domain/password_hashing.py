"""argon2id password hashing, run off the event loop in a bounded pool of threads.

argon2-cffi releases the GIL while it hashes, so a few threads use a few cores while the event
loop keeps serving. Passwords are hashed as given, NFC-normalised (the same canonical form the
policy counts; see ``password_policy``) and encoded as UTF-8: no stripping, no case folding and
no truncation (argon2 has no 72-byte limit).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

_ARGON2ID_PREFIX = "$argon2id$"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost; the defaults are OWASP's first recommendation (m = 19 MiB, t = 2, p = 1).

    Changing any of them makes ``needs_rehash`` true for older hashes, which are then replaced
    at the owner's next sign-in.
    """

    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16


def default_workers() -> int:
    """One hashing thread per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class PasswordHasher:
    """Hashes and verifies passwords with argon2id in its own thread pool.

    One per process (it owns its threads); call ``close`` when shutting down, or use it as a
    context manager. ``max_password_length`` is a last guard against huge inputs reaching the
    hash: the policy refuses them earlier, and sign-in should too.
    """

    def __init__(
        self,
        params: Argon2Params | None = None,
        *,
        max_workers: int | None = None,
        max_password_length: int = 4096,
    ) -> None:
        self.params = params or Argon2Params()
        self.max_password_length = max_password_length
        self._argon2 = argon2.PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_kib,
            parallelism=self.params.parallelism,
            hash_len=self.params.hash_len,
            salt_len=self.params.salt_len,
            encoding="utf-8",
            type=argon2.Type.ID,
        )
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers or default_workers(), thread_name_prefix="argon2"
        )
        # The hash unknown accounts are checked against, with the current parameters so that
        # they cost the same; its password is random and thrown away. Made in the pool now so
        # that the first unknown sign-in does not pay for it.
        self._dummy_hash = self._executor.submit(self._argon2.hash, secrets.token_urlsafe(32))

    async def hash(self, password: str) -> str:
        """A new argon2id hash (random salt) of the password, in PHC string form."""
        secret = self._encode(password)
        if secret is None:
            raise ValueError("password is too long or is not valid Unicode text")
        return await self._run(self._argon2.hash, secret)

    async def verify(self, hash: str, password: str) -> bool:
        """Whether the password matches the hash (compared in constant time by argon2).

        A malformed hash, a hash that is not argon2id, or an over-long or unencodable password
        is simply False.
        """
        secret = self._encode(password)
        if secret is None or not hash.startswith(_ARGON2ID_PREFIX):
            return False
        return await self._run(self._verify, hash, secret)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for an account that does not exist (or has no
        password), so that its answer takes as long as a wrong password's."""
        dummy = await asyncio.wrap_future(self._dummy_hash)
        await self._run(self._verify, dummy, self._encode(password) or b"")

    def needs_rehash(self, hash: str) -> bool:
        """Whether the hash was made with other parameters (or is not a hash we can read)."""
        try:
            return self._argon2.check_needs_rehash(hash)
        except (InvalidHashError, ValueError):
            return True

    def close(self) -> None:
        """Wait for running hashes and stop the threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PasswordHasher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _encode(self, password: str) -> bytes | None:
        if len(password) > self.max_password_length:
            return None
        try:
            return unicodedata.normalize("NFC", password).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            return None

    def _verify(self, hash: str, secret: bytes) -> bool:
        try:
            return self._argon2.verify(hash, secret)
        except (VerificationError, InvalidHashError, ValueError):
            return False

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
