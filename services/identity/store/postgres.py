"""The identity ports on PostgreSQL (asyncpg): one clear statement per method.

The pool's ``search_path`` is the ``identity`` schema, so no statement names it. Spans come from
the asyncpg instrumentation (one per statement, under the gRPC call's span). Events and mail go
into the same transaction through ``kabinet.events.outbox`` and ``kabinet.mail.outbox``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import asyncpg

from identity.domain.events import Event, RevocationReason
from identity.domain.model import (
    Account,
    AccountStatus,
    AccountThrottle,
    ClientKind,
    ClientThrottle,
    Link,
    LinkPurpose,
    Mail,
    Notice,
    RefreshUse,
    Session,
    SignInState,
    SpentLink,
)
from identity.events.outgoing import to_message
from kabinet.auth.keys import SigningKey, from_record, to_record
from kabinet.batching import QueryBatcher
from kabinet.db import UnitsOfWork
from kabinet.events.outbox import publish_event
from kabinet.mail.outbox import enqueue_mail
from kabinet.mail.templates import TemplateSet


def _advisory_key(name: str) -> int:
    """A signed 64-bit advisory lock key derived from a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


SIGNING_KEYS_LOCK = _advisory_key("identity:signing_keys")

_ACCOUNT_BY_ID = (
    "SELECT id, email, email_key, status, password_hash, name, language, country, roles,"
    " created_at FROM accounts WHERE id = $1"
)
_ACCOUNT_BY_ID_FOR_UPDATE = (
    "SELECT id, email, email_key, status, password_hash, name, language, country, roles, created_at"
    " FROM accounts WHERE id = $1 FOR UPDATE"
)


def _account(row: asyncpg.Record | None) -> Account | None:
    if row is None:
        return None
    return Account(
        id=row["id"],
        email=row["email"],
        email_key=row["email_key"],
        status=AccountStatus(row["status"]),
        password_hash=row["password_hash"],
        name=row["name"],
        language=row["language"],
        country=row["country"],
        roles=tuple(row["roles"]),
        created_at=row["created_at"],
    )


def _account_throttle(row: asyncpg.Record) -> AccountThrottle | None:
    """The account's throttling columns of a joined row (``account_failures``...), if any."""
    if row["account_failures"] is None:
        return None
    return AccountThrottle(row["account_failures"], row["account_window"], row["locked_until"])


