"""Domain events as the ``kabinet.support.v1`` messages and subjects others consume."""

from __future__ import annotations

from google.protobuf.message import Message

from kabinet.protobuf import timestamp
from kabinet.support.v1 import events_pb2
from kabinet.support.v1 import support_pb2 as pb
from support.domain.events import Event, MessageAdded, StatusChanged, TicketCreated
from support.domain.model import Priority, Status

TICKET_CREATED = "support.ticket.created"
MESSAGE_ADDED = "support.message.added"
STATUS_CHANGED = "support.ticket.status_changed"

SUBJECTS = (TICKET_CREATED, MESSAGE_ADDED, STATUS_CHANGED)

STATUS_TO_PB = {
    Status.NEW: pb.TICKET_STATUS_NEW,
    Status.IN_PROGRESS: pb.TICKET_STATUS_IN_PROGRESS,
    Status.WAITING_FOR_CUSTOMER: pb.TICKET_STATUS_WAITING_FOR_CUSTOMER,
    Status.RESOLVED: pb.TICKET_STATUS_RESOLVED,
    Status.CLOSED: pb.TICKET_STATUS_CLOSED,
}
STATUS_FROM_PB = {v: k for k, v in STATUS_TO_PB.items()}
PRIORITY_TO_PB = {Priority.NORMAL: pb.PRIORITY_NORMAL, Priority.HIGH: pb.PRIORITY_HIGH}


def to_message(event: Event) -> tuple[str, Message]:
    """The subject and protobuf message of a domain event."""
    at = timestamp(event.occurred_at)
    match event:
        case TicketCreated():
            return TICKET_CREATED, events_pb2.TicketCreated(
                ticket_id=str(event.ticket_id),
                owner_id=str(event.owner_id),
                priority=PRIORITY_TO_PB[event.priority],
                topic=event.topic.value,
                sla_due_at=timestamp(event.sla_due_at),
                occurred_at=at,
            )
        case MessageAdded():
            return MESSAGE_ADDED, events_pb2.MessageAdded(
                ticket_id=str(event.ticket_id),
                message_id=str(event.message_id),
                author_id=str(event.author_id),
                author_role=event.author_role.value,
                internal=event.internal,
                attachments=event.attachments,
                occurred_at=at,
            )
        case StatusChanged():
            return STATUS_CHANGED, events_pb2.TicketStatusChanged(
                ticket_id=str(event.ticket_id),
                status=STATUS_TO_PB[event.status],
                previous_status=STATUS_TO_PB[event.previous],
                actor_id=str(event.actor_id or ""),
                occurred_at=at,
            )
    raise TypeError(f"not a support event: {event!r}")
