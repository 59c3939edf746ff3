"""``kabinet.distribution.v1.DistributionService``: protobuf in, a use case, protobuf out.

Errors are ``DomainError``s that the server interceptor maps to statuses once; every rule lives in
``distribution.domain``. The release-publishing RPCs are for operators only (``OPERATOR_METHODS``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from distribution.domain import errors
from distribution.domain.model import (
    Artifact,
    Channel,
    Offer,
    Platform,
    Release,
    ReleaseStatus,
    UploadHeader,
)
from distribution.domain.platforms import detect
from distribution.domain.services import DistributionServices
from kabinet.distribution.v1 import distribution_pb2 as pb
from kabinet.distribution.v1 import distribution_pb2_grpc
from kabinet.protobuf import timestamp

SERVICE_NAME = "kabinet.distribution.v1.DistributionService"

OPERATOR_METHODS: frozenset[str] = frozenset(
    f"/{SERVICE_NAME}/{method}"
    for method in (
        "UploadArtifact",
        "PublishRelease",
        "MarkLatest",
        "WithdrawRelease",
        "ListReleases",
    )
)

Context = grpc.aio.ServicerContext[Any, Any]

PLATFORM_TO_PB = {
    Platform.WINDOWS: pb.PLATFORM_WINDOWS,
    Platform.MACOS: pb.PLATFORM_MACOS,
    Platform.LINUX: pb.PLATFORM_LINUX,
    Platform.ANDROID: pb.PLATFORM_ANDROID,
    Platform.IOS: pb.PLATFORM_IOS,
}
PLATFORM_FROM_PB = {v: k for k, v in PLATFORM_TO_PB.items()}
CHANNEL_TO_PB = {Channel.STABLE: pb.CHANNEL_STABLE, Channel.BETA: pb.CHANNEL_BETA}
CHANNEL_FROM_PB = {v: k for k, v in CHANNEL_TO_PB.items()}
STATUS_TO_PB = {
    ReleaseStatus.DRAFT: pb.RELEASE_STATUS_DRAFT,
    ReleaseStatus.PUBLISHED: pb.RELEASE_STATUS_PUBLISHED,
    ReleaseStatus.WITHDRAWN: pb.RELEASE_STATUS_WITHDRAWN,
}


def artifact_to_pb(artifact: Artifact) -> pb.Artifact:
    return pb.Artifact(
        id=str(artifact.id),
        platform=PLATFORM_TO_PB[artifact.platform],
        file_name=artifact.file_name,
        size=artifact.size,
        sha256=artifact.sha256,
        store_url=artifact.store_url or "",
        language=artifact.language,
    )


def release_to_pb(release: Release) -> pb.Release:
    return pb.Release(
        id=str(release.id),
        application=release.application_id,
        version=release.version,
        channel=CHANNEL_TO_PB[release.channel],
        artifacts=[artifact_to_pb(a) for a in release.artifacts],
        status=STATUS_TO_PB[release.status],
        latest=release.latest,
        published_at=timestamp(release.published_at) if release.published_at else None,
    )


def offer_to_pb(offer: Offer) -> pb.Application:
    app = offer.application
    plan = offer.required_plan
    return pb.Application(
        id=app.id,
        name=app.name,
        name_ru=app.name_ru,
        entitled=offer.entitled,
        required_plan=pb.Plan(id=plan.id, name=plan.name, name_ru=plan.name_ru) if plan else None,
        releases=[release_to_pb(r) for r in offer.releases],
        recommended=artifact_to_pb(offer.recommended) if offer.recommended else None,
        recommended_release_id=(
            str(offer.recommended_release.id) if offer.recommended_release else ""
        ),
    )


def _platform(value: int, *, required: bool = False) -> Platform | None:
    platform = PLATFORM_FROM_PB.get(value)  # type: ignore[call-overload]
    if platform is None and (required or value != pb.PLATFORM_UNSPECIFIED):
        raise errors.invalid(errors.PLATFORM_INVALID)
    return platform


def header_from_pb(header: pb.UploadHeader) -> UploadHeader:
    channel = CHANNEL_FROM_PB.get(header.channel, Channel.STABLE)
    if header.channel not in (pb.CHANNEL_UNSPECIFIED, *CHANNEL_FROM_PB):
        raise errors.invalid(errors.CHANNEL_INVALID)
    platform = _platform(header.platform, required=True)
    assert platform is not None
    return UploadHeader(
        application_id=header.application_id,
        version=header.version,
        channel=channel,
        platform=platform,
        language=header.language or "multi",
        file_name=header.file_name,
        content_type=header.content_type,
        sha256=header.sha256,
        store_url=header.store_url,
    )


class DistributionServicer(distribution_pb2_grpc.DistributionServiceServicer):
    """Each RPC calls one use case of ``DistributionServices``."""

    def __init__(self, services: DistributionServices) -> None:
        self._s = services

    async def ListDownloads(
        self, request: pb.ListDownloadsRequest, context: Context
    ) -> pb.ListDownloadsResponse:
        """Every application with the account's right to it and the recommended installer."""
        platform = _platform(request.platform) or detect(request.user_agent, request.platform_hint)
        offers = await self._s.list_downloads(request.account_id, platform, request.language)
        return pb.ListDownloadsResponse(
            applications=[offer_to_pb(o) for o in offers],
            platform=PLATFORM_TO_PB[platform] if platform else pb.PLATFORM_UNSPECIFIED,
        )

    async def CreateDownloadLink(
        self, request: pb.CreateDownloadLinkRequest, context: Context
    ) -> pb.CreateDownloadLinkResponse:
        """A signed, expiring link bound to the account (or the store listing)."""
        link = await self._s.create_link(request.account_id, request.artifact_id)
        return pb.CreateDownloadLinkResponse(
            url=link.url,
            expires_at=timestamp(link.expires_at) if link.expires_at else None,
            artifact=artifact_to_pb(link.artifact),
        )

    async def AuthorizeDownload(
        self, request: pb.AuthorizeDownloadRequest, context: Context
    ) -> pb.AuthorizeDownloadResponse:
        """Check a link for the caller, record the download, name the object to stream."""
        authorized = await self._s.authorize(request.link, request.account_id, request.range_start)
        artifact = authorized.artifact
        return pb.AuthorizeDownloadResponse(
            download_id=str(authorized.download_id),
            artifact=artifact_to_pb(artifact),
            object_key=artifact.object_key or "",
            content_type=artifact.content_type,
        )

    async def GetDeviceLink(
        self, request: pb.GetDeviceLinkRequest, context: Context
    ) -> pb.GetDeviceLinkResponse:
        """The page link for installing an application on another device."""
        url = await self._s.device_link(request.application_id, _platform(request.platform))
        return pb.GetDeviceLinkResponse(url=url)

    async def SendToDevice(
        self, request: pb.SendToDeviceRequest, context: Context
    ) -> pb.SendToDeviceResponse:
        """Email the page link for another device."""
        url = await self._s.send_to_device(
            request.account_id,
            request.email,
            request.language,
            request.application_id,
            _platform(request.platform),
        )
        return pb.SendToDeviceResponse(url=url)

    async def UploadArtifact(
        self, request_iterator: AsyncIterator[pb.UploadArtifactRequest], context: Context
    ) -> pb.UploadArtifactResponse:
        """The first message is the header, the rest are the file's bytes."""
        first = await anext(aiter(request_iterator), None)
        if first is None or not first.HasField("header"):
            raise errors.invalid(errors.UPLOAD_HEADER_MISSING)
        header = header_from_pb(first.header)

        async def chunks() -> AsyncIterator[bytes]:
            async for message in request_iterator:
                if message.chunk:
                    yield message.chunk

        release, artifact = await self._s.upload(header, chunks())
        return pb.UploadArtifactResponse(
            release=release_to_pb(release), artifact=artifact_to_pb(artifact)
        )

    async def PublishRelease(
        self, request: pb.PublishReleaseRequest, context: Context
    ) -> pb.PublishReleaseResponse:
        """Publish a draft (the latest of its channel unless ``keep_latest``)."""
        release = await self._s.publish(request.release_id, keep_latest=request.keep_latest)
        return pb.PublishReleaseResponse(release=release_to_pb(release))

    async def MarkLatest(
        self, request: pb.MarkLatestRequest, context: Context
    ) -> pb.MarkLatestResponse:
        """Make a published release the latest of its channel."""
        return pb.MarkLatestResponse(
            release=release_to_pb(await self._s.mark_latest(request.release_id))
        )

    async def WithdrawRelease(
        self, request: pb.WithdrawReleaseRequest, context: Context
    ) -> pb.WithdrawReleaseResponse:
        """Stop offering and serving a release."""
        return pb.WithdrawReleaseResponse(
            release=release_to_pb(await self._s.withdraw(request.release_id))
        )

    async def ListReleases(
        self, request: pb.ListReleasesRequest, context: Context
    ) -> pb.ListReleasesResponse:
        """Every release of an application, newest first."""
        releases = await self._s.list_releases(request.application_id)
        return pb.ListReleasesResponse(releases=[release_to_pb(r) for r in releases])


def register(services: DistributionServices) -> Callable[[grpc.aio.Server], None]:
    """The function ``ServiceHost.serve`` calls to add this servicer to its server."""

    def add(server: grpc.aio.Server) -> None:
        distribution_pb2_grpc.add_DistributionServiceServicer_to_server(
            DistributionServicer(services), server
        )

    return add
