"""Fakes of the support ports: tickets in dictionaries, a fixed clock, canned plans."""

import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kabinet.objectstore import LocalDirectoryStore
from support.domain.events import Event
from support.domain.model import (
    AGENT_ROLE,
    Attachment,
    Caller,
    HistoryEntry,
    Message,
    Owner,
    Ticket,
)
from support.domain.rules import SupportRules
from support.domain.services import EntitlementsUnavailable, SupportServices


class FakeTransaction:
    def __init__(self, store: "FakeStore") -> None:
        self.s = store

    async def insert_ticket(self, ticket: Ticket) -> None:
        self.s.tickets[ticket.id] = ticket

    async def ticket(self, ticket_id: uuid.UUID, *, for_update: bool = False) -> Ticket | None:
        return self.s.tickets.get(ticket_id)

    async def update_ticket(self, ticket: Ticket) -> None:
        self.s.tickets[ticket.id] = ticket

    async def tickets_of(self, owner_id: uuid.UUID) -> list[Ticket]:
        return sorted(
            (t for t in self.s.tickets.values() if t.owner_id == owner_id),
            key=lambda t: t.updated_at,
            reverse=True,
        )

    async def open_tickets_of(self, owner_id: uuid.UUID) -> list[Ticket]:
        return [t for t in await self.tickets_of(owner_id) if t.status.is_open]

    async def queue(self, assignee_id: uuid.UUID | None) -> list[Ticket]:
        found = [
            t
            for t in self.s.tickets.values()
            if t.status.is_open and (assignee_id is None or t.assignee_id == assignee_id)
        ]
        return sorted(found, key=lambda t: (t.priority.rank, t.sla_due_at, t.created_at))

    async def insert_message(self, message: Message) -> None:
        self.s.messages.append(message)

    async def messages(self, ticket_id: uuid.UUID, *, include_internal: bool) -> list[Message]:
        return [
            m
            for m in self.s.messages
            if m.ticket_id == ticket_id and (include_internal or not m.internal)
        ]

    async def attachment(self, attachment_id: uuid.UUID) -> Attachment | None:
        for m in self.s.messages:
            for a in m.attachments:
                if a.id == attachment_id:
                    return a
        return None

    async def add_history(self, entry: HistoryEntry) -> None:
        self.s.history.append(entry)

    async def history(self, ticket_id: uuid.UUID) -> list[HistoryEntry]:
        return [h for h in self.s.history if h.ticket_id == ticket_id]

    async def erase_owner(self, owner_id: uuid.UUID) -> list[str]:
        gone = {t.id for t in self.s.tickets.values() if t.owner_id == owner_id}
        keys = [
            a.storage_key for m in self.s.messages if m.ticket_id in gone for a in m.attachments
        ]
        self.s.tickets = {k: v for k, v in self.s.tickets.items() if k not in gone}
        self.s.messages = [m for m in self.s.messages if m.ticket_id not in gone]
        self.s.history = [h for h in self.s.history if h.ticket_id not in gone]
        return keys

    async def forget_actor(self, account_id: uuid.UUID) -> None:
        self.s.messages = [
            dataclasses.replace(m, author_id=None) if m.author_id == account_id else m
            for m in self.s.messages
        ]

    async def publish(self, event: Event) -> None:
        self.s.events.append(event)

    async def enqueue_mail(
        self, to: str, template: str, language: str, values: Mapping[str, str]
    ) -> None:
        self.s.mails.append((to, template, language, dict(values)))


class FakeStore:
    def __init__(self) -> None:
        self.tickets: dict[uuid.UUID, Ticket] = {}
        self.messages: list[Message] = []
        self.history: list[HistoryEntry] = []
        self.events: list[Event] = []
        self.mails: list[tuple[str, str, str, dict[str, str]]] = []
        self.fail_next_transaction = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        # All or nothing: the state is restored when the block raises.
        saved = (dict(self.tickets), list(self.messages), list(self.history), list(self.events))
        saved_mails = list(self.mails)
        try:
            yield FakeTransaction(self)
            if self.fail_next_transaction:
                self.fail_next_transaction = False
                raise RuntimeError("commit failed")
        except BaseException:
            self.tickets, self.messages, self.history, self.events = saved
            self.mails = saved_mails
            raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[FakeTransaction]:
        yield FakeTransaction(self)


class FakeEntitlements:
    def __init__(self) -> None:
        self.premium: set[uuid.UUID] = set()
        self.down = False

    async def has_priority_support(self, account_id: uuid.UUID) -> bool:
        if self.down:
            raise EntitlementsUnavailable("UNAVAILABLE")
        return account_id in self.premium


class FakeAccounts:
    def __init__(self) -> None:
        self.agents: set[uuid.UUID] = set()

    async def owner(self, account_id: uuid.UUID) -> Owner | None:
        return Owner(f"{account_id.hex[:8]}@example.com", "ru")

    async def is_agent(self, account_id: uuid.UUID) -> bool:
        return account_id in self.agents


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclasses.dataclass
class World:
    services: SupportServices
    store: FakeStore
    entitlements: FakeEntitlements
    clock: Clock
    objects: LocalDirectoryStore
    root: Path
    accounts: FakeAccounts


@pytest.fixture
def world(tmp_path: Path) -> World:
    store, plans, clock = FakeStore(), FakeEntitlements(), Clock()
    objects, accounts = LocalDirectoryStore(tmp_path), FakeAccounts()
    services = SupportServices(
        store, objects, plans, accounts, clock, SupportRules(), "https://my.example.com/"
    )
    return World(services, store, plans, clock, objects, tmp_path, accounts)


@pytest.fixture
def people() -> "People":
    return People()


class People:
    """Callers: customers have no role, agents the support_agent role."""

    @staticmethod
    def customer() -> Caller:
        return Caller(uuid.uuid4(), frozenset())

    @staticmethod
    def agent() -> Caller:
        return Caller(uuid.uuid4(), frozenset({AGENT_ROLE}))
