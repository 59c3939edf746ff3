"""Fakes of distribution's ports: a dictionary store, subscription's answers, a settable clock."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

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
    Tier,
)
from distribution.domain.seed import DEFAULT_SEED, read_seed
from distribution.domain.services import DistributionServices, LinkRules
from kabinet.objectstore import LocalDirectoryStore

PLANS = [
    PlanInfo("standard", Tier.STANDARD, "Standard", "Стандартный", ("antivirus",)),
    PlanInfo("plus", Tier.PLUS, "Plus", "Плюс", ("antivirus", "vpn", "password_manager")),
    PlanInfo(
        "premium",
        Tier.PREMIUM,
        "Premium",
        "Премиум",
        ("antivirus", "vpn", "password_manager", "parental_control"),
    ),
]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class State:
    applications: dict[str, Application] = dataclasses.field(default_factory=dict)
    releases: dict[uuid.UUID, Release] = dataclasses.field(default_factory=dict)
    artifacts: dict[uuid.UUID, Artifact] = dataclasses.field(default_factory=dict)
    latest: dict[tuple[str, Channel], uuid.UUID] = dataclasses.field(default_factory=dict)
    downloads: list[DownloadRecord] = dataclasses.field(default_factory=list)
    snapshots: dict[uuid.UUID, SnapshotUpdate] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    mail: list[tuple[str, str, str, dict[str, str]]] = dataclasses.field(default_factory=list)
    device_mails: list[tuple[uuid.UUID, datetime]] = dataclasses.field(default_factory=list)


class FakeTransaction:
    """Every port on dictionaries; a transaction works on a copy that replaces the state on
    commit, so a failed use case leaves nothing behind."""

    def __init__(self, state: State) -> None:
        self.s = state

    def _full(self, release: Release) -> Release:
        artifacts = tuple(
            sorted(
                (a for a in self.s.artifacts.values() if a.release_id == release.id),
                key=lambda a: (a.platform.value, a.language),
            )
        )
        latest = self.s.latest.get((release.application_id, release.channel)) == release.id
        return dataclasses.replace(release, artifacts=artifacts, latest=latest)

    async def save_applications(self, applications: Sequence[Application]) -> None:
        self.s.applications.update({a.id: a for a in applications})

    async def applications(self) -> list[Application]:
        return sorted(self.s.applications.values(), key=lambda a: (a.position, a.id))

    async def application(self, application_id: str) -> Application | None:
        return self.s.applications.get(application_id)

    async def latest_releases(self) -> list[Release]:
        found = [self._full(self.s.releases[r]) for r in self.s.latest.values()]
        return [r for r in found if r.status is ReleaseStatus.PUBLISHED]

    async def releases_of(self, application_id: str) -> list[Release]:
        return [
            self._full(r) for r in self.s.releases.values() if r.application_id == application_id
        ]

    async def release(self, release_id: uuid.UUID, *, lock: bool = False) -> Release | None:
        found = self.s.releases.get(release_id)
        return self._full(found) if found else None

    async def find_release(
        self, application_id: str, channel: Channel, version: str
    ) -> Release | None:
        for r in self.s.releases.values():
            if (r.application_id, r.channel, r.version) == (application_id, channel, version):
                return self._full(r)
        return None

    async def insert_release(self, release: Release) -> None:
        if await self.find_release(release.application_id, release.channel, release.version):
            return
        self.s.releases[release.id] = release

    async def insert_artifact(self, artifact: Artifact) -> None:
        self.s.artifacts[artifact.id] = artifact

    async def published_artifact(
        self, artifact_id: uuid.UUID
    ) -> tuple[Artifact, Application] | None:
        a = self.s.artifacts.get(artifact_id)
        if a is None or self.s.releases[a.release_id].status is not ReleaseStatus.PUBLISHED:
            return None
        return a, self.s.applications[self.s.releases[a.release_id].application_id]

    async def set_status(self, release_id: uuid.UUID, status: ReleaseStatus, at: datetime) -> None:
        r = self.s.releases[release_id]
        field = "published_at" if status is ReleaseStatus.PUBLISHED else "withdrawn_at"
        self.s.releases[release_id] = dataclasses.replace(r, status=status, **{field: at})

    async def set_latest(
        self, application_id: str, channel: Channel, release_id: uuid.UUID
    ) -> None:
        self.s.latest[(application_id, channel)] = release_id

    async def newest_published(
        self, application_id: str, channel: Channel, excluding: uuid.UUID
    ) -> Release | None:
        candidates = [
            r
            for r in self.s.releases.values()
            if (r.application_id, r.channel) == (application_id, channel)
            and r.status is ReleaseStatus.PUBLISHED
            and r.id != excluding
        ]
        candidates.sort(key=lambda r: r.published_at or datetime.min.replace(tzinfo=UTC))
        return self._full(candidates[-1]) if candidates else None

    async def clear_latest(self, application_id: str, channel: Channel) -> None:
        self.s.latest.pop((application_id, channel), None)

    async def insert_download(self, record: DownloadRecord) -> None:
        self.s.downloads.append(record)

    async def device_mails_since(self, account_id: uuid.UUID, since: datetime) -> list[datetime]:
        return sorted(at for a, at in self.s.device_mails if a == account_id and at > since)

    async def record_device_mail(self, account_id: uuid.UUID, at: datetime) -> None:
        self.s.device_mails.append((account_id, at))

    async def save_snapshot(self, update: SnapshotUpdate) -> bool:
        held = self.s.snapshots.get(update.account_id)
        if held is not None and held.as_of > update.as_of:
            return False
        self.s.snapshots[update.account_id] = update
        return True

    async def snapshot(self, account_id: uuid.UUID) -> Rights | None:
        held = self.s.snapshots.get(account_id)
        return held.rights if held else None

    async def publish(self, event: Event) -> None:
        self.s.events.append(event)

    async def queue_mail(
        self, to: str, template: str, language: str, values: Mapping[str, str]
    ) -> None:
        self.s.mail.append((to, template, language, dict(values)))


class FakeStore:
    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        work = State(
            **{f.name: _copy(getattr(self.state, f.name)) for f in dataclasses.fields(State)}
        )
        yield FakeTransaction(work)
        self.state = work

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[FakeTransaction]:
        yield FakeTransaction(self.state)


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value)


class FakeSubscriptions:
    def __init__(self) -> None:
        self.by_account: dict[uuid.UUID, Rights] = {}
        self.forgotten: list[uuid.UUID] = []

    async def rights(self, account_id: uuid.UUID) -> Rights:
        return self.by_account.get(account_id, Rights())

    async def plans(self) -> list[PlanInfo]:
        return PLANS

    def forget(self, account_id: uuid.UUID) -> None:
        self.forgotten.append(account_id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def subscriptions() -> FakeSubscriptions:
    return FakeSubscriptions()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def services(
    store: FakeStore, subscriptions: FakeSubscriptions, clock: Clock, tmp_path: Path
) -> DistributionServices:
    services = DistributionServices(
        store,
        LocalDirectoryStore(tmp_path / "objects"),
        subscriptions,
        clock,
        LinkRules(b"s" * 32, timedelta(minutes=10), "https://portal.example", 10_000_000),
    )
    async with store.transaction() as tx:
        await tx.save_applications(read_seed(DEFAULT_SEED).applications)
    return services
