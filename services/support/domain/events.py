"""What the support service tells the others (``support.events.outgoing`` makes the protobuf
messages). Never a message body or an attachment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from support.domain.model import AuthorRole, Priority, Status, Topic


@dataclass(frozen=True)
class TicketCreated:
    ticket_id: uuid.UUID
    owner_id: uuid.UUID
    topic: Topic
    priority: Priority
    sla_due_at: datetime
    occurred_at: datetime


@dataclass(frozen=True)
class MessageAdded:
    ticket_id: uuid.UUID
    message_id: uuid.UUID
    author_id: uuid.UUID
    author_role: AuthorRole
    internal: bool
    attachments: int
    occurred_at: datetime


@dataclass(frozen=True)
class StatusChanged:
    ticket_id: uuid.UUID
    previous: Status
    status: Status
    actor_id: uuid.UUID | None
    occurred_at: datetime


Event = TicketCreated | MessageAdded | StatusChanged
