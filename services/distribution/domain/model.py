"""The catalog's values: applications, releases, artifacts, and what an account may download."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum


class Platform(StrEnum):
    WINDOWS = "windows"
    MACOS = "macos"
    LINUX = "linux"
    ANDROID = "android"
    IOS = "ios"

    @property
    def is_mobile(self) -> bool:
        """Android and iOS installs come from the stores, not from a file of ours."""
        return self in (Platform.ANDROID, Platform.IOS)


class Channel(StrEnum):
    STABLE = "stable"
    BETA = "beta"


class ReleaseStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Tier(IntEnum):
    """Subscription tiers in the order of what they include."""

    STANDARD = 1
    PLUS = 2
    PREMIUM = 3

    @classmethod
    def from_key(cls, key: str) -> Tier:
        return cls[key.upper()]

    @property
    def key(self) -> str:
        return self.name.lower()


LANGUAGES = ("multi", "en", "ru")


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    name_ru: str
    feature: str
    min_tier: Tier
    position: int = 0


@dataclass(frozen=True)
class Artifact:
    id: uuid.UUID
    release_id: uuid.UUID
    platform: Platform
    language: str
    file_name: str
    object_key: str | None
    size: int
    sha256: str
    content_type: str
    store_url: str | None
    created_at: datetime


@dataclass(frozen=True)
class Release:
    id: uuid.UUID
    application_id: str
    version: str
    channel: Channel
    status: ReleaseStatus
    created_at: datetime
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None
    latest: bool = False
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True)
class Entitlement:
    feature: str
    tier: Tier
    valid_until: datetime


@dataclass(frozen=True)
class Rights:
    """What an account's live subscriptions include, as subscription reported it."""

    entitlements: tuple[Entitlement, ...] = ()

    def live(self, now: datetime) -> tuple[Entitlement, ...]:
        return tuple(e for e in self.entitlements if e.valid_until > now)

    def allows(self, app: Application, now: datetime) -> bool:
        """The account holds the application's feature and a tier at least its tier.

        The tier of the account is the highest tier among its live entitlements: every feature of
        a live subscription is held by that subscription or by a higher one.
        """
        live = self.live(now)
        if not any(e.feature == app.feature for e in live):
            return False
        return max(e.tier for e in live) >= app.min_tier


@dataclass(frozen=True)
class PlanInfo:
    id: str
    tier: Tier
    name: str
    name_ru: str
    features: tuple[str, ...]
    on_sale: bool = True


def required_plan(plans: list[PlanInfo], app: Application) -> PlanInfo | None:
    """The cheapest plan on sale that includes the application."""
    fitting = [
        p for p in plans if p.on_sale and p.tier >= app.min_tier and app.feature in p.features
    ]
    return min(fitting, key=lambda p: p.tier) if fitting else None


@dataclass(frozen=True)
class Offer:
    """One application as the portal shows it to one account."""

    application: Application
    entitled: bool
    required_plan: PlanInfo | None
    releases: tuple[Release, ...]
    recommended: Artifact | None = None
    recommended_release: Release | None = None


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime | None
    artifact: Artifact


@dataclass(frozen=True)
class AuthorizedDownload:
    download_id: uuid.UUID
    artifact: Artifact


@dataclass(frozen=True)
class UploadHeader:
    application_id: str
    version: str
    channel: Channel
    platform: Platform
    language: str
    file_name: str
    content_type: str
    sha256: str
    store_url: str = ""


@dataclass(frozen=True)
class DownloadRecord:
    id: uuid.UUID
    account_id: uuid.UUID
    artifact_id: uuid.UUID
    range_start: int
    started_at: datetime


@dataclass(frozen=True)
class SnapshotUpdate:
    account_id: uuid.UUID
    as_of: datetime
    rights: Rights = field(default_factory=Rights)
