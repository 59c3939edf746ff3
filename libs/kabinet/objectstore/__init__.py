"""Where large blobs live (installers, ticket attachments): an object store behind one interface.

Services keep an object's key, size and SHA-256 in their own tables and the bytes here. Writes are
streamed and all-or-nothing: an object appears under its key only after every byte was written,
its size limit held and its checksum (when one was expected) matched. ``LocalDirectoryStore`` is
the development and test implementation; production uses an S3-compatible store with the same
interface.
"""

from kabinet.objectstore.base import (
    ChecksumMismatch,
    InvalidKey,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    ObjectTooLarge,
    StoredObject,
    check_key,
)
from kabinet.objectstore.local import LocalDirectoryStore

__all__ = [
    "ChecksumMismatch",
    "InvalidKey",
    "LocalDirectoryStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectTooLarge",
    "StoredObject",
    "check_key",
]
