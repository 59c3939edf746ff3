"""The distribution use cases: what an account may download, signed links, the releases
operators publish, and the entitlement snapshots kept from subscription's events.

Uploads go to the object store first (streamed, checksum verified, all or nothing) and are
recorded after; a failed record removes the object again. Publishing, marking latest and
withdrawing lock the release's row, so two operators acting at once take turns.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from distribution.domain import errors, links
from distribution.domain.events import DownloadStarted, ReleasePublished
from distribution.domain.model import (
    LANGUAGES,
    Application,
    Artifact,
    AuthorizedDownload,
    Channel,
    DownloadLink,
    DownloadRecord,
    Offer,
    PlanInfo,
    Platform,
    Release,
    ReleaseStatus,
    Rights,
    SnapshotUpdate,
    UploadHeader,
    required_plan,
)
from distribution.domain.ports import Clock, Store, Subscriptions, Transaction
from kabinet.objectstore import ChecksumMismatch, ObjectStore, ObjectTooLarge

_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
FILE_ROUTE = "/api/v1/downloads/file"
DEVICE_ROUTE = "/get"


@dataclass(frozen=True)
class LinkRules:
    secret: bytes
    ttl: timedelta
    public_url: str
    max_artifact_bytes: int
    send_limit: int = 5
    send_window: timedelta = timedelta(hours=1)


def parse_account_id(account_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(account_id)
    except (ValueError, AttributeError, TypeError):
        raise errors.invalid(errors.ACCOUNT_ID_INVALID) from None


def parse_uuid(raw: str, code: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise errors.not_found(code) from None


def _pick(artifacts: Sequence[Artifact], platform: Platform, language: str) -> Artifact | None:
    """The artifact for the platform, in the caller's language, else multilingual, else any."""
    fitting = [a for a in artifacts if a.platform is platform]
    for wanted in (language, "multi", "en"):
        for artifact in fitting:
            if artifact.language == wanted:
                return artifact
    return fitting[0] if fitting else None


def _refuse_taken(release: Release, header: UploadHeader) -> None:
    """An upload goes only into a draft, and only once per platform and language."""
    if release.status is not ReleaseStatus.DRAFT:
        raise errors.precondition(errors.RELEASE_NOT_DRAFT)
    if any(
        a.platform is header.platform and a.language == header.language for a in release.artifacts
    ):
        raise errors.artifact_exists()


