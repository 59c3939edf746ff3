"""``ObjectStore`` on an S3-compatible service (AWS S3, MinIO, Ceph RGW, Yandex Object Storage...).

Built on boto3, the AWS SDK, called in worker threads: boto3/botocore are maintained by AWS, speak
every S3-compatible endpoint, and release together. (aiobotocore would give native asyncio but pins
botocore to a narrow range per release, which ties our dependency set to its release cadence; an
installer upload or a download chunk is large enough that a thread hop per call costs nothing.)

Writes are multipart uploads: parts are sent as the stream arrives, the SHA-256 is computed on the
way, and the upload is completed only when the size limit held and the checksum matched; otherwise
it is aborted, and S3 never shows a partial object. The checksum is kept as object metadata.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from kabinet.objectstore.base import (
    ChecksumMismatch,
    ObjectNotFound,
    ObjectTooLarge,
    StoredObject,
    check_key,
)

if TYPE_CHECKING:
    from kabinet.objectstore.config import ObjectStoreSettings

PART_SIZE = 8 * 1024 * 1024  # S3's minimum is 5 MiB for every part but the last
READ_CHUNK = 1024 * 1024
_SHA_META = "sha256"


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Store:
    """``ObjectStore`` on one bucket (under an optional key prefix)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_settings(cls, settings: ObjectStoreSettings) -> S3Store:
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                s3={"addressing_style": "path"} if settings.s3_endpoint else None,
            ),
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    def _name(self, key: str) -> str:
        return self._prefix + check_key(key)

    async def put(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str = "application/octet-stream",
        max_bytes: int | None = None,
        expected_sha256: str | None = None,
    ) -> StoredObject:
        name = self._name(key)
        digest = hashlib.sha256()
        size = 0
        upload = await asyncio.to_thread(
            self._client.create_multipart_upload,
            Bucket=self._bucket,
            Key=name,
            ContentType=content_type,
        )
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        pending = bytearray()

        def upload_part(data: bytes, number: int, hashed: bool) -> Any:
            # A part is hashed in the thread that sends it (an 8 MiB sha256 takes milliseconds).
            if not hashed:
                digest.update(data)
            return self._client.upload_part(
                Bucket=self._bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data
            )

        async def send(data: bytes, *, hashed: bool = False) -> None:
            number = len(parts) + 1
            sent = await asyncio.to_thread(upload_part, data, number, hashed)
            parts.append({"ETag": sent["ETag"], "PartNumber": number})

        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise ObjectTooLarge(max_bytes)
                pending += chunk
                if len(pending) >= PART_SIZE:
                    await send(bytes(pending))
                    pending.clear()
            # The last part is hashed before it is sent: a wrong checksum sends nothing more.
            last = bytes(pending)
            await asyncio.to_thread(digest.update, last)
            actual = digest.hexdigest()
            if expected_sha256 is not None and actual != expected_sha256.lower():
                raise ChecksumMismatch(expected_sha256.lower(), actual)
            if last or not parts:
                await send(last, hashed=True)
            await asyncio.to_thread(
                self._client.complete_multipart_upload,
                Bucket=self._bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await asyncio.to_thread(
                self._client.abort_multipart_upload,
                Bucket=self._bucket,
                Key=name,
                UploadId=upload_id,
            )
            raise
        # The checksum is known only at the end: record it by copying the object onto itself.
        await asyncio.to_thread(
            self._client.copy_object,
            Bucket=self._bucket,
            Key=name,
            CopySource={"Bucket": self._bucket, "Key": name},
            Metadata={_SHA_META: actual},
            MetadataDirective="REPLACE",
            ContentType=content_type,
        )
        return StoredObject(key=key, size=size, sha256=actual, content_type=content_type)

    async def stat(self, key: str) -> StoredObject | None:
        name = self._name(key)
        try:
            head = await asyncio.to_thread(self._client.head_object, Bucket=self._bucket, Key=name)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return StoredObject(
            key=key,
            size=int(head["ContentLength"]),
            sha256=str(head.get("Metadata", {}).get(_SHA_META, "")),
            content_type=str(head.get("ContentType", "application/octet-stream")),
        )

    async def read(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        name = self._name(key)
        if end is not None and end <= start:
            return
        wanted = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        try:
            reply = await asyncio.to_thread(
                self._client.get_object, Bucket=self._bucket, Key=name, Range=wanted
            )
        except ClientError as error:
            if _missing(error):
                raise ObjectNotFound(key) from None
            if str(error.response.get("Error", {}).get("Code", "")) == "InvalidRange":
                return
            raise
        body = reply["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> bool:
        existed = await self.stat(key) is not None
        await asyncio.to_thread(
            self._client.delete_object, Bucket=self._bucket, Key=self._name(key)
        )
        return existed

    def local_path(self, key: str) -> Path | None:
        return None
