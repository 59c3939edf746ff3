"""The support use cases.

Visibility comes first in every use case that names a ticket or an attachment: a caller who is
neither the ticket's owner nor a support agent gets ``ticket.not_found`` (``attachment.not_found``)
whatever they asked, exactly as for an id that does not exist; only then are agent-only actions
refused to owners (``support.agent_only``). Ids are random UUIDs (version 4).

Attachments are checked (count, size, type by their bytes) before anything is written, stored in
the object store, and only then is the ticket or message written with their rows; when that
transaction fails, the stored objects are deleted again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from kabinet.objectstore import ObjectNotFound, ObjectStore
from support.domain import errors, rules
from support.domain.events import MessageAdded, StatusChanged, TicketCreated
from support.domain.model import (
    Attachment,
    AuthorRole,
    Caller,
    CheckedUpload,
    HistoryEntry,
    Message,
    Status,
    Ticket,
    TicketView,
    Upload,
)
from support.domain.ports import Accounts, Clock, Entitlements, Store, Transaction

log = logging.getLogger(__name__)

STATUS_LABELS = {
    "en": {
        Status.NEW: "New",
        Status.IN_PROGRESS: "In progress",
        Status.WAITING_FOR_CUSTOMER: "Waiting for your reply",
        Status.RESOLVED: "Resolved",
        Status.CLOSED: "Closed",
    },
    "ru": {
        Status.NEW: "Новое",
        Status.IN_PROGRESS: "В работе",
        Status.WAITING_FOR_CUSTOMER: "Ожидает вашего ответа",
        Status.RESOLVED: "Решено",
        Status.CLOSED: "Закрыто",
    },
}


class EntitlementsUnavailable(Exception):
    """Subscription did not answer in time: the ticket is opened with normal priority and the next
    ``subscription.entitlements.changed`` event corrects it."""


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def parse_caller(account_id: str, roles: Sequence[str]) -> Caller:
    parsed = parse_id(account_id)
    if parsed is None:
        raise errors.caller_invalid()
    return Caller(parsed, frozenset(roles))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


class SupportServices:
    """Every use case, on one store, object store, the two clients and a clock."""

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        entitlements: Entitlements,
        accounts: Accounts,
        clock: Clock,
        settings: rules.SupportRules,
        portal_url: str,
    ) -> None:
        self.store = store
        self.objects = objects
        self._entitlements = entitlements
        self._accounts = accounts
        self._clock = clock
        self.rules = settings
        self._portal = portal_url.rstrip("/")

    def now(self) -> datetime:
        return self._clock()

    def ticket_link(self, ticket_id: uuid.UUID) -> str:
        """The ticket's page in the portal (built from the configured origin, never a request)."""
        return f"{self._portal}/support/tickets/{ticket_id}"

    # the customer's side

    async def create_ticket(
        self,
        caller: Caller,
        *,
        topic: str,
        application: str,
        device: str,
        subject: str,
        description: str,
        uploads: Sequence[Upload] = (),
    ) -> Ticket:
        """Open a request; priority and SLA from the owner's plan (see
        ``EntitlementsUnavailable``)."""
        form = rules.check_ticket_form(topic, application, device, subject, description)
        checked = rules.check_uploads(uploads, self.rules)
        owner = await self._accounts.owner(caller.account_id)
        if owner is None:
            raise errors.caller_invalid()
        try:
            high = await self._entitlements.has_priority_support(caller.account_id)
        except EntitlementsUnavailable:
            log.warning("entitlements unavailable: ticket opened with normal priority")
            high = False
        now = self._clock()
        priority = rules.priority_for(high)
        ticket = Ticket(
            id=uuid.uuid4(),
            owner_id=caller.account_id,
            owner=owner,
            topic=form.topic,
            application=form.application,
            device=form.device,
            subject=form.subject,
            status=Status.NEW,
            priority=priority,
            sla_due_at=rules.sla_due(now, priority, self.rules),
            priority_as_of=now,
            created_at=now,
            updated_at=now,
        )
        message_id = uuid.uuid4()
        async with (
            self._stored(ticket.id, message_id, checked, now) as attachments,
            self.store.transaction() as tx,
        ):
            await tx.insert_ticket(ticket)
            await tx.add_history(
                HistoryEntry(ticket.id, "status", "", Status.NEW.value, caller.account_id, now)
            )
            await tx.insert_message(
                Message(
                    message_id,
                    ticket.id,
                    caller.account_id,
                    AuthorRole.CUSTOMER,
                    form.description,
                    False,
                    now,
                    attachments,
                )
            )
            await tx.publish(
                TicketCreated(
                    ticket.id, ticket.owner_id, ticket.topic, priority, ticket.sla_due_at, now
                )
            )
            await tx.publish(
                MessageAdded(
                    ticket.id,
                    message_id,
                    caller.account_id,
                    AuthorRole.CUSTOMER,
                    False,
                    len(attachments),
                    now,
                )
            )
        return ticket

    async def my_tickets(self, caller: Caller) -> list[Ticket]:
        async with self.store.connection() as db:
            return await db.tickets_of(caller.account_id)

    async def get_ticket(self, caller: Caller, ticket_id: str) -> TicketView:
        """The ticket, its thread (internal notes for agents only) and its history."""
        async with self.store.connection() as db:
            ticket = await self._visible(db, caller, ticket_id)
            messages = await db.messages(ticket.id, include_internal=caller.is_agent)
            history = await db.history(ticket.id)
        return TicketView(ticket, tuple(messages), tuple(history))

    async def add_message(
        self,
        caller: Caller,
        ticket_id: str,
        body: str,
        *,
        internal: bool = False,
        uploads: Sequence[Upload] = (),
    ) -> tuple[Message, Ticket]:
        """A reply from the owner or an agent, or an agent's internal note. An agent's public
        reply is emailed to the owner."""
        text = rules.check_body(body)
        checked = rules.check_uploads(uploads, self.rules)
        async with self.store.connection() as db:
            ticket = await self._visible(db, caller, ticket_id)
        is_owner = caller.account_id == ticket.owner_id
        if internal and not caller.is_agent:
            raise errors.agent_only()
        role = AuthorRole.CUSTOMER if is_owner and not internal else AuthorRole.AGENT
        now = self._clock()
        message_id = uuid.uuid4()
        async with (
            self._stored(ticket.id, message_id, checked, now) as attachments,
            self.store.transaction() as tx,
        ):
            current = await tx.ticket(ticket.id, for_update=True)
            if current is None:
                raise errors.ticket_not_found()
            if internal:
                status = current.status
            elif role is AuthorRole.CUSTOMER:
                status = rules.status_after_customer_reply(current.status)
            else:
                status = rules.status_after_agent_reply(current.status)
            message = Message(
                message_id, ticket.id, caller.account_id, role, text, internal, now, attachments
            )
            await tx.insert_message(message)
            await tx.publish(
                MessageAdded(
                    ticket.id,
                    message_id,
                    caller.account_id,
                    role,
                    internal,
                    len(attachments),
                    now,
                )
            )
            updated = dataclasses.replace(current, status=status, updated_at=now)
            if status is not current.status:
                await self._record_status(tx, current, status, caller.account_id, now)
            await tx.update_ticket(updated)
            if role is AuthorRole.AGENT and not internal:
                await self._notify(tx, updated, "support_reply")
        return message, updated

    async def get_attachment(self, caller: Caller, attachment_id: str) -> tuple[Attachment, bytes]:
        """The bytes, for the ticket's owner or an agent (internal notes' files: agents only)."""
        parsed = parse_id(attachment_id)
        if parsed is None:
            raise errors.attachment_not_found()
        async with self.store.connection() as db:
            attachment = await db.attachment(parsed)
            if attachment is None:
                raise errors.attachment_not_found()
            ticket = await db.ticket(attachment.ticket_id)
            if ticket is None or not ticket.visible_to(caller):
                raise errors.attachment_not_found()
            if not caller.is_agent:
                visible = await db.messages(ticket.id, include_internal=False)
                if all(m.id != attachment.message_id for m in visible):
                    raise errors.attachment_not_found()
        try:
            data = b"".join([c async for c in self.objects.read(attachment.storage_key)])
        except ObjectNotFound:
            raise errors.attachment_not_found() from None
        return attachment, data

    async def reopen(self, caller: Caller, ticket_id: str) -> Ticket:
        """The owner reopens a resolved or closed ticket within the reopen window."""
        async with self.store.transaction() as tx:
            ticket = await self._visible(tx, caller, ticket_id, for_update=True)
            if caller.account_id != ticket.owner_id:
                raise errors.owner_only()
            now = self._clock()
            rules.check_reopen(ticket.status, ticket.resolved_at, now, self.rules)
            updated = dataclasses.replace(ticket, status=Status.IN_PROGRESS, updated_at=now)
            await self._record_status(tx, ticket, Status.IN_PROGRESS, caller.account_id, now)
            await tx.update_ticket(updated)
        return updated

    async def rate(self, caller: Caller, ticket_id: str, rating: int, comment: str) -> Ticket:
        """The owner's satisfaction, once, after resolution."""
        async with self.store.transaction() as tx:
            ticket = await self._visible(tx, caller, ticket_id, for_update=True)
            if caller.account_id != ticket.owner_id:
                raise errors.owner_only()
            text = rules.check_rating(ticket.status, ticket.rating, rating, comment)
            now = self._clock()
            updated = dataclasses.replace(
                ticket, rating=rating, rating_comment=text, updated_at=now
            )
            await tx.update_ticket(updated)
            await tx.add_history(
                HistoryEntry(ticket.id, "rating", "", str(rating), caller.account_id, now)
            )
        return updated

    # the agents' side

    async def queue(self, caller: Caller, *, only_mine: bool = False) -> list[Ticket]:
        if not caller.is_agent:
            raise errors.agent_only()
        async with self.store.connection() as db:
            return await db.queue(caller.account_id if only_mine else None)

    async def change_status(self, caller: Caller, ticket_id: str, status: Status) -> Ticket:
        """An agent moves the ticket along the status machine; the owner gets an email."""
        async with self.store.transaction() as tx:
            ticket = await self._visible(tx, caller, ticket_id, for_update=True)
            if not caller.is_agent:
                raise errors.agent_only()
            rules.check_transition(ticket.status, status)
            now = self._clock()
            updated = dataclasses.replace(ticket, status=status, updated_at=now)
            if status is Status.RESOLVED:
                updated = dataclasses.replace(updated, resolved_at=now)
            await self._record_status(tx, ticket, status, caller.account_id, now)
            await tx.update_ticket(updated)
            await self._notify(tx, updated, "support_status")
        return updated

    async def assign(self, caller: Caller, ticket_id: str, assignee_id: str) -> Ticket:
        """Give the ticket to an agent (the caller when ``assignee_id`` is empty); another
        assignee must hold the support_agent role."""
        assignee = caller.account_id if not assignee_id else parse_id(assignee_id)
        # Asked before the transaction (no network wait while rows are locked); an owner asking
        # about someone else's ticket still gets ticket.not_found below, not this answer.
        named_agent = (
            assignee is not None
            and assignee != caller.account_id
            and caller.is_agent
            and await self._accounts.is_agent(assignee)
        )
        async with self.store.transaction() as tx:
            ticket = await self._visible(tx, caller, ticket_id, for_update=True)
            if not caller.is_agent:
                raise errors.agent_only()
            if assignee is None or assignee == ticket.owner_id:
                raise errors.assignee_invalid()
            if assignee != caller.account_id and not named_agent:
                raise errors.assignee_invalid()
            if ticket.assignee_id == assignee:
                return ticket
            now = self._clock()
            updated = dataclasses.replace(ticket, assignee_id=assignee, updated_at=now)
            await tx.update_ticket(updated)
            await tx.add_history(
                HistoryEntry(
                    ticket.id,
                    "assignment",
                    str(ticket.assignee_id or ""),
                    str(assignee),
                    caller.account_id,
                    now,
                )
            )
        return updated

    # reactions to other services' events (inside the consumer's transaction)

    async def apply_entitlements(
        self, tx: Transaction, account_id: uuid.UUID, high: bool, as_of: datetime
    ) -> int:
        """Set the priority and SLA of the account's open tickets from its plan as of ``as_of``;
        an event older than the ticket's last decision changes nothing. Returns tickets changed."""
        priority = rules.priority_for(high)
        changed = 0
        for ticket in await tx.open_tickets_of(account_id):
            if ticket.priority_as_of > as_of:
                continue
            updated = dataclasses.replace(
                ticket,
                priority=priority,
                sla_due_at=rules.sla_due(ticket.created_at, priority, self.rules),
                priority_as_of=as_of,
            )
            await tx.update_ticket(updated)
            if ticket.priority is not priority:
                changed += 1
                await tx.add_history(
                    HistoryEntry(
                        ticket.id, "priority", ticket.priority.value, priority.value, None, as_of
                    )
                )
        return changed

    async def erase_account(self, tx: Transaction, account_id: uuid.UUID) -> list[str]:
        """The retention rule for a deleted account (docs/design-notes.md): its own tickets go
        whole; on other tickets its id is taken off. Returns the storage keys to delete."""
        keys = await tx.erase_owner(account_id)
        await tx.forget_actor(account_id)
        return keys

    async def delete_objects(self, keys: Sequence[str]) -> None:
        for key in keys:
            await self.objects.delete(key)

    # helpers

    async def _visible(
        self, db: Transaction, caller: Caller, ticket_id: str, *, for_update: bool = False
    ) -> Ticket:
        parsed = parse_id(ticket_id)
        if parsed is None:
            raise errors.ticket_not_found()
        ticket = await db.ticket(parsed, for_update=for_update)
        if ticket is None or not ticket.visible_to(caller):
            raise errors.ticket_not_found()
        return ticket

    async def _record_status(
        self,
        tx: Transaction,
        ticket: Ticket,
        status: Status,
        actor: uuid.UUID | None,
        now: datetime,
    ) -> None:
        await tx.add_history(
            HistoryEntry(ticket.id, "status", ticket.status.value, status.value, actor, now)
        )
        await tx.publish(StatusChanged(ticket.id, ticket.status, status, actor, now))

    async def _notify(self, tx: Transaction, ticket: Ticket, template: str) -> None:
        language = ticket.owner.language if ticket.owner.language in STATUS_LABELS else "en"
        await tx.enqueue_mail(
            ticket.owner.email,
            template,
            language,
            {
                "subject": ticket.subject,
                "link": self.ticket_link(ticket.id),
                "status": STATUS_LABELS[language][ticket.status],
            },
        )

    @contextlib.asynccontextmanager
    async def _stored(
        self,
        ticket_id: uuid.UUID,
        message_id: uuid.UUID,
        uploads: Sequence[CheckedUpload],
        now: datetime,
    ) -> AsyncIterator[tuple[Attachment, ...]]:
        """Put the uploads into the object store; delete them again if the block fails."""
        stored: list[Attachment] = []
        try:
            for upload in uploads:
                attachment_id = uuid.uuid4()
                key = f"tickets/{ticket_id}/{attachment_id}"
                obj = await self.objects.put(
                    key,
                    _chunks(upload.data),
                    content_type=upload.content_type,
                    max_bytes=self.rules.max_attachment_bytes,
                )
                stored.append(
                    Attachment(
                        attachment_id,
                        ticket_id,
                        message_id,
                        upload.filename,
                        upload.content_type,
                        obj.size,
                        obj.sha256,
                        key,
                        now,
                    )
                )
            yield tuple(stored)
        except BaseException:
            for attachment in stored:
                with contextlib.suppress(Exception):
                    await self.objects.delete(attachment.storage_key)
            raise
