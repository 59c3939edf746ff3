"""The S3 object store against moto's S3-compatible server (a real HTTP server on a free port,
installed from PyPI): multipart writes that are all or nothing, checksums, ranges, safe keys."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from kabinet.devstack.ports import free_port
from kabinet.objectstore import ChecksumMismatch, InvalidKey, ObjectNotFound, ObjectTooLarge
from kabinet.objectstore.config import Backend, ObjectStoreSettings, open_store
from kabinet.objectstore.s3 import PART_SIZE, S3Store

BUCKET = "kabinet-test"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    ).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


@pytest.fixture
def store(endpoint: str) -> S3Store:
    settings = ObjectStoreSettings(
        backend=Backend.S3,
        s3_endpoint=endpoint,
        s3_bucket=BUCKET,
        s3_prefix="unit",
        s3_access_key_id="k",
        s3_secret_access_key="s",
    )
    opened = open_store(settings)
    assert isinstance(opened, S3Store)
    return opened


async def stream(data: bytes, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


async def read_all(store: S3Store, key: str, **kw: int) -> bytes:
    return b"".join([c async for c in store.read(key, **kw)])


BIG = bytes(range(256)) * (PART_SIZE // 256 + 4096)  # more than one part


async def test_multipart_put_then_stat_read_and_ranges(store: S3Store) -> None:
    digest = hashlib.sha256(BIG).hexdigest()
    stored = await store.put("apps/plus/setup.exe", stream(BIG), expected_sha256=digest)
    assert (stored.size, stored.sha256) == (len(BIG), digest)
    assert await store.stat("apps/plus/setup.exe") == stored
    assert await read_all(store, "apps/plus/setup.exe") == BIG
    assert await read_all(store, "apps/plus/setup.exe", start=100, end=5000) == BIG[100:5000]
    assert await read_all(store, "apps/plus/setup.exe", start=len(BIG) - 7) == BIG[-7:]
    assert store.local_path("apps/plus/setup.exe") is None
    assert await store.delete("apps/plus/setup.exe")
    assert await store.stat("apps/plus/setup.exe") is None
    assert not await store.delete("apps/plus/setup.exe")


async def test_a_wrong_checksum_or_size_stores_nothing(store: S3Store) -> None:
    with pytest.raises(ChecksumMismatch):
        await store.put("bad.bin", stream(b"abc" * 1000), expected_sha256="0" * 64)
    assert await store.stat("bad.bin") is None
    with pytest.raises(ObjectTooLarge):
        await store.put("big.bin", stream(b"x" * 5000), max_bytes=4999)
    assert await store.stat("big.bin") is None


async def test_empty_objects_missing_objects_and_unsafe_keys(store: S3Store) -> None:
    empty = await store.put("empty.bin", stream(b""))
    assert empty.size == 0
    assert await read_all(store, "empty.bin") == b""
    with pytest.raises(ObjectNotFound):
        await read_all(store, "nothing-here.bin")
    for key in ("../escape", "/abs", "a//b", ""):
        with pytest.raises(InvalidKey):
            await store.stat(key)
