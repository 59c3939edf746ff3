"""The federation ports on PostgreSQL: social flows and linked identities, on identity's pool and
in the same transactions as accounts, sessions and the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from identity.domain.federation import Flow, LinkedIdentity, Purpose
from identity.store.postgres import PostgresTransaction, _deleted
from kabinet.db import UnitsOfWork
from kabinet.mail.templates import TemplateSet


def _identity(row: asyncpg.Record) -> LinkedIdentity:
    return LinkedIdentity(
        provider=row["provider"],
        subject=row["subject"],
        account_id=row["account_id"],
        email=row["email"],
        linked_at=row["linked_at"],
        last_used_at=row["last_used_at"],
    )


class FederationTransaction(PostgresTransaction):
    """Identity's statements plus social flows and identities."""

    async def insert_social_flow(self, flow: Flow) -> None:
        await self._conn.execute(
            "INSERT INTO social_flows (state_hash, binding_hash, provider, purpose, account_id,"
            " return_to, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            flow.state_hash,
            flow.binding_hash,
            flow.provider,
            flow.purpose.value,
            flow.account_id,
            flow.return_to,
            flow.created_at,
            flow.expires_at,
        )

    async def spend_social_flow(
        self, state_hash: bytes, binding_hash: bytes, provider: str, now: datetime
    ) -> Flow | None:
        row = await self._conn.fetchrow(
            "UPDATE social_flows SET used_at = $4"
            " WHERE state_hash = $1 AND binding_hash = $2 AND provider = $3"
            " AND used_at IS NULL AND expires_at > $4"
            " RETURNING state_hash, binding_hash, provider, purpose, account_id, return_to,"
            " created_at, expires_at",
            state_hash,
            binding_hash,
            provider,
            now,
        )
        if row is None:
            return None
        return Flow(
            state_hash=row["state_hash"],
            binding_hash=row["binding_hash"],
            provider=row["provider"],
            purpose=Purpose(row["purpose"]),
            account_id=row["account_id"],
            return_to=row["return_to"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    async def identity_by_subject(self, provider: str, subject: str) -> LinkedIdentity | None:
        row = await self._conn.fetchrow(
            "SELECT provider, subject, account_id, email, linked_at, last_used_at"
            " FROM social_identities WHERE provider = $1 AND subject = $2",
            provider,
            subject,
        )
        return _identity(row) if row is not None else None

    async def identities_of(self, account_id: uuid.UUID) -> list[LinkedIdentity]:
        rows = await self._conn.fetch(
            "SELECT provider, subject, account_id, email, linked_at, last_used_at"
            " FROM social_identities WHERE account_id = $1 ORDER BY linked_at",
            account_id,
        )
        return [_identity(r) for r in rows]

    async def insert_identity(self, identity: LinkedIdentity) -> bool:
        inserted = await self._conn.fetchval(
            "INSERT INTO social_identities"
            " (provider, subject, account_id, email, linked_at, last_used_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING provider",
            identity.provider,
            identity.subject,
            identity.account_id,
            identity.email,
            identity.linked_at,
            identity.last_used_at,
        )
        return inserted is not None

    async def touch_identity(self, provider: str, subject: str, now: datetime) -> None:
        await self._conn.execute(
            "UPDATE social_identities SET last_used_at = $3 WHERE provider = $1 AND subject = $2",
            provider,
            subject,
            now,
        )

    async def delete_identity(self, account_id: uuid.UUID, provider: str) -> bool:
        status = await self._conn.execute(
            "DELETE FROM social_identities WHERE account_id = $1 AND provider = $2",
            account_id,
            provider,
        )
        return _deleted(status) > 0

    async def delete_social_flows_expired_before(self, moment: datetime) -> int:
        status = await self._conn.execute("DELETE FROM social_flows WHERE expires_at < $1", moment)
        return _deleted(status)


class FederationStore(UnitsOfWork[FederationTransaction]):
    """Units of work whose transactions also reach the federation tables."""

    def __init__(self, pool: asyncpg.Pool, templates: TemplateSet) -> None:
        super().__init__(pool, lambda conn: FederationTransaction(conn, templates))