class DistributionServices:
    """Every use case, on one store, object store, subscription client and clock."""

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        subscriptions: Subscriptions,
        clock: Clock,
        rules: LinkRules,
    ) -> None:
        self.store = store
        self.objects = objects
        self.subscriptions = subscriptions
        self._clock = clock
        self._rules = rules

    def now(self) -> datetime:
        return self._clock()

    # the portal

    async def list_downloads(
        self, account_id: str, platform: Platform | None, language: str
    ) -> list[Offer]:
        """Every application with whether the account may download it (else the plan that
        includes it), its latest releases and the installer recommended for ``platform``.
        Without an account (a visitor not signed in yet) nothing is entitled."""
        rights = (
            await self.subscriptions.rights(parse_account_id(account_id))
            if account_id
            else Rights()
        )
        async with self.store.connection() as db:
            applications = await db.applications()
            latest = await db.latest_releases()
        now = self._clock()
        plans: list[PlanInfo] = []
        offers = []
        for app in applications:
            entitled = rights.allows(app, now)
            if not entitled and not plans:
                plans = await self.subscriptions.plans()
            releases = sorted(
                (r for r in latest if r.application_id == app.id),
                key=lambda r: list(Channel).index(r.channel),
            )
            stable = next((r for r in releases if r.channel is Channel.STABLE), None)
            recommended = (
                _pick(stable.artifacts, platform, language) if stable and platform else None
            )
            offers.append(
                Offer(
                    application=app,
                    entitled=entitled,
                    required_plan=None if entitled else required_plan(plans, app),
                    releases=tuple(releases),
                    recommended=recommended,
                    recommended_release=stable if recommended else None,
                )
            )
        return offers

    async def _entitled_or_raise(self, account: uuid.UUID, app: Application) -> None:
        rights = await self.subscriptions.rights(account)
        if rights.allows(app, self._clock()):
            return
        plan = required_plan(await self.subscriptions.plans(), app)
        raise errors.not_entitled(
            app.name,
            app.name_ru,
            plan.name if plan else "—",
            plan.name_ru if plan else "—",
        )

    async def _downloadable(self, artifact_id: uuid.UUID) -> tuple[Artifact, Application]:
        async with self.store.connection() as db:
            found = await db.published_artifact(artifact_id)
        if found is None:
            raise errors.not_found(errors.ARTIFACT_NOT_FOUND)
        return found

    async def create_link(self, account_id: str, artifact_id: str) -> DownloadLink:
        """A signed, expiring link to the artifact for this account (the store listing for
        Android and iOS); refused without the entitlement, naming the plan that has it."""
        account = parse_account_id(account_id)
        artifact, app = await self._downloadable(parse_uuid(artifact_id, errors.ARTIFACT_NOT_FOUND))
        await self._entitled_or_raise(account, app)
        if artifact.store_url:
            return DownloadLink(url=artifact.store_url, expires_at=None, artifact=artifact)
        expires = self._clock() + self._rules.ttl
        token = links.sign(self._rules.secret, links.LinkClaims(artifact.id, account, expires))
        url = f"{self._rules.public_url.rstrip('/')}{FILE_ROUTE}?sig={token}"
        return DownloadLink(url=url, expires_at=expires, artifact=artifact)

    async def authorize(self, link: str, account_id: str, range_start: int) -> AuthorizedDownload:
        """Check the link for the calling account (and that the entitlement still holds), record
        the download and queue ``distribution.download.started``."""
        account = parse_account_id(account_id)
        now = self._clock()
        try:
            claims = links.verify(self._rules.secret, link, account, now)
        except links.LinkRefused as refused:
            if refused.problem is links.LinkProblem.EXPIRED:
                raise errors.link_expired() from None
            code = (
                errors.LINK_OTHER_ACCOUNT
                if refused.problem is links.LinkProblem.OTHER_ACCOUNT
                else errors.LINK_INVALID
            )
            raise errors.denied(code) from None
        artifact, app = await self._downloadable(claims.artifact_id)
        if artifact.object_key is None:
            raise errors.not_found(errors.ARTIFACT_NOT_FOUND)
        await self._entitled_or_raise(account, app)
        record = DownloadRecord(uuid.uuid4(), account, artifact.id, max(0, range_start), now)
        async with self.store.transaction() as tx:
            await tx.insert_download(record)
            await tx.publish(DownloadStarted(record, now))
        return AuthorizedDownload(record.id, artifact)

    async def device_link(self, application_id: str, platform: Platform | None) -> str:
        """The page that lets a person sign in on another device and get its installer."""
        async with self.store.connection() as db:
            app = await db.application(application_id)
        if app is None:
            raise errors.not_found(errors.APPLICATION_NOT_FOUND)
        url = f"{self._rules.public_url.rstrip('/')}{DEVICE_ROUTE}/{quote(app.id)}"
        return f"{url}?platform={platform.value}" if platform else url

    async def send_to_device(
        self,
        account_id: str,
        email: str,
        language: str,
        application_id: str,
        platform: Platform | None,
    ) -> str:
        """Email the device page's link to the account's own address (no secret in it: the
        page asks the person to sign in); at most ``send_limit`` per account and window."""
        account = parse_account_id(account_id)
        url = await self.device_link(application_id, platform)
        async with self.store.connection() as db:
            app = await db.application(application_id)
        assert app is not None
        now = self._clock()
        async with self.store.transaction() as tx:
            sent = await tx.device_mails_since(account, now - self._rules.send_window)
            if len(sent) >= self._rules.send_limit:
                wait = sent[-self._rules.send_limit] + self._rules.send_window - now
                raise errors.too_many_sends(max(1, int(wait.total_seconds()) + 1))
            await tx.record_device_mail(account, now)
            await tx.queue_mail(
                email,
                "send_to_device",
                language,
                {
                    "link": url,
                    "application": app.name_ru if language == "ru" else app.name,
                },
            )
        return url

    # operators

    def _check_header(self, header: UploadHeader) -> UploadHeader:
        if not _VERSION.match(header.version):
            raise errors.invalid(errors.VERSION_INVALID)
        if header.language not in LANGUAGES:
            raise errors.invalid(errors.LANGUAGE_INVALID)
        if header.store_url:
            parts = urlsplit(header.store_url)
            if parts.scheme != "https" or not parts.netloc or len(header.store_url) > 512:
                raise errors.invalid(errors.STORE_URL_INVALID)
            if not header.platform.is_mobile:
                raise errors.invalid(errors.STORE_URL_PLATFORM)
            return header
        if header.platform.is_mobile:
            raise errors.invalid(errors.STORE_URL_PLATFORM)
        if not _FILE_NAME.match(header.file_name) or header.file_name.endswith("."):
            raise errors.invalid(errors.FILE_NAME_INVALID)
        sha = header.sha256.strip().lower()
        if not _SHA256.match(sha):
            raise errors.invalid(errors.CHECKSUM_INVALID)
        return dataclasses.replace(header, sha256=sha)

    async def _draft_for(self, tx: Transaction, header: UploadHeader, now: datetime) -> Release:
        release = await tx.find_release(header.application_id, header.channel, header.version)
        if release is None:
            release = Release(
                id=uuid.uuid4(),
                application_id=header.application_id,
                version=header.version,
                channel=header.channel,
                status=ReleaseStatus.DRAFT,
                created_at=now,
            )
            await tx.insert_release(release)  # does nothing when another upload made it first
            release = await tx.find_release(header.application_id, header.channel, header.version)
            assert release is not None
        _refuse_taken(release, header)
        return release

    async def upload(
        self, header: UploadHeader, chunks: AsyncIterable[bytes]
    ) -> tuple[Release, Artifact]:
        """Store an installer (or a store listing) in the draft release ``version`` of
        ``channel`` (created when missing)."""
        header = self._check_header(header)
        async with self.store.connection() as db:
            app = await db.application(header.application_id)
            if app is None:
                raise errors.not_found(errors.APPLICATION_NOT_FOUND)
            await self._check_free(db, header)
        artifact_id = uuid.uuid4()
        key = None
        size, sha, content_type = 0, "", header.content_type or "application/octet-stream"
        if not header.store_url:
            key = f"releases/{app.id}/{header.channel}/{artifact_id.hex}/{header.file_name}"
            try:
                stored = await self.objects.put(
                    key,
                    chunks,
                    content_type=content_type,
                    max_bytes=self._rules.max_artifact_bytes,
                    expected_sha256=header.sha256,
                )
            except ObjectTooLarge:
                raise errors.too_large(self._rules.max_artifact_bytes) from None
            except ChecksumMismatch:
                raise errors.invalid(errors.CHECKSUM_MISMATCH) from None
            size, sha = stored.size, stored.sha256
        now = self._clock()
        try:
            async with self.store.transaction() as tx:
                release = await self._draft_for(tx, header, now)
                artifact = Artifact(
                    id=artifact_id,
                    release_id=release.id,
                    platform=header.platform,
                    language=header.language,
                    file_name=header.file_name or header.platform.value,
                    object_key=key,
                    size=size,
                    sha256=sha,
                    content_type=content_type,
                    store_url=header.store_url or None,
                    created_at=now,
                )
                await tx.insert_artifact(artifact)
        except BaseException:
            if key is not None:
                await self.objects.delete(key)
            raise
        return dataclasses.replace(release, artifacts=(*release.artifacts, artifact)), artifact

    async def _check_free(self, db: Transaction, header: UploadHeader) -> None:
        """Refuse before any byte moves when the upload cannot be recorded."""
        release = await db.find_release(header.application_id, header.channel, header.version)
        if release is not None:
            _refuse_taken(release, header)

    async def _locked(self, tx: Transaction, release_id: str) -> Release:
        release = await tx.release(parse_uuid(release_id, errors.RELEASE_NOT_FOUND), lock=True)
        if release is None:
            raise errors.not_found(errors.RELEASE_NOT_FOUND)
        return release

    async def _reread(self, release_id: uuid.UUID) -> Release:
        async with self.store.connection() as db:
            release = await db.release(release_id)
        assert release is not None
        return release

    async def publish(self, release_id: str, *, keep_latest: bool = False) -> Release:
        """Make a draft downloadable (and the latest of its channel unless ``keep_latest``);
        queues ``distribution.release.published``. Publishing again changes nothing."""
        now = self._clock()
        async with self.store.transaction() as tx:
            release = await self._locked(tx, release_id)
            if release.status is ReleaseStatus.WITHDRAWN:
                raise errors.precondition(errors.RELEASE_NOT_DRAFT)
            if release.status is ReleaseStatus.DRAFT:
                if not release.artifacts:
                    raise errors.precondition(errors.RELEASE_EMPTY)
                await tx.set_status(release.id, ReleaseStatus.PUBLISHED, now)
                if not keep_latest:
                    await tx.set_latest(release.application_id, release.channel, release.id)
                published = dataclasses.replace(
                    release, status=ReleaseStatus.PUBLISHED, published_at=now
                )
                await tx.publish(ReleasePublished(published, now))
        return await self._reread(release.id)

    async def mark_latest(self, release_id: str) -> Release:
        """Make a published release the one its channel offers (e.g. to roll back)."""
        async with self.store.transaction() as tx:
            release = await self._locked(tx, release_id)
            if release.status is not ReleaseStatus.PUBLISHED:
                raise errors.precondition(errors.RELEASE_NOT_PUBLISHED)
            await tx.set_latest(release.application_id, release.channel, release.id)
        return await self._reread(release.id)

    async def withdraw(self, release_id: str) -> Release:
        """Stop offering and serving a release; its channel falls back to the newest other
        published release. Withdrawing again changes nothing."""
        now = self._clock()
        async with self.store.transaction() as tx:
            release = await self._locked(tx, release_id)
            if release.status is not ReleaseStatus.WITHDRAWN:
                await tx.set_status(release.id, ReleaseStatus.WITHDRAWN, now)
                if release.latest:
                    previous = await tx.newest_published(
                        release.application_id, release.channel, release.id
                    )
                    if previous is None:
                        await tx.clear_latest(release.application_id, release.channel)
                    else:
                        await tx.set_latest(release.application_id, release.channel, previous.id)
        return await self._reread(release.id)

    async def list_releases(self, application_id: str) -> list[Release]:
        async with self.store.connection() as db:
            if await db.application(application_id) is None:
                raise errors.not_found(errors.APPLICATION_NOT_FOUND)
            return await db.releases_of(application_id)

    # events

    async def apply_entitlements(self, tx: Transaction, update: SnapshotUpdate) -> None:
        """Keep the account's snapshot (unless a newer one is there) and drop cached rights."""
        await tx.save_snapshot(update)
        self.subscriptions.forget(update.account_id)
