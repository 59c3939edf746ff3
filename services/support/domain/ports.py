"""What the support use cases need from storage and from the other services, as protocols
(PostgreSQL in ``support.store.postgres``, gRPC in ``support.clients``, fakes in the unit tests).

Every method of a ``Transaction`` runs inside one PostgreSQL transaction: a ticket change, its
history, its events and its mail commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from support.domain.events import Event
from support.domain.model import Attachment, HistoryEntry, Message, Owner, Ticket

Clock = Callable[[], datetime]


class Transaction(Protocol):
    async def insert_ticket(self, ticket: Ticket) -> None: ...

    async def ticket(self, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket | None: ...

    async def update_ticket(self, ticket: Ticket) -> None:
        """Store the ticket's mutable fields (status, priority, SLA, assignee, rating...)."""
        ...

    async def tickets_of(self, owner_id: uuid.UUID) -> list[Ticket]:
        """The owner's tickets, latest activity first."""
        ...

    async def open_tickets_of(self, owner_id: uuid.UUID) -> list[Ticket]:
        """The owner's tickets that are not resolved or closed, locked."""
        ...

    async def queue(self, assignee_id: uuid.UUID | None) -> list[Ticket]:
        """Open tickets (of ``assignee_id`` when given): priority, SLA due time, age."""
        ...

    async def insert_message(self, message: Message) -> None:
        """The message and its attachments' rows."""
        ...

    async def messages(self, ticket_id: uuid.UUID, *, include_internal: bool) -> list[Message]:
        """The thread, oldest first, with attachments."""
        ...

    async def attachment(self, attachment_id: uuid.UUID) -> Attachment | None: ...

    async def add_history(self, entry: HistoryEntry) -> None: ...

    async def history(self, ticket_id: uuid.UUID) -> list[HistoryEntry]: ...

    async def erase_owner(self, owner_id: uuid.UUID) -> list[str]:
        """Delete the owner's tickets with everything in them; their attachments' storage keys."""
        ...

    async def forget_actor(self, account_id: uuid.UUID) -> None:
        """Take the account's id off messages, assignments and history on others' tickets."""
        ...

    async def publish(self, event: Event) -> None: ...

    async def enqueue_mail(
        self, to: str, template: str, language: str, values: Mapping[str, str]
    ) -> None: ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    def connection(self) -> AbstractAsyncContextManager[Transaction]: ...


class Entitlements(Protocol):
    async def has_priority_support(self, account_id: uuid.UUID) -> bool:
        """Whether the account's plan includes priority support now (subscription, gRPC with a
        deadline); raises on failure."""
        ...


class Accounts(Protocol):
    async def owner(self, account_id: uuid.UUID) -> Owner | None:
        """The account's email and language (identity, gRPC with a deadline); None if gone."""
        ...

    async def is_agent(self, account_id: uuid.UUID) -> bool:
        """Whether the account holds the support_agent role now (identity, with a deadline)."""
        ...