def _session(row: asyncpg.Record) -> Session:
    return Session(
        id=row["id"],
        account_id=row["account_id"],
        kind=ClientKind(row["kind"]),
        ip=row["ip"],
        user_agent=row["user_agent"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        client_id=row["client_id"],
        scopes=tuple(row["scopes"]),
    )


def _deleted(status: str) -> int:
    """The row count of a ``DELETE n`` command status."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(UnitsOfWork["PostgresTransaction"]):
    """Units of work on a pool whose connections work in the identity schema."""

    def __init__(self, pool: asyncpg.Pool, templates: TemplateSet) -> None:
        super().__init__(pool, lambda conn: PostgresTransaction(conn, templates))
        self._liveness = SessionLiveness(pool)

    async def is_session_live(
        self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime
    ) -> bool:
        """Whether the session is live (checks made at the same moment share one query)."""
        return await self._liveness.is_live(session_id, account_id, now)

    async def close(self) -> None:
        """Return the connections the store keeps (call before the pool closes)."""
        await self._liveness.close()


# Under load, session checks share queries that start at most this often, in seconds.
MIN_CHECK_INTERVAL = 0.001

# (session id, account id, the moment of the check)
LivenessQuestion = tuple[uuid.UUID, uuid.UUID, datetime]


async def _live_sessions(
    conn: asyncpg.Connection, questions: Sequence[LivenessQuestion]
) -> list[bool]:
    """Answers every question with one query: live, of that account, and not yet expired."""
    rows = await conn.fetch(
        "SELECT id, account_id, expires_at FROM sessions"
        " WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL",
        list({session_id for session_id, _, _ in questions}),
    )
    live = {row["id"]: (row["account_id"], row["expires_at"]) for row in rows}
    answers = []
    for session_id, account_id, now in questions:
        found = live.get(session_id)
        answers.append(found is not None and found[0] == account_id and now < found[1])
    return answers


class SessionLiveness:
    """Answers "is this session live?" for every concurrent token check with one query.

    ``ValidateToken`` is the hottest call of the cluster and each asks PostgreSQL about one
    session; ``kabinet.batching.QueryBatcher`` shares the round trips. A round trip costs the
    process far more CPU than the checks it answers (one query per check at 3,000 checks a
    second took 30% more of the core), and the session stays exact: every check is answered by
    a query that started after the check arrived, so a session revoked (and committed) before a
    check began is never seen as live.
    """

    def __init__(
        self, pool: asyncpg.Pool, max_batch: int = 500, min_interval: float = MIN_CHECK_INTERVAL
    ) -> None:
        self._batcher: QueryBatcher[LivenessQuestion, bool] = QueryBatcher(
            pool, _live_sessions, max_batch=max_batch, min_interval=min_interval
        )

    @property
    def queries(self) -> int:
        """How many queries answered the checks so far."""
        return self._batcher.queries

    async def is_live(self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime) -> bool:
        return await self._batcher.ask((session_id, account_id, now))

    async def close(self) -> None:
        """Give the connection back to the pool (before the pool closes)."""
        await self._batcher.close()


class PostgresTransaction:
    """Every port method on one connection (inside a transaction, unless it only reads)."""

    def __init__(self, conn: asyncpg.Connection, templates: TemplateSet) -> None:
        self._conn = conn
        self._templates = templates

    # accounts

    async def account_by_email(self, email_key: str) -> Account | None:
        return _account(
            await self._conn.fetchrow(
                "SELECT id, email, email_key, status, password_hash, name, language, country,"
                " roles, created_at"
                " FROM accounts WHERE email_key = $1",
                email_key,
            )
        )

    async def account_by_id(
        self, account_id: uuid.UUID, *, for_update: bool = False
    ) -> Account | None:
        query = _ACCOUNT_BY_ID_FOR_UPDATE if for_update else _ACCOUNT_BY_ID
        return _account(await self._conn.fetchrow(query, account_id))

    async def insert_account(self, account: Account) -> bool:
        # ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to commit, then
        # inserts nothing: the losing registration sees no error, just "taken".
        inserted = await self._conn.fetchval(
            "INSERT INTO accounts (id, email, email_key, status, password_hash, name, language,"
            " country, roles, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (email_key) DO NOTHING RETURNING id",
            account.id,
            account.email,
            account.email_key,
            account.status.value,
            account.password_hash,
            account.name,
            account.language,
            account.country,
            list(account.roles),
            account.created_at,
        )
        return inserted is not None

    async def activate_account(self, account_id: uuid.UUID, now: datetime) -> bool:
        activated = await self._conn.fetchval(
            "UPDATE accounts SET status = 'active', activated_at = $2"
            " WHERE id = $1 AND status = 'pending_activation' RETURNING id",
            account_id,
            now,
        )
        return activated is not None

    async def set_password_hash(
        self, account_id: uuid.UUID, password_hash: str, now: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE accounts SET password_hash = $2, password_changed_at = $3 WHERE id = $1",
            account_id,
            password_hash,
            now,
        )

    async def change_email(self, account_id: uuid.UUID, email: str, email_key: str) -> bool:
        try:
            # A savepoint, so that a taken address leaves the outer transaction usable.
            async with self._conn.transaction():
                status = await self._conn.execute(
                    "UPDATE accounts SET email = $2, email_key = $3 WHERE id = $1",
                    account_id,
                    email,
                    email_key,
                )
        except asyncpg.UniqueViolationError:
            return False
        return status == "UPDATE 1"

    async def update_profile(
        self,
        account_id: uuid.UUID,
        *,
        name: str | None,
        language: str | None,
        country: str | None,
    ) -> Account | None:
        return _account(
            await self._conn.fetchrow(
                "UPDATE accounts SET name = coalesce($2, name),"
                " language = coalesce($3, language), country = coalesce($4, country)"
                " WHERE id = $1 RETURNING id, email, email_key, status, password_hash, name,"
                " language, country, roles, created_at",
                account_id,
                name,
                language,
                country,
            )
        )

    async def delete_account(self, account_id: uuid.UUID) -> None:
        # Links, notices, sessions, refresh tokens and throttling rows go with it (CASCADE).
        await self._conn.execute("DELETE FROM accounts WHERE id = $1", account_id)

    # links

    async def insert_link(self, link: Link) -> None:
        await self._conn.execute(
            "INSERT INTO links (token_hash, account_id, purpose, new_email, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            link.token_hash,
            link.account_id,
            link.purpose.value,
            link.new_email,
            link.created_at,
            link.expires_at,
        )

    async def spend_link(
        self, token_hash: bytes, purpose: LinkPurpose, now: datetime
    ) -> SpentLink | None:
        # The row lock makes a second concurrent UPDATE wait, then find used_at set: one winner.
        row = await self._conn.fetchrow(
            "UPDATE links SET used_at = $3"
            " WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3"
            " RETURNING account_id, new_email",
            token_hash,
            purpose.value,
            now,
        )
        return None if row is None else SpentLink(row["account_id"], row["new_email"])

    async def find_live_link(
        self, token_hash: bytes, purpose: LinkPurpose, now: datetime
    ) -> SpentLink | None:
        row = await self._conn.fetchrow(
            "SELECT account_id, new_email FROM links"
            " WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
            token_hash,
            purpose.value,
            now,
        )
        return None if row is None else SpentLink(row["account_id"], row["new_email"])

    async def retire_links(
        self, account_id: uuid.UUID, purposes: Sequence[LinkPurpose], now: datetime
    ) -> None:
        await self._conn.execute(
            "UPDATE links SET used_at = $3"
            " WHERE account_id = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL",
            account_id,
            [p.value for p in purposes],
            now,
        )

    async def count_links_since(
        self, account_id: uuid.UUID, purpose: LinkPurpose, since: datetime
    ) -> int:
        count = await self._conn.fetchval(
            "SELECT count(*) FROM links WHERE account_id = $1 AND purpose = $2 AND created_at > $3",
            account_id,
            purpose.value,
            since,
        )
        return int(count)

    async def has_live_link(
        self, account_id: uuid.UUID, purpose: LinkPurpose, now: datetime
    ) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM links WHERE account_id = $1 AND purpose = $2"
                " AND used_at IS NULL AND expires_at > $3)",
                account_id,
                purpose.value,
                now,
            )
        )

    # notices

    async def count_notices_since(
        self, account_id: uuid.UUID, notice: Notice, since: datetime
    ) -> int:
        count = await self._conn.fetchval(
            "SELECT count(*) FROM notices WHERE account_id = $1 AND kind = $2 AND sent_at > $3",
            account_id,
            notice.value,
            since,
        )
        return int(count)

    async def record_notice(self, account_id: uuid.UUID, notice: Notice, now: datetime) -> None:
        await self._conn.execute(
            "INSERT INTO notices (account_id, kind, sent_at) VALUES ($1, $2, $3)",
            account_id,
            notice.value,
            now,
        )

    # throttling

    async def sign_in_state(self, email_key: str | None, client_key: str) -> SignInState:
        row = await self._conn.fetchrow(
            "SELECT a.id, a.email, a.email_key, a.status, a.password_hash, a.name, a.language,"
            " a.country, a.roles, a.created_at,"
            " t.failures AS account_failures, t.window_started_at AS account_window,"
            " t.locked_until, c.failures AS client_failures,"
            " c.window_started_at AS client_window, c.blocked_until"
            " FROM (SELECT $1::text AS email_key, $2::text AS client_key) AS wanted"
            " LEFT JOIN accounts a ON a.email_key = wanted.email_key"
            " LEFT JOIN account_throttle t ON t.account_id = a.id"
            " LEFT JOIN client_throttle c ON c.client_key = wanted.client_key",
            email_key,
            client_key,
        )
        assert row is not None
        return SignInState(
            account=_account(row) if row["id"] is not None else None,
            account_throttle=_account_throttle(row),
            client_throttle=None
            if row["client_failures"] is None
            else ClientThrottle(row["client_failures"], row["client_window"], row["blocked_until"]),
        )

    async def account_with_throttle(
        self, account_id: uuid.UUID
    ) -> tuple[Account | None, AccountThrottle | None]:
        row = await self._conn.fetchrow(
            "SELECT a.id, a.email, a.email_key, a.status, a.password_hash, a.name, a.language,"
            " a.country, a.roles, a.created_at,"
            " t.failures AS account_failures, t.window_started_at AS account_window,"
            " t.locked_until"
            " FROM accounts a LEFT JOIN account_throttle t ON t.account_id = a.id"
            " WHERE a.id = $1",
            account_id,
        )
        if row is None:
            return None, None
        return _account(row), _account_throttle(row)

    async def account_throttle(self, account_id: uuid.UUID) -> AccountThrottle | None:
        row = await self._conn.fetchrow(
            "SELECT failures, window_started_at, locked_until FROM account_throttle"
            " WHERE account_id = $1",
            account_id,
        )
        return None if row is None else AccountThrottle(*row)

    async def lock_account_throttle(self, account_id: uuid.UUID, now: datetime) -> AccountThrottle:
        # The no-op DO UPDATE locks an existing row and returns it, in one statement.
        row = await self._conn.fetchrow(
            "INSERT INTO account_throttle (account_id, failures, window_started_at)"
            " VALUES ($1, 0, $2) ON CONFLICT (account_id)"
            " DO UPDATE SET account_id = excluded.account_id"
            " RETURNING failures, window_started_at, locked_until",
            account_id,
            now,
        )
        assert row is not None
        return AccountThrottle(*row)

    async def save_account_throttle(self, account_id: uuid.UUID, state: AccountThrottle) -> None:
        await self._conn.execute(
            "UPDATE account_throttle SET failures = $2, window_started_at = $3, locked_until = $4"
            " WHERE account_id = $1",
            account_id,
            state.failures,
            state.window_started_at,
            state.locked_until,
        )

    async def clear_account_throttle(self, account_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM account_throttle WHERE account_id = $1", account_id)

    async def client_throttle(self, client_key: str) -> ClientThrottle | None:
        row = await self._conn.fetchrow(
            "SELECT failures, window_started_at, blocked_until FROM client_throttle"
            " WHERE client_key = $1",
            client_key,
        )
        return None if row is None else ClientThrottle(*row)

    async def lock_client_throttle(self, client_key: str, now: datetime) -> ClientThrottle:
        row = await self._conn.fetchrow(
            "INSERT INTO client_throttle (client_key, failures, window_started_at)"
            " VALUES ($1, 0, $2) ON CONFLICT (client_key)"
            " DO UPDATE SET client_key = excluded.client_key"
            " RETURNING failures, window_started_at, blocked_until",
            client_key,
            now,
        )
        assert row is not None
        return ClientThrottle(*row)

    async def save_client_throttle(self, client_key: str, state: ClientThrottle) -> None:
        await self._conn.execute(
            "UPDATE client_throttle SET failures = $2, window_started_at = $3, blocked_until = $4"
            " WHERE client_key = $1",
            client_key,
            state.failures,
            state.window_started_at,
            state.blocked_until,
        )

    # sessions and refresh tokens

    async def insert_session(
        self, session: Session, refresh_token_hash: bytes, now: datetime
    ) -> bool:
        inserted = await self._conn.fetchval(
            "WITH session AS ("
            " INSERT INTO sessions (id, account_id, kind, ip, user_agent, created_at,"
            " last_seen_at, expires_at, client_id, scopes)"
            " SELECT $1, a.id, $3, $4, $5, $6, $7, $8, $11, $12 FROM accounts a"
            " WHERE a.id = $2 AND a.status = 'active' AND NOT EXISTS ("
            " SELECT 1 FROM account_throttle t WHERE t.account_id = a.id AND t.locked_until > $10)"
            " RETURNING id)"
            " INSERT INTO refresh_tokens (token_hash, session_id, created_at)"
            " SELECT $9, id, $6 FROM session RETURNING session_id",
            session.id,
            session.account_id,
            session.kind.value,
            session.ip,
            session.user_agent,
            session.created_at,
            session.last_seen_at,
            session.expires_at,
            refresh_token_hash,
            now,
            session.client_id,
            list(session.scopes),
        )
        return inserted is not None

    async def session_by_id(self, session_id: uuid.UUID) -> Session | None:
        row = await self._conn.fetchrow(
            "SELECT id, account_id, kind, ip, user_agent, created_at, last_seen_at,"
            " expires_at, revoked_at, client_id, scopes"
            " FROM sessions WHERE id = $1",
            session_id,
        )
        return None if row is None else _session(row)

    async def touch_session(
        self, session_id: uuid.UUID, now: datetime, ip: str, user_agent: str
    ) -> None:
        await self._conn.execute(
            "UPDATE sessions SET last_seen_at = $2, ip = $3, user_agent = $4 WHERE id = $1",
            session_id,
            now,
            ip,
            user_agent,
        )

    async def revoke_session(
        self,
        session_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        account_id: uuid.UUID | None = None,
    ) -> bool:
        revoked = await self._conn.fetchval(
            "UPDATE sessions SET revoked_at = $2, revoked_reason = $3"
            " WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2"
            " AND ($4::uuid IS NULL OR account_id = $4) RETURNING id",
            session_id,
            now,
            reason.value,
            account_id,
        )
        return revoked is not None

    async def revoke_sessions(
        self,
        account_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            "UPDATE sessions SET revoked_at = $2, revoked_reason = $3"
            " WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2"
            " AND ($4::uuid IS NULL OR id <> $4) RETURNING id",
            account_id,
            now,
            reason.value,
            keep,
        )
        return [row["id"] for row in rows]

    async def live_sessions(self, account_id: uuid.UUID, now: datetime) -> list[Session]:
        rows = await self._conn.fetch(
            "SELECT id, account_id, kind, ip, user_agent, created_at, last_seen_at,"
            " expires_at, revoked_at, client_id, scopes"
            " FROM sessions"
            " WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2"
            " ORDER BY last_seen_at DESC",
            account_id,
            now,
        )
        return [_session(row) for row in rows]

    async def live_session_ids(
        self, session_ids: Sequence[uuid.UUID], now: datetime
    ) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            "SELECT id FROM sessions"
            " WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL AND expires_at > $2",
            list(session_ids),
            now,
        )
        return [row["id"] for row in rows]

    async def is_session_live(
        self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime
    ) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND account_id = $2"
                " AND revoked_at IS NULL AND expires_at > $3)",
                session_id,
                account_id,
                now,
            )
        )

    async def insert_refresh_token(
        self, token_hash: bytes, session_id: uuid.UUID, now: datetime
    ) -> None:
        await self._conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
            token_hash,
            session_id,
            now,
        )

    async def spend_refresh_token(self, token_hash: bytes, now: datetime) -> uuid.UUID | None:
        session_id = await self._conn.fetchval(
            "UPDATE refresh_tokens SET used_at = $2"
            " WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id",
            token_hash,
            now,
        )
        return cast(uuid.UUID | None, session_id)

    async def find_refresh_token(self, token_hash: bytes) -> RefreshUse | None:
        row = await self._conn.fetchrow(
            "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1", token_hash
        )
        return None if row is None else RefreshUse(row["session_id"], row["used_at"])

    # signing keys

    async def lock_signing_keys(self) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", SIGNING_KEYS_LOCK)

    async def signing_keys(self) -> list[SigningKey]:
        rows = await self._conn.fetch(
            "SELECT kid, algorithm, private_jwk, created_at, active_from, retire_after"
            " FROM signing_keys"
        )
        keys = []
        for row in rows:
            record: dict[str, Any] = dict(row)
            record["private_jwk"] = json.loads(record["private_jwk"])
            keys.append(from_record(record))
        return keys

    async def insert_signing_key(self, key: SigningKey) -> None:
        record = to_record(key)
        await self._conn.execute(
            "INSERT INTO signing_keys"
            " (kid, algorithm, private_jwk, created_at, active_from, retire_after)"
            " VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
            key.kid,
            key.algorithm,
            json.dumps(record["private_jwk"]),
            key.created_at,
            key.active_from,
            key.retire_after,
        )

    async def delete_signing_keys(self, kids: Sequence[str]) -> None:
        await self._conn.execute("DELETE FROM signing_keys WHERE kid = ANY($1::text[])", list(kids))

    # outbox

    async def publish(self, event: Event) -> None:
        subject, message = to_message(event)
        await publish_event(self._conn, subject, message)

    async def send_mail(self, mail: Mail) -> None:
        await enqueue_mail(
            self._conn,
            self._templates,
            to=mail.to,
            template=mail.template,
            language=mail.language,
            values=mail.values,
        )

    # housekeeping

    async def delete_links_expired_before(self, moment: datetime) -> int:
        return _deleted(await self._conn.execute("DELETE FROM links WHERE expires_at < $1", moment))

    async def delete_sessions_ended_before(self, moment: datetime) -> int:
        return _deleted(
            await self._conn.execute(
                "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1", moment
            )
        )

    async def delete_throttles_idle_since(self, moment: datetime) -> int:
        # A row whose window began before ``moment`` and that blocks nothing any more is empty.
        accounts = await self._conn.execute(
            "DELETE FROM account_throttle WHERE window_started_at < $1"
            " AND (locked_until IS NULL OR locked_until < $1)",
            moment,
        )
        clients = await self._conn.execute(
            "DELETE FROM client_throttle WHERE window_started_at < $1"
            " AND (blocked_until IS NULL OR blocked_until < $1)",
            moment,
        )
        return _deleted(accounts) + _deleted(clients)

    async def delete_notices_before(self, moment: datetime) -> int:
        return _deleted(await self._conn.execute("DELETE FROM notices WHERE sent_at < $1", moment))
