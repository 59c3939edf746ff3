"""An object store in a local directory, for development, tests and single-machine installs.

Layout: ``<root>/objects/<key>`` holds the bytes and ``<root>/meta/<key>.json`` the size,
checksum and content type. A write goes to ``<root>/tmp/`` first and is renamed into place only
when complete, so readers never see a partial object.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from kabinet.objectstore.base import (
    ChecksumMismatch,
    ObjectNotFound,
    ObjectTooLarge,
    StoredObject,
    check_key,
)

READ_CHUNK = 256 * 1024


class LocalDirectoryStore:
    """``ObjectStore`` on a directory of this machine."""

    def __init__(self, root: Path) -> None:
        self._root = root
        for part in ("objects", "meta", "tmp"):
            (root / part).mkdir(parents=True, exist_ok=True)

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_key(key)
        return self._root / "objects" / key, self._root / "meta" / f"{key}.json"

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredObject:
        data_path, meta_path = self._paths(key)
        tmp = self._root / "tmp" / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0

        def write(out: BinaryIO, chunk: bytes) -> None:
            # Hashing a large chunk takes as long as writing it: both off the event loop.
            digest.update(chunk)
            out.write(chunk)

        def finish(out: BinaryIO) -> None:
            out.flush()
            os.fsync(out.fileno())

        def commit(stored: StoredObject) -> None:
            data_path.parent.mkdir(parents=True, exist_ok=True)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            meta_tmp = tmp.with_suffix(".json")
            meta_tmp.write_text(
                json.dumps({"size": size, "sha256": stored.sha256, "content_type": content_type})
            )
            os.replace(tmp, data_path)
            os.replace(meta_tmp, meta_path)

        try:
            with tmp.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ObjectTooLarge(max_bytes)
                    await asyncio.to_thread(write, out, chunk)
                await asyncio.to_thread(finish, out)
            actual = digest.hexdigest()
            if expected_sha256 is not None and actual != expected_sha256.lower():
                raise ChecksumMismatch(expected_sha256.lower(), actual)
            stored = StoredObject(key=key, size=size, sha256=actual, content_type=content_type)
            await asyncio.to_thread(commit, stored)
            return stored
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    async def stat(self, key: str) -> StoredObject | None:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> StoredObject | None:
        data_path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
        except FileNotFoundError:
            return None
        if not data_path.is_file():
            return None
        return StoredObject(
            key=key, size=meta["size"], sha256=meta["sha256"], content_type=meta["content_type"]
        )

    async def read(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        data_path, _ = self._paths(key)
        try:
            handle = await asyncio.to_thread(data_path.open, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        with handle:
            await asyncio.to_thread(handle.seek, start)
            remaining = None if end is None else max(0, end - start)
            while remaining is None or remaining > 0:
                size = READ_CHUNK if remaining is None else min(READ_CHUNK, remaining)
                chunk = await asyncio.to_thread(handle.read, size)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def delete(self, key: str) -> bool:
        return await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> bool:
        data_path, meta_path = self._paths(key)
        existed = data_path.is_file()
        for path in (meta_path, data_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return existed

    def local_path(self, key: str) -> Path | None:
        data_path, _ = self._paths(key)
        return data_path if data_path.is_file() else None
