"""Request and response bodies of the downloads API (msgspec Structs)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

PlatformName = Literal["windows", "macos", "linux", "android", "ios"]
Id = Annotated[str, msgspec.Meta(max_length=64)]


class ArtifactOut(msgspec.Struct):
    id: str
    platform: str
    language: str
    file_name: str
    size: int
    sha256: str
    store_url: str


class ReleaseOut(msgspec.Struct):
    id: str
    version: str
    channel: str
    published_at: str
    artifacts: list[ArtifactOut]


class RequiredPlan(msgspec.Struct):
    id: str
    name: str


class ApplicationOut(msgspec.Struct):
    id: str
    name: str
    entitled: bool
    required_plan: RequiredPlan | None
    releases: list[ReleaseOut]
    recommended: ArtifactOut | None
    recommended_version: str


class DownloadsOut(msgspec.Struct):
    platform: str
    applications: list[ApplicationOut]


class LinkBody(msgspec.Struct):
    artifact_id: Id


class LinkOut(msgspec.Struct):
    url: str
    expires_at: str
    artifact: ArtifactOut


class SendBody(msgspec.Struct):
    application_id: Id
    platform: PlatformName | None = None


class SentOut(msgspec.Struct):
    sent_to: str
