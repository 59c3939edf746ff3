"""``identity.domain.roles.RoleStore`` on PostgreSQL: one statement changes the roles, and the
event goes into the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from identity.domain.roles import RoleChange
from kabinet.events.outbox import publish_event
from kabinet.identity.v1 import events_pb2
from kabinet.protobuf import timestamp

ROLES_CHANGED = "identity.account.roles_changed"

# The row is locked by the UPDATE; ``before`` is read under the same lock.
_CHANGE = (
    "WITH target AS (SELECT id, roles FROM accounts"
    " WHERE ($1::uuid IS NOT NULL AND id = $1) OR ($2::text IS NOT NULL AND email_key = $2)"
    " FOR UPDATE)"
    " UPDATE accounts a SET roles = CASE WHEN $4"
    "   THEN (SELECT array_agg(DISTINCT r ORDER BY r) FROM unnest(t.roles || $3::text) r)"
    "   ELSE array_remove(t.roles, $3::text) END"
    " FROM target t WHERE a.id = t.id RETURNING a.id, a.roles, t.roles AS before"
)


class PostgresRoleStore:
    """Role changes on the identity pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def change_role(
        self,
        *,
        account_id: uuid.UUID | None,
        email_key: str | None,
        role: str,
        grant: bool,
        now: datetime,
    ) -> RoleChange | None:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_CHANGE, account_id, email_key, role, grant)
            if row is None:
                return None
            roles = tuple(row["roles"])
            changed = sorted(roles) != sorted(row["before"])
            if changed:
                await publish_event(
                    conn,
                    ROLES_CHANGED,
                    events_pb2.AccountRolesChanged(
                        account_id=str(row["id"]),
                        roles=list(roles),
                        occurred_at=timestamp(now),
                    ),
                )
            return RoleChange(row["id"], roles, changed)
