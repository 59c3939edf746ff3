"""The object store's interface, its errors and key rule (see ``kabinet.objectstore``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Keys are relative, slash-separated names of safe characters: nothing can climb out of the store.
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_KEY_LENGTH = 512


@dataclass(frozen=True)
class StoredObject:
    """What the store knows of one object."""

    key: str
    size: int
    sha256: str  # lowercase hex
    content_type: str


class ObjectStoreError(Exception):
    """Base of the store's errors."""


class InvalidKey(ObjectStoreError):
    """The key is not a relative name of safe characters."""


class ObjectNotFound(ObjectStoreError):
    """No object under that key."""


class ObjectTooLarge(ObjectStoreError):
    """The stream went past the allowed size; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"object larger than {limit} bytes")
        self.limit = limit


class ChecksumMismatch(ObjectStoreError):
    """The bytes' SHA-256 differs from the one announced; nothing was stored."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"sha256 {actual} does not match the expected {expected}")
        self.expected = expected
        self.actual = actual


def check_key(key: str) -> str:
    """Return ``key`` when it is a safe relative name (``a/b.exe``), else raise ``InvalidKey``."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(key)
    segments = key.split("/")
    if any(not _SEGMENT.fullmatch(s) or s.endswith(".") for s in segments):
        raise InvalidKey(key)
    return key


class ObjectStore(Protocol):
    """The interface every object store implements."""

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredObject:
        """Store the stream under ``key`` (replacing an older object), all or nothing."""
        ...

    async def stat(self, key: str) -> StoredObject | None:
        """The object's size, checksum and type, or None when there is none."""
        ...

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``start`` up to (not including) ``end``; raises ``ObjectNotFound``."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A file holding the object's bytes when the store is on this machine's disk (lets a
        server hand the file to the kernel instead of copying it through Python), else None."""
        ...
