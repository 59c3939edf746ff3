"""Support keeps attachments in the object store configured by KABINET_OBJECTSTORE_* (the one
distribution and the gateway use), S3 in a cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kabinet.config import load_settings
from kabinet.objectstore.config import open_store
from kabinet.objectstore.local import LocalDirectoryStore
from kabinet.objectstore.s3 import S3Store
from support.config import SupportSettings


def test_attachments_go_to_the_s3_store_when_configured() -> None:
    settings = load_settings(
        SupportSettings,
        {
            "KABINET_OBJECTSTORE_BACKEND": "s3",
            "KABINET_OBJECTSTORE_S3_BUCKET": "kabinet-objects",
            "KABINET_OBJECTSTORE_S3_PREFIX": "prod/",
            "KABINET_OBJECTSTORE_S3_ACCESS_KEY_ID": "id",
            "KABINET_OBJECTSTORE_S3_SECRET_ACCESS_KEY": "secret",
        },
    )
    store = open_store(settings.objects)
    assert isinstance(store, S3Store)
    assert store.local_path("tickets/x/y") is None


async def test_attachments_go_to_the_local_directory_by_default(tmp_path: Path) -> None:
    settings = load_settings(SupportSettings, {"KABINET_OBJECTSTORE_DIR": str(tmp_path)})
    store = open_store(settings.objects)
    assert isinstance(store, LocalDirectoryStore)

    async def body() -> AsyncIterator[bytes]:
        yield b"png"

    await store.put("tickets/t/a", body())
    path = store.local_path("tickets/t/a")
    assert path is not None
    assert path.is_relative_to(tmp_path)


def test_an_s3_store_without_a_bucket_stops_start_up() -> None:
    settings = load_settings(SupportSettings, {"KABINET_OBJECTSTORE_BACKEND": "s3"})
    with pytest.raises(ValueError, match="KABINET_OBJECTSTORE_S3_BUCKET"):
        open_store(settings.objects)
