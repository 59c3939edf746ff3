"""Which object store a process uses, from ``KABINET_OBJECTSTORE_*`` (the same for every service
and the gateway, which streams downloads from it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from kabinet.config import setting
from kabinet.objectstore.base import ObjectStore


class Backend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


@dataclass(frozen=True)
class ObjectStoreSettings:
    backend: Backend = setting(
        "KABINET_OBJECTSTORE_BACKEND", Backend.LOCAL, "object store: local (a directory) or s3"
    )
    directory: Path = setting(
        "KABINET_OBJECTSTORE_DIR",
        Path(".kabinet/objects"),
        "root of the local object store (backend local)",
    )
    s3_endpoint: str = setting(
        "KABINET_OBJECTSTORE_S3_ENDPOINT",
        "",
        "S3-compatible endpoint URL (empty: AWS for the region)",
    )
    s3_region: str = setting("KABINET_OBJECTSTORE_S3_REGION", "us-east-1", "S3 region")
    s3_bucket: str = setting("KABINET_OBJECTSTORE_S3_BUCKET", "", "S3 bucket (backend s3)")
    s3_prefix: str = setting(
        "KABINET_OBJECTSTORE_S3_PREFIX", "", "prefix of every key in the bucket (e.g. kabinet/)"
    )
    s3_access_key_id: str = setting(
        "KABINET_OBJECTSTORE_S3_ACCESS_KEY_ID",
        "",
        "S3 access key id (empty: the standard AWS credential chain)",
    )
    s3_secret_access_key: str = setting(
        "KABINET_OBJECTSTORE_S3_SECRET_ACCESS_KEY", "", "S3 secret access key"
    )


def open_store(settings: ObjectStoreSettings) -> ObjectStore:
    """The configured store; a bad configuration fails here, at start-up."""
    if settings.backend is Backend.S3:
        from kabinet.objectstore.s3 import S3Store

        if not settings.s3_bucket:
            raise ValueError("KABINET_OBJECTSTORE_S3_BUCKET must be set for the s3 backend")
        return S3Store.from_settings(settings)
    from kabinet.objectstore.local import LocalDirectoryStore

    return LocalDirectoryStore(settings.directory.resolve())
