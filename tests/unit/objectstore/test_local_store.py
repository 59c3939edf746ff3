"""The local-directory object store: all-or-nothing writes, limits, checksums, ranges, safe keys."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kabinet.objectstore import (
    ChecksumMismatch,
    InvalidKey,
    LocalDirectoryStore,
    ObjectNotFound,
    ObjectTooLarge,
    check_key,
)


async def stream(data: bytes, chunk: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


async def read_all(store: LocalDirectoryStore, key: str, **kw: int) -> bytes:
    return b"".join([c async for c in store.read(key, **kw)])


DATA = bytes(range(256)) * 2000  # 512,000 bytes: more than one read chunk


async def test_put_then_stat_and_read(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    stored = await store.put("apps/plus/setup.exe", stream(DATA), content_type="x/app")
    assert stored.size == len(DATA)
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert await store.stat("apps/plus/setup.exe") == stored
    assert await read_all(store, "apps/plus/setup.exe") == DATA
    path = store.local_path("apps/plus/setup.exe")
    assert path is not None
    assert path.read_bytes() == DATA


async def test_ranges(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    await store.put("a.bin", stream(DATA))
    assert await read_all(store, "a.bin", start=100, end=300_000) == DATA[100:300_000]
    assert await read_all(store, "a.bin", start=len(DATA) - 5) == DATA[-5:]
    assert await read_all(store, "a.bin", start=10, end=10) == b""


async def test_too_large_leaves_nothing(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    with pytest.raises(ObjectTooLarge) as caught:
        await store.put("big.bin", stream(DATA), max_bytes=len(DATA) - 1)
    assert caught.value.limit == len(DATA) - 1
    assert await store.stat("big.bin") is None
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_checksum_mismatch_leaves_the_old_object(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    first = await store.put("f.bin", stream(b"old bytes"))
    with pytest.raises(ChecksumMismatch):
        await store.put("f.bin", stream(DATA), expected_sha256="0" * 64)
    assert await store.stat("f.bin") == first
    assert await read_all(store, "f.bin") == b"old bytes"
    good = await store.put("f.bin", stream(DATA), expected_sha256=hashlib.sha256(DATA).hexdigest())
    assert good.size == len(DATA)


async def test_delete_and_missing(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path)
    await store.put("x", stream(b"1"))
    assert await store.delete("x") is True
    assert await store.delete("x") is False
    assert await store.stat("x") is None
    assert store.local_path("x") is None
    with pytest.raises(ObjectNotFound):
        await read_all(store, "x")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        ".hidden",
        "a/..",
        "a/b/",
        "a\\b",
        "ü",
        "a b",
        "x" * 600,
    ],
)
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


async def test_store_refuses_traversal(tmp_path: Path) -> None:
    store = LocalDirectoryStore(tmp_path / "store")
    with pytest.raises(InvalidKey):
        await store.put("../outside", stream(b"x"))
    assert not (tmp_path / "outside").exists()
