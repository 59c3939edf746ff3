"""The support domain's values: tickets, their messages, attachments and history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

AGENT_ROLE = "support_agent"


class Status(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_FOR_CUSTOMER = "waiting_for_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self not in (Status.RESOLVED, Status.CLOSED)


class Priority(StrEnum):
    """``HIGH`` when the owner's plan includes priority support (Premium)."""

    NORMAL = "normal"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Queue order: lower first."""
        return 1 if self is Priority.HIGH else 2


class Topic(StrEnum):
    INSTALLATION = "installation"
    ACTIVATION = "activation"
    ACCOUNT = "account"
    PAYMENT = "payment"
    TECHNICAL = "technical"
    OTHER = "other"


class AuthorRole(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


@dataclass(frozen=True)
class Caller:
    """Who asks: an account and the roles its verified access token carried."""

    account_id: uuid.UUID
    roles: frozenset[str] = frozenset()

    @property
    def is_agent(self) -> bool:
        return AGENT_ROLE in self.roles


@dataclass(frozen=True)
class Owner:
    """Where the ticket's notices go (read from identity when the ticket is opened)."""

    email: str
    language: str


@dataclass(frozen=True)
class Ticket:
    id: uuid.UUID
    owner_id: uuid.UUID
    owner: Owner
    topic: Topic
    application: str
    device: str
    subject: str
    status: Status
    priority: Priority
    sla_due_at: datetime
    # When the priority was last decided (creation or an entitlements event): older events lose.
    priority_as_of: datetime
    created_at: datetime
    updated_at: datetime
    assignee_id: uuid.UUID | None = None
    resolved_at: datetime | None = None
    rating: int | None = None
    rating_comment: str = ""

    def visible_to(self, caller: Caller) -> bool:
        """The owner and support agents see a ticket; nobody else learns that it exists."""
        return caller.is_agent or caller.account_id == self.owner_id


@dataclass(frozen=True)
class Attachment:
    id: uuid.UUID
    ticket_id: uuid.UUID
    message_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    created_at: datetime


@dataclass(frozen=True)
class Message:
    id: uuid.UUID
    ticket_id: uuid.UUID
    author_id: uuid.UUID | None
    author_role: AuthorRole
    body: str
    internal: bool
    created_at: datetime
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class HistoryEntry:
    ticket_id: uuid.UUID
    kind: str  # status, priority, assignment, rating
    from_value: str
    to_value: str
    actor_id: uuid.UUID | None
    at: datetime


@dataclass(frozen=True)
class TicketView:
    """A ticket as one caller may see it."""

    ticket: Ticket
    messages: tuple[Message, ...]
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class Upload:
    """An attachment as sent: a name and the bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the checks: a safe name and the type its bytes show."""

    filename: str
    content_type: str
    data: bytes
