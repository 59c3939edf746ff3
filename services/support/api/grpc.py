"""``kabinet.support.v1.SupportService``: protobuf in, a use case, protobuf out.

Errors are ``DomainError``s that the server interceptor maps to statuses once; every rule lives
in ``support.domain``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from kabinet.protobuf import timestamp
from kabinet.support.v1 import support_pb2 as pb
from kabinet.support.v1 import support_pb2_grpc
from support.domain import errors
from support.domain.model import Attachment, Caller, HistoryEntry, Message, Ticket, Upload
from support.domain.services import SupportServices, parse_caller
from support.events.outgoing import PRIORITY_TO_PB, STATUS_FROM_PB, STATUS_TO_PB

SERVICE_NAME = "kabinet.support.v1.SupportService"

# Support has no operator-only methods: agents' methods check the caller's support_agent role.
OPERATOR_METHODS: frozenset[str] = frozenset()

Context = grpc.aio.ServicerContext[Any, Any]


def ticket_to_pb(ticket: Ticket) -> pb.Ticket:
    t = ticket
    reply = pb.Ticket(
        id=str(t.id),
        owner_id=str(t.owner_id),
        topic=t.topic.value,
        subject=t.subject,
        status=STATUS_TO_PB[t.status],
        priority=PRIORITY_TO_PB[t.priority],
        created_at=timestamp(t.created_at),
        application=t.application,
        device=t.device,
        sla_due_at=timestamp(t.sla_due_at),
        assignee_id=str(t.assignee_id or ""),
        updated_at=timestamp(t.updated_at),
        rating=t.rating or 0,
        rating_comment=t.rating_comment,
    )
    if t.resolved_at is not None:
        reply.resolved_at.CopyFrom(timestamp(t.resolved_at))
    return reply


def attachment_to_pb(attachment: Attachment) -> pb.Attachment:
    return pb.Attachment(
        id=str(attachment.id),
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
    )


def message_to_pb(message: Message) -> pb.Message:
    return pb.Message(
        id=str(message.id),
        author_id=str(message.author_id or ""),
        author_role=message.author_role.value,
        body=message.body,
        internal=message.internal,
        created_at=timestamp(message.created_at),
        attachments=[attachment_to_pb(a) for a in message.attachments],
    )


def history_to_pb(entry: HistoryEntry) -> pb.HistoryEntry:
    return pb.HistoryEntry(
        kind=entry.kind,
        from_value=entry.from_value,
        to_value=entry.to_value,
        actor_id=str(entry.actor_id or ""),
        at=timestamp(entry.at),
    )


def caller_from_pb(caller: pb.Caller) -> Caller:
    return parse_caller(caller.account_id, list(caller.roles))


def uploads_from_pb(attachments: Sequence[pb.NewAttachment]) -> list[Upload]:
    return [Upload(a.filename, a.data) for a in attachments]


class SupportServicer(support_pb2_grpc.SupportServiceServicer):
    """Each RPC calls one use case of ``SupportServices``."""

    def __init__(self, services: SupportServices) -> None:
        self._s = services

    async def CreateTicket(
        self, request: pb.CreateTicketRequest, context: Context
    ) -> pb.CreateTicketResponse:
        """Open a request with its first message and attachments."""
        ticket = await self._s.create_ticket(
            caller_from_pb(request.caller),
            topic=request.topic,
            application=request.application,
            device=request.device,
            subject=request.subject,
            description=request.description,
            uploads=uploads_from_pb(request.attachments),
        )
        return pb.CreateTicketResponse(ticket=ticket_to_pb(ticket))

    async def ListMyTickets(
        self, request: pb.ListMyTicketsRequest, context: Context
    ) -> pb.ListMyTicketsResponse:
        """The caller's own tickets."""
        tickets = await self._s.my_tickets(caller_from_pb(request.caller))
        return pb.ListMyTicketsResponse(tickets=[ticket_to_pb(t) for t in tickets])

    async def GetTicket(
        self, request: pb.GetTicketRequest, context: Context
    ) -> pb.GetTicketResponse:
        """A ticket with its thread and history, as the caller may see it."""
        view = await self._s.get_ticket(caller_from_pb(request.caller), request.ticket_id)
        return pb.GetTicketResponse(
            ticket=ticket_to_pb(view.ticket),
            messages=[message_to_pb(m) for m in view.messages],
            history=[history_to_pb(h) for h in view.history],
        )

    async def AddMessage(
        self, request: pb.AddMessageRequest, context: Context
    ) -> pb.AddMessageResponse:
        """A reply or an internal note."""
        message, ticket = await self._s.add_message(
            caller_from_pb(request.caller),
            request.ticket_id,
            request.body,
            internal=request.internal,
            uploads=uploads_from_pb(request.attachments),
        )
        return pb.AddMessageResponse(message=message_to_pb(message), ticket=ticket_to_pb(ticket))

    async def GetAttachment(
        self, request: pb.GetAttachmentRequest, context: Context
    ) -> pb.GetAttachmentResponse:
        """An attachment's bytes for the ticket's owner or an agent."""
        attachment, data = await self._s.get_attachment(
            caller_from_pb(request.caller), request.attachment_id
        )
        return pb.GetAttachmentResponse(attachment=attachment_to_pb(attachment), data=data)

    async def ChangeStatus(
        self, request: pb.ChangeStatusRequest, context: Context
    ) -> pb.ChangeStatusResponse:
        """An agent's status change."""
        caller = caller_from_pb(request.caller)
        status = STATUS_FROM_PB.get(request.status)
        if status is None:
            raise errors.transition_invalid("", "unspecified")
        ticket = await self._s.change_status(caller, request.ticket_id, status)
        return pb.ChangeStatusResponse(ticket=ticket_to_pb(ticket))

    async def ReopenTicket(
        self, request: pb.ReopenTicketRequest, context: Context
    ) -> pb.ReopenTicketResponse:
        """The owner reopens the ticket."""
        ticket = await self._s.reopen(caller_from_pb(request.caller), request.ticket_id)
        return pb.ReopenTicketResponse(ticket=ticket_to_pb(ticket))

    async def RateTicket(
        self, request: pb.RateTicketRequest, context: Context
    ) -> pb.RateTicketResponse:
        """The owner's satisfaction rating."""
        ticket = await self._s.rate(
            caller_from_pb(request.caller), request.ticket_id, request.rating, request.comment
        )
        return pb.RateTicketResponse(ticket=ticket_to_pb(ticket))

    async def ListQueue(
        self, request: pb.ListQueueRequest, context: Context
    ) -> pb.ListQueueResponse:
        """Open tickets for agents, by priority and SLA due time."""
        tickets = await self._s.queue(caller_from_pb(request.caller), only_mine=request.only_mine)
        return pb.ListQueueResponse(tickets=[ticket_to_pb(t) for t in tickets])

    async def AssignTicket(
        self, request: pb.AssignTicketRequest, context: Context
    ) -> pb.AssignTicketResponse:
        """Give the ticket to an agent."""
        ticket = await self._s.assign(
            caller_from_pb(request.caller), request.ticket_id, request.assignee_id
        )
        return pb.AssignTicketResponse(ticket=ticket_to_pb(ticket))


def register(services: SupportServices) -> Callable[[grpc.aio.Server], None]:
    """The function ``ServiceHost.serve`` calls to add this servicer to its server."""

    def add(server: grpc.aio.Server) -> None:
        support_pb2_grpc.add_SupportServiceServicer_to_server(SupportServicer(services), server)

    return add
