"""What the use cases need from storage and from subscription, as small protocols (PostgreSQL in
``store.postgres``, subscription's gRPC in ``distribution.entitlements``, dictionaries in the unit
tests). Every method of a ``Transaction`` runs inside one PostgreSQL transaction: a change, its
events and its mail commit together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from distribution.domain.events import Event
from distribution.domain.model import (
    Application,
    Artifact,
    Channel,
    DownloadRecord,
    PlanInfo,
    Release,
    ReleaseStatus,
    Rights,
    SnapshotUpdate,
)

Clock = Callable[[], datetime]


class Catalog(Protocol):
    async def save_applications(self, applications: Sequence[Application]) -> None:
        """Upsert the applications (never deleted: releases refer to them)."""
        ...

    async def applications(self) -> list[Application]:
        """Every application in the portal's order."""
        ...

    async def application(self, application_id: str) -> Application | None: ...

    async def latest_releases(self) -> list[Release]:
        """The latest published release of each application and channel, with artifacts."""
        ...

    async def releases_of(self, application_id: str) -> list[Release]:
        """Every release of the application, newest first, with artifacts."""
        ...

    async def release(self, release_id: uuid.UUID, *, lock: bool = False) -> Release | None: ...

    async def find_release(
        self, application_id: str, channel: Channel, version: str
    ) -> Release | None:
        """The release with its artifacts, its row locked until the transaction ends."""
        ...

    async def insert_release(self, release: Release) -> None:
        """Add a draft, unless one of the same application, channel and version exists."""
        ...

    async def insert_artifact(self, artifact: Artifact) -> None: ...

    async def published_artifact(
        self, artifact_id: uuid.UUID
    ) -> tuple[Artifact, Application] | None:
        """The artifact and its application when its release is published (the hot path of
        links and downloads: one query)."""
        ...

    async def set_status(
        self, release_id: uuid.UUID, status: ReleaseStatus, at: datetime
    ) -> None: ...

    async def set_latest(
        self, application_id: str, channel: Channel, release_id: uuid.UUID
    ) -> None: ...

    async def newest_published(
        self, application_id: str, channel: Channel, excluding: uuid.UUID
    ) -> Release | None: ...

    async def clear_latest(self, application_id: str, channel: Channel) -> None: ...


class Records(Protocol):
    async def insert_download(self, record: DownloadRecord) -> None: ...

    async def device_mails_since(self, account_id: uuid.UUID, since: datetime) -> list[datetime]:
        """When the account's send-to-device mails went out after ``since``, oldest first; the
        account's sends take turns until the transaction ends."""
        ...

    async def record_device_mail(self, account_id: uuid.UUID, at: datetime) -> None: ...

    async def save_snapshot(self, update: SnapshotUpdate) -> bool:
        """Store the account's entitlements unless a newer snapshot is already there."""
        ...

    async def snapshot(self, account_id: uuid.UUID) -> Rights | None: ...


class Outbox(Protocol):
    async def publish(self, event: Event) -> None:
        """Queue the event with the transaction's change."""
        ...

    async def queue_mail(
        self, to: str, template: str, language: str, values: Mapping[str, str]
    ) -> None:
        """Queue a templated mail with the transaction's change."""
        ...


class Transaction(Catalog, Records, Outbox, Protocol):
    """Every storage operation, on one connection (inside a transaction or not)."""


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def connection(self) -> AbstractAsyncContextManager[Transaction]: ...


class Subscriptions(Protocol):
    """What subscription says an account may use, and its plans (cached briefly)."""

    async def rights(self, account_id: uuid.UUID) -> Rights: ...

    async def plans(self) -> list[PlanInfo]: ...

    def forget(self, account_id: uuid.UUID) -> None:
        """Drop what is cached for the account (its entitlements changed)."""
        ...
