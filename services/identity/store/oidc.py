"""The OpenID provider's and the device registry's ports on PostgreSQL, on identity's pool.

A transaction here is an identity transaction (``PostgresTransaction``: sessions, accounts, the
outbox) with the provider's tables added, so a grant opens its session and records its code or
device in one commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import cast

import asyncpg

from identity.domain.devices import Device, DeviceGrant, DeviceGrantStatus
from identity.domain.oidc import AuthorizationCode, OAuthClient
from identity.store.postgres import PostgresTransaction, _advisory_key
from kabinet.db import UnitsOfWork
from kabinet.mail.templates import TemplateSet

CLIENTS_LOCK = _advisory_key("identity:oauth_clients")

_CLIENT_COLUMNS = (
    "client_id, name, secret_hash, redirect_uris, grant_types, scopes, first_party,"
    " post_logout_redirect_uris, disabled"
)
_CODE_COLUMNS = (
    "code_hash, client_id, account_id, redirect_uri, scopes, nonce, code_challenge, auth_time,"
    " created_at, expires_at, used_at, session_id"
)
_GRANT_COLUMNS = (
    "device_code_hash, user_code_hash, client_id, scopes, device_name, platform, app_version,"
    " created_at, expires_at, interval_seconds, last_polled_at, status, account_id, session_id"
)
_DEVICE_COLUMNS = (
    "d.id, d.account_id, d.session_id, d.client_id, c.name AS app_name, d.name, d.platform,"
    " d.app_version, d.connected_at, d.last_seen_at"
)

# Statements built once from the column lists above (constants, no input).
_CLIENT_BY_ID = f"SELECT {_CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1"  # noqa: S608
_INSERT_CLIENT = (
    f"INSERT INTO oauth_clients ({_CLIENT_COLUMNS}, created_at, updated_at)"  # noqa: S608
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
)
_LIST_CLIENTS = f"SELECT {_CLIENT_COLUMNS} FROM oauth_clients ORDER BY client_id"  # noqa: S608
_INSERT_CODE = (
    f"INSERT INTO oauth_codes ({_CODE_COLUMNS})"  # noqa: S608
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL)"
)
_SPEND_CODE = (
    "UPDATE oauth_codes SET used_at = $2"  # noqa: S608
    f" WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING {_CODE_COLUMNS}"
)
_FIND_CODE = f"SELECT {_CODE_COLUMNS} FROM oauth_codes WHERE code_hash = $1"  # noqa: S608
_INSERT_GRANT = (
    f"INSERT INTO device_grants ({_GRANT_COLUMNS})"  # noqa: S608
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, NULL, NULL)"
    " ON CONFLICT DO NOTHING RETURNING device_code_hash"
)
_GRANT_BY_DEVICE_CODE = f"SELECT {_GRANT_COLUMNS} FROM device_grants WHERE device_code_hash = $1"  # noqa: S608
_GRANT_BY_USER_CODE = (
    f"SELECT {_GRANT_COLUMNS} FROM device_grants"  # noqa: S608
    " WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2"
)
_CONNECTED_DEVICES = (
    f"SELECT {_DEVICE_COLUMNS}, s.last_seen_at AS session_seen"  # noqa: S608
    " FROM devices d JOIN sessions s ON s.id = d.session_id"
    " LEFT JOIN oauth_clients c ON c.client_id = d.client_id"
    " WHERE d.account_id = $1 AND d.disconnected_at IS NULL"
    " AND s.revoked_at IS NULL AND s.expires_at > $2"
    " ORDER BY d.connected_at DESC"
)


def _client(row: asyncpg.Record) -> OAuthClient:
    return OAuthClient(
        client_id=row["client_id"],
        name=row["name"],
        secret_hash=row["secret_hash"],
        redirect_uris=tuple(row["redirect_uris"]),
        grant_types=tuple(row["grant_types"]),
        scopes=tuple(row["scopes"]),
        first_party=row["first_party"],
        post_logout_redirect_uris=tuple(row["post_logout_redirect_uris"]),
        disabled=row["disabled"],
    )


def _code(row: asyncpg.Record | None) -> AuthorizationCode | None:
    if row is None:
        return None
    return AuthorizationCode(
        code_hash=row["code_hash"],
        client_id=row["client_id"],
        account_id=row["account_id"],
        redirect_uri=row["redirect_uri"],
        scopes=tuple(row["scopes"]),
        nonce=row["nonce"],
        code_challenge=row["code_challenge"],
        auth_time=row["auth_time"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
        session_id=row["session_id"],
    )


def _grant(row: asyncpg.Record | None) -> DeviceGrant | None:
    if row is None:
        return None
    return DeviceGrant(
        device_code_hash=row["device_code_hash"],
        user_code_hash=row["user_code_hash"],
        client_id=row["client_id"],
        scopes=tuple(row["scopes"]),
        device_name=row["device_name"],
        platform=row["platform"],
        app_version=row["app_version"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        interval=row["interval_seconds"],
        last_polled_at=row["last_polled_at"],
        status=DeviceGrantStatus(row["status"]),
        account_id=row["account_id"],
        session_id=row["session_id"],
    )


def _device(row: asyncpg.Record) -> Device:
    return Device(
        id=row["id"],
        account_id=row["account_id"],
        session_id=row["session_id"],
        client_id=row["client_id"],
        app_name=row["app_name"] or row["client_id"],
        name=row["name"],
        platform=row["platform"],
        app_version=row["app_version"],
        connected_at=row["connected_at"],
        last_seen_at=row["last_seen_at"],
    )


class OidcPostgresTransaction(PostgresTransaction):
    """Identity's transaction with the client registry, codes, consents and devices."""

    def __init__(self, conn: asyncpg.Connection, templates: TemplateSet) -> None:
        super().__init__(conn, templates)
        self._db = conn

    # clients

    async def client_by_id(self, client_id: str) -> OAuthClient | None:
        row = await self._db.fetchrow(_CLIENT_BY_ID, client_id)
        return None if row is None else _client(row)

    async def insert_client(self, client: OAuthClient, now: datetime) -> bool:
        inserted = await self._db.fetchval(
            _INSERT_CLIENT + " ON CONFLICT (client_id) DO NOTHING RETURNING client_id",
            *self._client_values(client),
            now,
        )
        return inserted is not None

    async def upsert_client(self, client: OAuthClient, now: datetime, *, keep_secret: bool) -> None:
        await self._db.execute(
            _INSERT_CLIENT + " ON CONFLICT (client_id) DO UPDATE SET name = $2,"
            " secret_hash = CASE WHEN $11 THEN oauth_clients.secret_hash ELSE $3 END,"
            " redirect_uris = $4, grant_types = $5, scopes = $6, first_party = $7,"
            " post_logout_redirect_uris = $8, disabled = $9, updated_at = $10",
            *self._client_values(client),
            now,
            keep_secret,
        )

    @staticmethod
    def _client_values(client: OAuthClient) -> tuple[object, ...]:
        return (
            client.client_id,
            client.name,
            client.secret_hash,
            list(client.redirect_uris),
            list(client.grant_types),
            list(client.scopes),
            client.first_party,
            list(client.post_logout_redirect_uris),
            client.disabled,
        )

    async def list_clients(self) -> list[OAuthClient]:
        rows = await self._db.fetch(_LIST_CLIENTS)
        return [_client(row) for row in rows]

    async def disable_client(self, client_id: str, now: datetime) -> bool:
        found = await self._db.fetchval(
            "UPDATE oauth_clients SET disabled = true, updated_at = $2 WHERE client_id = $1"
            " RETURNING client_id",
            client_id,
            now,
        )
        return found is not None

    async def lock_clients(self) -> None:
        await self._db.execute("SELECT pg_advisory_xact_lock($1)", CLIENTS_LOCK)

    async def delete_grants_expired_before(self, moment: datetime) -> int:
        """Forget authorization codes and device grants that expired before ``moment``."""
        codes = await self._db.execute("DELETE FROM oauth_codes WHERE expires_at < $1", moment)
        grants = await self._db.execute("DELETE FROM device_grants WHERE expires_at < $1", moment)
        return int(codes.rsplit(" ", 1)[-1]) + int(grants.rsplit(" ", 1)[-1])

    # consents and codes

    async def consented_scopes(self, account_id: uuid.UUID, client_id: str) -> tuple[str, ...]:
        scopes = await self._db.fetchval(
            "SELECT scopes FROM oauth_consents WHERE account_id = $1 AND client_id = $2",
            account_id,
            client_id,
        )
        return tuple(scopes or ())

    async def add_consent(
        self, account_id: uuid.UUID, client_id: str, scopes: Sequence[str], now: datetime
    ) -> None:
        await self._db.execute(
            "INSERT INTO oauth_consents (account_id, client_id, scopes, granted_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, client_id)"
            " DO UPDATE SET scopes = $3, granted_at = $4",
            account_id,
            client_id,
            list(scopes),
            now,
        )

    async def insert_code(self, code: AuthorizationCode) -> None:
        await self._db.execute(
            _INSERT_CODE,
            code.code_hash,
            code.client_id,
            code.account_id,
            code.redirect_uri,
            list(code.scopes),
            code.nonce,
            code.code_challenge,
            code.auth_time,
            code.created_at,
            code.expires_at,
        )

    async def spend_code(self, code_hash: bytes, now: datetime) -> AuthorizationCode | None:
        row = await self._db.fetchrow(
            _SPEND_CODE,
            code_hash,
            now,
        )
        return _code(row)

    async def find_code(self, code_hash: bytes) -> AuthorizationCode | None:
        row = await self._db.fetchrow(_FIND_CODE, code_hash)
        return _code(row)

    async def set_code_session(self, code_hash: bytes, session_id: uuid.UUID) -> None:
        await self._db.execute(
            "UPDATE oauth_codes SET session_id = $2 WHERE code_hash = $1", code_hash, session_id
        )

    # device grants

    async def insert_device_grant(self, grant: DeviceGrant) -> bool:
        inserted = await self._db.fetchval(
            _INSERT_GRANT,
            grant.device_code_hash,
            grant.user_code_hash,
            grant.client_id,
            list(grant.scopes),
            grant.device_name,
            grant.platform,
            grant.app_version,
            grant.created_at,
            grant.expires_at,
            grant.interval,
            grant.status.value,
        )
        return inserted is not None

    async def grant_by_device_code(
        self, device_code_hash: bytes, *, for_update: bool = False
    ) -> DeviceGrant | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._db.fetchrow(
            _GRANT_BY_DEVICE_CODE + lock,
            device_code_hash,
        )
        return _grant(row)

    async def grant_by_user_code(
        self, user_code_hash: bytes, now: datetime, *, for_update: bool = False
    ) -> DeviceGrant | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._db.fetchrow(
            _GRANT_BY_USER_CODE + lock,
            user_code_hash,
            now,
        )
        return _grant(row)

    async def update_device_grant(
        self,
        device_code_hash: bytes,
        *,
        status: DeviceGrantStatus,
        last_polled_at: datetime | None,
        interval: int,
        account_id: uuid.UUID | None,
        session_id: uuid.UUID | None,
    ) -> None:
        await self._db.execute(
            "UPDATE device_grants SET status = $2, last_polled_at = $3, interval_seconds = $4,"
            " account_id = $5, session_id = $6 WHERE device_code_hash = $1",
            device_code_hash,
            status.value,
            last_polled_at,
            interval,
            account_id,
            session_id,
        )

    async def count_user_code_failure(
        self, account_id: uuid.UUID, now: datetime, window_start: datetime
    ) -> int:
        failures = await self._db.fetchval(
            "INSERT INTO user_code_failures (account_id, failures, window_started_at)"
            " VALUES ($1, 1, $2) ON CONFLICT (account_id) DO UPDATE SET"
            " failures = CASE WHEN user_code_failures.window_started_at < $3 THEN 1"
            " ELSE user_code_failures.failures + 1 END,"
            " window_started_at = CASE WHEN user_code_failures.window_started_at < $3 THEN $2"
            " ELSE user_code_failures.window_started_at END"
            " RETURNING failures",
            account_id,
            now,
            window_start,
        )
        return int(failures)

    async def user_code_failures(self, account_id: uuid.UUID, window_start: datetime) -> int:
        failures = await self._db.fetchval(
            "SELECT failures FROM user_code_failures"
            " WHERE account_id = $1 AND window_started_at >= $2",
            account_id,
            window_start,
        )
        return int(failures or 0)

    # devices

    async def insert_device(self, device: Device) -> None:
        await self._db.execute(
            "INSERT INTO devices (id, account_id, session_id, client_id, name, platform,"
            " app_version, connected_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            device.id,
            device.account_id,
            device.session_id,
            device.client_id,
            device.name,
            device.platform,
            device.app_version,
            device.connected_at,
        )

    async def connected_devices(self, account_id: uuid.UUID, now: datetime) -> list[Device]:
        rows = await self._db.fetch(
            _CONNECTED_DEVICES,
            account_id,
            now,
        )
        # A device is last seen when its session last refreshed.
        return [
            replace(_device(row), last_seen_at=max(row["last_seen_at"], row["session_seen"]))
            for row in rows
        ]

    async def disconnect_device(
        self, account_id: uuid.UUID, device_id: uuid.UUID, now: datetime
    ) -> uuid.UUID | None:
        session_id = await self._db.fetchval(
            "UPDATE devices SET disconnected_at = $3"
            " WHERE id = $1 AND account_id = $2 AND disconnected_at IS NULL"
            " RETURNING session_id",
            device_id,
            account_id,
            now,
        )
        return cast(uuid.UUID | None, session_id)


class OidcPostgresStore(UnitsOfWork[OidcPostgresTransaction]):
    """Units of work with ``OidcPostgresTransaction`` on identity's pool."""

    def __init__(self, pool: asyncpg.Pool, templates: TemplateSet) -> None:
        super().__init__(pool, lambda conn: OidcPostgresTransaction(conn, templates))
