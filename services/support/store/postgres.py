"""The support ports on PostgreSQL (asyncpg). The pool's ``search_path`` is the ``support``
schema; events and mail go into the same transaction through the shared outboxes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

from kabinet.db import UnitsOfWork
from kabinet.events.outbox import publish_event
from kabinet.mail.outbox import enqueue_mail
from kabinet.mail.templates import TemplateSet
from support.domain.events import Event
from support.domain.model import (
    Attachment,
    AuthorRole,
    HistoryEntry,
    Message,
    Owner,
    Priority,
    Status,
    Ticket,
    Topic,
)
from support.events.outgoing import to_message

_TICKET_COLUMNS = (
    "id, owner_id, owner_email, owner_language, topic, application, device, subject, status,"
    " priority, sla_due_at, priority_as_of, assignee_id, created_at, updated_at, resolved_at,"
    " rating, rating_comment"
)
_ATTACHMENT_COLUMNS = (
    "id, ticket_id, message_id, filename, content_type, size, sha256, storage_key, created_at"
)


def _ticket(row: asyncpg.Record) -> Ticket:
    return Ticket(
        id=row["id"],
        owner_id=row["owner_id"],
        owner=Owner(row["owner_email"], row["owner_language"]),
        topic=Topic(row["topic"]),
        application=row["application"],
        device=row["device"],
        subject=row["subject"],
        status=Status(row["status"]),
        priority=Priority(row["priority"]),
        sla_due_at=row["sla_due_at"],
        priority_as_of=row["priority_as_of"],
        assignee_id=row["assignee_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        resolved_at=row["resolved_at"],
        rating=row["rating"],
        rating_comment=row["rating_comment"],
    )


def _attachment(row: asyncpg.Record) -> Attachment:
    return Attachment(
        id=row["id"],
        ticket_id=row["ticket_id"],
        message_id=row["message_id"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size"],
        sha256=row["sha256"],
        storage_key=row["storage_key"],
        created_at=row["created_at"],
    )


class PostgresStore(UnitsOfWork["PostgresTransaction"]):
    """Units of work on a pool whose connections work in the support schema."""

    def __init__(self, pool: asyncpg.Pool, templates: TemplateSet) -> None:
        super().__init__(pool, lambda conn: PostgresTransaction(conn, templates))


class PostgresTransaction:
    """Every port method on one connection."""

    def __init__(self, conn: asyncpg.Connection, templates: TemplateSet) -> None:
        self._conn = conn
        self._templates = templates

    # tickets

    async def insert_ticket(self, ticket: Ticket) -> None:
        t = ticket
        await self._conn.execute(
            f"INSERT INTO tickets ({_TICKET_COLUMNS}, priority_rank) VALUES ($1, $2, $3, $4, $5,"  # noqa: S608 (constant column lists)
            " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
            t.id,
            t.owner_id,
            t.owner.email,
            t.owner.language,
            t.topic.value,
            t.application,
            t.device,
            t.subject,
            t.status.value,
            t.priority.value,
            t.sla_due_at,
            t.priority_as_of,
            t.assignee_id,
            t.created_at,
            t.updated_at,
            t.resolved_at,
            t.rating,
            t.rating_comment,
            t.priority.rank,
        )

    async def ticket(self, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE id = $1{lock}",  # noqa: S608
            ticket_id,
        )
        return None if row is None else _ticket(row)

    async def update_ticket(self, ticket: Ticket) -> None:
        t = ticket
        await self._conn.execute(
            "UPDATE tickets SET status = $2, priority = $3, priority_rank = $4, sla_due_at = $5,"
            " priority_as_of = $6, assignee_id = $7, updated_at = $8, resolved_at = $9,"
            " rating = $10, rating_comment = $11 WHERE id = $1",
            t.id,
            t.status.value,
            t.priority.value,
            t.priority.rank,
            t.sla_due_at,
            t.priority_as_of,
            t.assignee_id,
            t.updated_at,
            t.resolved_at,
            t.rating,
            t.rating_comment,
        )

    async def tickets_of(self, owner_id: uuid.UUID) -> list[Ticket]:
        rows = await self._conn.fetch(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE owner_id = $1"  # noqa: S608 (constant column lists)
            " ORDER BY updated_at DESC, id",
            owner_id,
        )
        return [_ticket(r) for r in rows]

    async def open_tickets_of(self, owner_id: uuid.UUID) -> list[Ticket]:
        rows = await self._conn.fetch(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE owner_id = $1"  # noqa: S608 (constant column lists)
            " AND status NOT IN ('resolved', 'closed') ORDER BY id FOR UPDATE",
            owner_id,
        )
        return [_ticket(r) for r in rows]

    async def queue(self, assignee_id: uuid.UUID | None) -> list[Ticket]:
        rows = await self._conn.fetch(
            f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE status NOT IN ('resolved', 'closed')"  # noqa: S608 (constant column lists)
            " AND ($1::uuid IS NULL OR assignee_id = $1)"
            " ORDER BY priority_rank, sla_due_at, created_at, id LIMIT 500",
            assignee_id,
        )
        return [_ticket(r) for r in rows]

    # messages and attachments

    async def insert_message(self, message: Message) -> None:
        m = message
        await self._conn.execute(
            "INSERT INTO messages (id, ticket_id, author_id, author_role, body, internal,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            m.id,
            m.ticket_id,
            m.author_id,
            m.author_role.value,
            m.body,
            m.internal,
            m.created_at,
        )
        await self._conn.executemany(
            f"INSERT INTO attachments ({_ATTACHMENT_COLUMNS})"  # noqa: S608 (constant column lists)
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                (
                    a.id,
                    a.ticket_id,
                    a.message_id,
                    a.filename,
                    a.content_type,
                    a.size,
                    a.sha256,
                    a.storage_key,
                    a.created_at,
                )
                for a in m.attachments
            ],
        )

    async def messages(self, ticket_id: uuid.UUID, *, include_internal: bool) -> list[Message]:
        rows = await self._conn.fetch(
            "SELECT id, ticket_id, author_id, author_role, body, internal, created_at"
            " FROM messages WHERE ticket_id = $1 AND ($2 OR NOT internal)"
            " ORDER BY created_at, seq",
            ticket_id,
            include_internal,
        )
        files = await self._conn.fetch(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE ticket_id = $1"  # noqa: S608 (constant column lists)
            " ORDER BY created_at, id",
            ticket_id,
        )
        by_message: dict[uuid.UUID, list[Attachment]] = {}
        for f in files:
            by_message.setdefault(f["message_id"], []).append(_attachment(f))
        return [
            Message(
                id=r["id"],
                ticket_id=r["ticket_id"],
                author_id=r["author_id"],
                author_role=AuthorRole(r["author_role"]),
                body=r["body"],
                internal=r["internal"],
                created_at=r["created_at"],
                attachments=tuple(by_message.get(r["id"], ())),
            )
            for r in rows
        ]

    async def attachment(self, attachment_id: uuid.UUID) -> Attachment | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1",  # noqa: S608
            attachment_id,
        )
        return None if row is None else _attachment(row)

    # history

    async def add_history(self, entry: HistoryEntry) -> None:
        e = entry
        await self._conn.execute(
            "INSERT INTO ticket_history (ticket_id, kind, from_value, to_value, actor_id, at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            e.ticket_id,
            e.kind,
            e.from_value,
            e.to_value,
            e.actor_id,
            e.at,
        )

    async def history(self, ticket_id: uuid.UUID) -> list[HistoryEntry]:
        rows = await self._conn.fetch(
            "SELECT ticket_id, kind, from_value, to_value, actor_id, at FROM ticket_history"
            " WHERE ticket_id = $1 ORDER BY id",
            ticket_id,
        )
        return [
            HistoryEntry(
                r["ticket_id"], r["kind"], r["from_value"], r["to_value"], r["actor_id"], r["at"]
            )
            for r in rows
        ]

    # erasure

    async def erase_owner(self, owner_id: uuid.UUID) -> list[str]:
        keys = await self._conn.fetch(
            "SELECT a.storage_key FROM attachments a JOIN tickets t ON t.id = a.ticket_id"
            " WHERE t.owner_id = $1",
            owner_id,
        )
        # Messages, attachments' rows and history go with their tickets (ON DELETE CASCADE).
        await self._conn.execute("DELETE FROM tickets WHERE owner_id = $1", owner_id)
        return [r["storage_key"] for r in keys]

    async def forget_actor(self, account_id: uuid.UUID) -> None:
        await self._conn.execute(
            "UPDATE messages SET author_id = NULL WHERE author_id = $1", account_id
        )
        await self._conn.execute(
            "UPDATE tickets SET assignee_id = NULL WHERE assignee_id = $1", account_id
        )
        await self._conn.execute(
            "UPDATE ticket_history SET actor_id = NULL WHERE actor_id = $1", account_id
        )

    # outboxes

    async def publish(self, event: Event) -> None:
        subject, message = to_message(event)
        await publish_event(self._conn, subject, message)

    async def enqueue_mail(
        self, to: str, template: str, language: str, values: Mapping[str, str]
    ) -> None:
        await enqueue_mail(
            self._conn, self._templates, to=to, template=template, language=language, values=values
        )
