"""``kabinet-admin releases ...``: publish installers through distribution's operator RPCs.

- ``releases list APP``: the application's releases, newest first;
- ``releases upload APP VERSION PLATFORM FILE [--channel beta] [--language ru]``: stream a file
  into the draft release (its SHA-256 is computed here and verified by the service);
  ``--store-url URL`` instead of FILE for Android and iOS;
- ``releases publish RELEASE_ID [--keep-latest]``, ``releases latest RELEASE_ID``,
  ``releases withdraw RELEASE_ID``.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kabinet.admin_rpc import operator_link
from kabinet.distribution.v1 import distribution_pb2 as pb
from kabinet.distribution.v1 import distribution_pb2_grpc

GROUPS = ("releases",)
CHUNK = 256 * 1024
PLATFORMS: dict[str, pb.Platform.ValueType] = {
    "windows": pb.PLATFORM_WINDOWS,
    "macos": pb.PLATFORM_MACOS,
    "linux": pb.PLATFORM_LINUX,
    "android": pb.PLATFORM_ANDROID,
    "ios": pb.PLATFORM_IOS,
}
_STATUS = {1: "draft", 2: "published", 3: "withdrawn"}
_CHANNEL = {1: "stable", 2: "beta"}
_PLATFORM_NAMES = {v: k for k, v in PLATFORMS.items()}


def add_parser(groups: Any) -> None:
    releases = groups.add_parser("releases", help="installers: upload, publish, latest, withdraw")
    commands = releases.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="an application's releases")
    listing.add_argument("application")
    upload = commands.add_parser("upload", help="stream an installer into a draft release")
    upload.add_argument("application")
    upload.add_argument("version")
    upload.add_argument("platform", choices=sorted(PLATFORMS))
    upload.add_argument("file", nargs="?", type=Path)
    upload.add_argument("--channel", choices=("stable", "beta"), default="stable")
    upload.add_argument("--language", choices=("multi", "en", "ru"), default="multi")
    upload.add_argument("--store-url", default="")
    for name, text in (
        ("publish", "publish a draft (and make it the latest)"),
        ("latest", "make a published release the latest of its channel"),
        ("withdraw", "stop offering a release"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("release_id")
        if name == "publish":
            command.add_argument("--keep-latest", action="store_true")


def _describe(release: pb.Release) -> str:
    files = ", ".join(
        f"{_PLATFORM_NAMES.get(a.platform, '?')}/{a.language}"
        + (f" {a.size} B sha256={a.sha256}" if not a.store_url else f" {a.store_url}")
        for a in release.artifacts
    )
    latest = " latest" if release.latest else ""
    return (
        f"{release.id}  {release.application} {release.version} {_CHANNEL.get(release.channel)}"
        f" {_STATUS.get(release.status)}{latest}  [{files}]"
    )


async def _file_parts(header: pb.UploadHeader, path: Path | None) -> AsyncIterator[Any]:
    yield pb.UploadArtifactRequest(header=header)
    if path is None:
        return
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield pb.UploadArtifactRequest(chunk=chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


async def run(args: argparse.Namespace, database: str) -> list[str]:
    """The command's output lines; gRPC errors propagate (``main`` reports them). ``database``
    is where identity's signing key is read for the operator token."""
    async with operator_link(database, lambda a: a.distribution) as link:
        stub: Any = distribution_pb2_grpc.DistributionServiceStub(link.channel)
        operator = link.metadata
        if args.command == "list":
            reply = await stub.ListReleases(
                pb.ListReleasesRequest(application_id=args.application), metadata=operator
            )
            return [_describe(r) for r in reply.releases] or ["no releases"]
        if args.command == "upload":
            path: Path | None = args.file
            header = pb.UploadHeader(
                application_id=args.application,
                version=args.version,
                channel=pb.CHANNEL_BETA if args.channel == "beta" else pb.CHANNEL_STABLE,
                platform=PLATFORMS[args.platform],
                language=args.language,
                file_name=path.name if path else "",
                sha256=_sha256(path) if path else "",
                store_url=args.store_url,
            )
            done = await stub.UploadArtifact(
                _file_parts(header, path), timeout=3600, metadata=operator
            )
            return [_describe(done.release)]
        if args.command == "publish":
            publish = pb.PublishReleaseRequest(
                release_id=args.release_id, keep_latest=args.keep_latest
            )
            return [_describe((await stub.PublishRelease(publish, metadata=operator)).release)]
        if args.command == "latest":
            latest = pb.MarkLatestRequest(release_id=args.release_id)
            return [_describe((await stub.MarkLatest(latest, metadata=operator)).release)]
        withdraw = pb.WithdrawReleaseRequest(release_id=args.release_id)
        return [_describe((await stub.WithdrawRelease(withdraw, metadata=operator)).release)]
