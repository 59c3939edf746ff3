"""The distribution ports on PostgreSQL (asyncpg): one clear statement per method.

The pool's ``search_path`` is the ``distribution`` schema, so no statement names it. Events and
mail go into the same transaction through ``kabinet.events.outbox`` and ``kabinet.mail``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg

from distribution.domain.events import Event
from distribution.domain.model import (
    Application,
    Artifact,
    Channel,
    DownloadRecord,
    Entitlement,
    Platform,
    Release,
    ReleaseStatus,
    Rights,
    SnapshotUpdate,
    Tier,
)
from distribution.events.outgoing import to_message
from kabinet.db import UnitsOfWork
from kabinet.events.outbox import publish_event
from kabinet.mail import enqueue_mail
from kabinet.mail.templates import TemplateSet

_RELEASE_COLUMNS = (
    "r.id, r.application_id, r.version, r.channel, r.status, r.created_at, r.published_at,"
    " r.withdrawn_at, (l.release_id IS NOT NULL) AS latest"
)
_RELEASE_FROM = (
    " FROM releases r LEFT JOIN latest_releases l"
    " ON l.application_id = r.application_id AND l.channel = r.channel AND l.release_id = r.id"
)
_ARTIFACT_COLUMNS = (
    "id, release_id, platform, language, file_name, object_key, size, sha256, content_type,"
    " store_url, created_at"
)


_PUBLISHED_ARTIFACT = (
    "SELECT a.id, a.release_id, a.platform, a.language, a.file_name, a.object_key, a.size,"
    " a.sha256, a.content_type, a.store_url, a.created_at, p.id AS app_id, p.name AS app_name,"
    " p.name_ru AS app_name_ru, p.feature AS app_feature, p.min_tier AS app_min_tier,"
    " p.position AS app_position"
    " FROM artifacts a JOIN releases r ON r.id = a.release_id"
    " JOIN applications p ON p.id = r.application_id"
    " WHERE a.id = $1 AND r.status = 'published'"
)


def _application(row: asyncpg.Record) -> Application:
    return Application(
        id=row["id"],
        name=row["name"],
        name_ru=row["name_ru"],
        feature=row["feature"],
        min_tier=Tier.from_key(row["min_tier"]),
        position=row["position"],
    )


def _artifact(row: asyncpg.Record) -> Artifact:
    return Artifact(
        id=row["id"],
        release_id=row["release_id"],
        platform=Platform(row["platform"]),
        language=row["language"],
        file_name=row["file_name"],
        object_key=row["object_key"],
        size=row["size"],
        sha256=row["sha256"],
        content_type=row["content_type"],
        store_url=row["store_url"],
        created_at=row["created_at"],
    )


def _release(row: asyncpg.Record, artifacts: Sequence[Artifact] = ()) -> Release:
    return Release(
        id=row["id"],
        application_id=row["application_id"],
        version=row["version"],
        channel=Channel(row["channel"]),
        status=ReleaseStatus(row["status"]),
        created_at=row["created_at"],
        published_at=row["published_at"],
        withdrawn_at=row["withdrawn_at"],
        latest=row["latest"],
        artifacts=tuple(artifacts),
    )


class PostgresStore(UnitsOfWork["PostgresTransaction"]):
    """Units of work on a pool whose connections work in the distribution schema."""

    def __init__(self, pool: asyncpg.Pool, templates: TemplateSet) -> None:
        super().__init__(pool, lambda conn: PostgresTransaction(conn, templates))


class PostgresTransaction:
    """Every port on one connection."""

    def __init__(self, conn: asyncpg.Connection, templates: TemplateSet) -> None:
        self.conn = conn
        self._templates = templates

    # catalog

    async def save_applications(self, applications: Sequence[Application]) -> None:
        await self.conn.executemany(
            "INSERT INTO applications (id, name, name_ru, feature, min_tier, position)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET"
            " name = EXCLUDED.name, name_ru = EXCLUDED.name_ru, feature = EXCLUDED.feature,"
            " min_tier = EXCLUDED.min_tier, position = EXCLUDED.position",
            [
                (a.id, a.name, a.name_ru, a.feature, a.min_tier.key, a.position)
                for a in applications
            ],
        )

    async def applications(self) -> list[Application]:
        rows = await self.conn.fetch("SELECT * FROM applications ORDER BY position, id")
        return [_application(r) for r in rows]

    async def application(self, application_id: str) -> Application | None:
        row = await self.conn.fetchrow("SELECT * FROM applications WHERE id = $1", application_id)
        return _application(row) if row else None

    async def _with_artifacts(self, rows: Sequence[asyncpg.Record]) -> list[Release]:
        if not rows:
            return []
        artifacts = await self.conn.fetch(
            f"SELECT {_ARTIFACT_COLUMNS} FROM artifacts WHERE release_id = ANY($1::uuid[])"  # noqa: S608 - constant columns
            " ORDER BY platform, language",
            [r["id"] for r in rows],
        )
        by_release: dict[uuid.UUID, list[Artifact]] = {}
        for a in artifacts:
            by_release.setdefault(a["release_id"], []).append(_artifact(a))
        return [_release(r, by_release.get(r["id"], ())) for r in rows]

    async def latest_releases(self) -> list[Release]:
        rows = await self.conn.fetch(
            f"SELECT {_RELEASE_COLUMNS} FROM latest_releases l JOIN releases r ON r.id ="  # noqa: S608 - constant columns
            " l.release_id WHERE r.status = 'published'"
        )
        return await self._with_artifacts(rows)

    async def releases_of(self, application_id: str) -> list[Release]:
        rows = await self.conn.fetch(
            f"SELECT {_RELEASE_COLUMNS}{_RELEASE_FROM} WHERE r.application_id = $1"
            " ORDER BY r.created_at DESC, r.id",
            application_id,
        )
        return await self._with_artifacts(rows)

    async def release(self, release_id: uuid.UUID, *, lock: bool = False) -> Release | None:
        query = f"SELECT {_RELEASE_COLUMNS}{_RELEASE_FROM} WHERE r.id = $1"
        rows = await self.conn.fetch(query + (" FOR UPDATE OF r" if lock else ""), release_id)
        found = await self._with_artifacts(rows)
        return found[0] if found else None

    async def find_release(
        self, application_id: str, channel: Channel, version: str
    ) -> Release | None:
        rows = await self.conn.fetch(
            f"SELECT {_RELEASE_COLUMNS}{_RELEASE_FROM} WHERE r.application_id = $1"
            " AND r.channel = $2 AND r.version = $3 FOR UPDATE OF r",
            application_id,
            channel.value,
            version,
        )
        found = await self._with_artifacts(rows)
        return found[0] if found else None

    async def insert_release(self, release: Release) -> None:
        await self.conn.execute(
            "INSERT INTO releases (id, application_id, version, channel, status, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            release.id,
            release.application_id,
            release.version,
            release.channel.value,
            release.status.value,
            release.created_at,
        )

    async def insert_artifact(self, artifact: Artifact) -> None:
        a = artifact
        try:
            await self.conn.execute(
                f"INSERT INTO artifacts ({_ARTIFACT_COLUMNS})"  # noqa: S608 - constant columns
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                a.id,
                a.release_id,
                a.platform.value,
                a.language,
                a.file_name,
                a.object_key,
                a.size,
                a.sha256,
                a.content_type,
                a.store_url,
                a.created_at,
            )
        except asyncpg.UniqueViolationError:
            from distribution.domain.errors import artifact_exists

            raise artifact_exists() from None

    async def published_artifact(
        self, artifact_id: uuid.UUID
    ) -> tuple[Artifact, Application] | None:
        row = await self.conn.fetchrow(_PUBLISHED_ARTIFACT, artifact_id)
        if row is None:
            return None
        app = Application(
            id=row["app_id"],
            name=row["app_name"],
            name_ru=row["app_name_ru"],
            feature=row["app_feature"],
            min_tier=Tier.from_key(row["app_min_tier"]),
            position=row["app_position"],
        )
        return _artifact(row), app

    async def set_status(self, release_id: uuid.UUID, status: ReleaseStatus, at: datetime) -> None:
        column = "published_at" if status is ReleaseStatus.PUBLISHED else "withdrawn_at"
        await self.conn.execute(
            f"UPDATE releases SET status = $2, {column} = $3 WHERE id = $1",  # noqa: S608 - one of two names
            release_id,
            status.value,
            at,
        )

    async def set_latest(
        self, application_id: str, channel: Channel, release_id: uuid.UUID
    ) -> None:
        await self.conn.execute(
            "INSERT INTO latest_releases (application_id, channel, release_id) VALUES ($1, $2, $3)"
            " ON CONFLICT (application_id, channel) DO UPDATE SET release_id = EXCLUDED.release_id",
            application_id,
            channel.value,
            release_id,
        )

    async def newest_published(
        self, application_id: str, channel: Channel, excluding: uuid.UUID
    ) -> Release | None:
        rows = await self.conn.fetch(
            f"SELECT {_RELEASE_COLUMNS}{_RELEASE_FROM} WHERE r.application_id = $1"
            " AND r.channel = $2 AND r.status = 'published' AND r.id <> $3"
            " ORDER BY r.published_at DESC LIMIT 1",
            application_id,
            channel.value,
            excluding,
        )
        found = await self._with_artifacts(rows)
        return found[0] if found else None

    async def clear_latest(self, application_id: str, channel: Channel) -> None:
        await self.conn.execute(
            "DELETE FROM latest_releases WHERE application_id = $1 AND channel = $2",
            application_id,
            channel.value,
        )

    # records

    async def insert_download(self, record: DownloadRecord) -> None:
        await self.conn.execute(
            "INSERT INTO downloads (id, account_id, artifact_id, range_start, started_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            record.id,
            record.account_id,
            record.artifact_id,
            record.range_start,
            record.started_at,
        )

    async def device_mails_since(self, account_id: uuid.UUID, since: datetime) -> list[datetime]:
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('distribution:send:' || $1, 0))",
            str(account_id),
        )
        rows = await self.conn.fetch(
            "SELECT sent_at FROM device_mails WHERE account_id = $1 AND sent_at > $2"
            " ORDER BY sent_at",
            account_id,
            since,
        )
        return [r["sent_at"] for r in rows]

    async def record_device_mail(self, account_id: uuid.UUID, at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO device_mails (account_id, sent_at) VALUES ($1, $2)", account_id, at
        )

    async def save_snapshot(self, update: SnapshotUpdate) -> bool:
        payload = json.dumps(
            [
                {"feature": e.feature, "tier": e.tier.key, "valid_until": e.valid_until.isoformat()}
                for e in update.rights.entitlements
            ]
        )
        saved = await self.conn.fetchval(
            "INSERT INTO entitlement_snapshots (account_id, as_of, entitlements)"
            " VALUES ($1, $2, $3::jsonb) ON CONFLICT (account_id) DO UPDATE SET"
            " as_of = EXCLUDED.as_of, entitlements = EXCLUDED.entitlements"
            " WHERE entitlement_snapshots.as_of <= EXCLUDED.as_of RETURNING true",
            update.account_id,
            update.as_of,
            payload,
        )
        return bool(saved)

    async def snapshot(self, account_id: uuid.UUID) -> Rights | None:
        raw = await self.conn.fetchval(
            "SELECT entitlements FROM entitlement_snapshots WHERE account_id = $1", account_id
        )
        if raw is None:
            return None
        return Rights(
            tuple(
                Entitlement(
                    feature=e["feature"],
                    tier=Tier.from_key(e["tier"]),
                    valid_until=datetime.fromisoformat(e["valid_until"]),
                )
                for e in json.loads(raw)
            )
        )

    # outbox

    async def publish(self, event: Event) -> None:
        subject, message = to_message(event)
        await publish_event(self.conn, subject, message)

    async def queue_mail(
        self, to: str, template: str, language: str, values: Mapping[str, str]
    ) -> None:
        await enqueue_mail(
            self.conn, self._templates, to=to, template=template, language=language, values=values
        )
