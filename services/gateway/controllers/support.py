"""/api/v1/support: tickets for the signed-in person and the agents' queue (the pages are in
``gateway.web.support``).

Every route passes the caller (account and the roles of the verified token) to the support
service, which decides what they may see: another person's ticket or attachment is 404 on every
route. Attachment downloads are never rendered by the browser (``Content-Disposition:
attachment``, ``nosniff``, a sandboxing CSP).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from gateway.auth import Principal
from gateway.clients import ServiceClients
from gateway.support_schemas import (
    TEXT_MAX_LENGTH,
    AssignBody,
    AttachmentInfo,
    HistoryItem,
    RatingBody,
    ReplyBody,
    ReplyResult,
    StatusBody,
    TicketDetail,
    TicketMessage,
    TicketSummary,
)
from gateway.timestamps import iso
from kabinet.support.v1 import support_pb2 as pb

# The new-ticket route takes a few attachments; the support service applies the real limits.
NEW_TICKET_MAX_BODY = 4 * 1024 * 1024
SMALL_BODY = 64 * 1024

_STATUS = {
    pb.TICKET_STATUS_NEW: "new",
    pb.TICKET_STATUS_IN_PROGRESS: "in_progress",
    pb.TICKET_STATUS_WAITING_FOR_CUSTOMER: "waiting_for_customer",
    pb.TICKET_STATUS_RESOLVED: "resolved",
    pb.TICKET_STATUS_CLOSED: "closed",
}
_STATUS_TO_PB = {v: k for k, v in _STATUS.items()}
_PRIORITY = {pb.PRIORITY_NORMAL: "normal", pb.PRIORITY_HIGH: "high"}

_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def caller(principal: Principal) -> pb.Caller:
    return pb.Caller(account_id=principal.account_id, roles=list(principal.roles))


def ticket_summary(t: pb.Ticket) -> TicketSummary:
    return TicketSummary(
        id=t.id,
        owner_id=t.owner_id,
        topic=t.topic,
        application=t.application,
        device=t.device,
        subject=t.subject,
        status=_STATUS.get(t.status, "unknown"),
        priority=_PRIORITY.get(t.priority, "unknown"),
        sla_due_at=iso(t.sla_due_at),
        assignee_id=t.assignee_id,
        created_at=iso(t.created_at),
        updated_at=iso(t.updated_at),
        resolved_at=iso(t.resolved_at),
        rating=t.rating or None,
        rating_comment=t.rating_comment,
    )


def ticket_message(m: pb.Message) -> TicketMessage:
    return TicketMessage(
        id=m.id,
        author_role=m.author_role,
        author_id=m.author_id,
        body=m.body,
        internal=m.internal,
        created_at=iso(m.created_at),
        attachments=[
            AttachmentInfo(
                id=a.id,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                url=f"/api/v1/support/attachments/{a.id}",
            )
            for a in m.attachments
        ],
    )


def ticket_detail(reply: pb.GetTicketResponse) -> TicketDetail:
    return TicketDetail(
        ticket=ticket_summary(reply.ticket),
        messages=[ticket_message(m) for m in reply.messages],
        history=[
            HistoryItem(kind=h.kind, from_value=h.from_value, to_value=h.to_value, at=iso(h.at))
            for h in reply.history
        ],
    )


def _text_field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


async def _uploads(form: Mapping[str, Any]) -> list[pb.NewAttachment]:
    """The files of the ``attachments`` parts (an empty file input comes as an empty text part)."""
    value = form.get("attachments", [])
    files = value if isinstance(value, list) else [value]
    uploads = []
    for file in files:
        if not isinstance(file, UploadFile):
            continue
        # Whole (never cut short: the service must see the real size); the route's body limit
        # bounds it, and keeps the gRPC message under its 4 MiB.
        data = await file.read()
        uploads.append(pb.NewAttachment(filename=file.filename or "", data=data))
    return uploads


_AT_FIELD = re.compile(r"`\$\.(\w+)`$")


async def _message_parts(request: Request[Any, Any, Any]) -> tuple[str, list[pb.NewAttachment]]:
    """A reply's (or note's) text and files: JSON ``{"body": ...}``, or multipart (``body`` and
    ``attachments``, as the new-ticket form) when files come along. Bad JSON is refused as the
    JSON routes refuse it."""
    if request.content_type[0] == "multipart/form-data":
        form = (await request.form()).dict()
        return _text_field(form, "body"), await _uploads(form)
    try:
        return msgspec.json.decode(await request.body(), type=ReplyBody).body, []
    except msgspec.ValidationError as invalid:
        at = _AT_FIELD.search(str(invalid))
        key = at.group(1) if at else "data"
        raise ValidationException(extra=[{"key": key, "message": str(invalid)}]) from invalid
    except msgspec.DecodeError as malformed:
        raise ValidationException() from malformed


def _schema(properties: dict[str, Schema | Reference]) -> OpenAPIMediaType:
    return OpenAPIMediaType(
        schema=Schema(type=OpenAPIType.OBJECT, properties=properties, required=["body"])
    )


@dataclass
class _MessageOperation(Operation):
    """What the reply and note routes take, in the API docs: JSON, or multipart with files."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING, max_length=TEXT_MAX_LENGTH)
        files = Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
        )
        self.request_body = RequestBody(
            required=True,
            content={
                "application/json": _schema({"body": text}),
                "multipart/form-data": _schema({"body": text, "attachments": files}),
            },
        )


class SupportController(Controller):
    """The person's tickets and the agents' work on them."""

    path = "/api/v1/support"
    tags = ["support"]  # noqa: RUF012
    request_max_body_size = SMALL_BODY

    @get("/tickets", summary="The signed-in person's tickets, latest activity first")
    async def my_tickets(
        self, principal: NamedDependency[Principal], clients: NamedDependency[ServiceClients]
    ) -> list[TicketSummary]:
        reply = await clients.support.ListMyTickets(
            pb.ListMyTicketsRequest(caller=caller(principal))
        )
        return [ticket_summary(t) for t in reply.tickets]

    @post(
        "/tickets",
        status_code=201,
        summary="Open a ticket (multipart: topic, application, device, subject, description,"
        " attachments)",
        request_max_body_size=NEW_TICKET_MAX_BODY,
    )
    async def create_ticket(
        self,
        data: MultipartBody[dict[str, Any]],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> TicketSummary:
        reply = await clients.support.CreateTicket(
            pb.CreateTicketRequest(
                caller=caller(principal),
                topic=_text_field(data, "topic"),
                application=_text_field(data, "application"),
                device=_text_field(data, "device"),
                subject=_text_field(data, "subject"),
                description=_text_field(data, "description"),
                attachments=await _uploads(data),
            )
        )
        return ticket_summary(reply.ticket)

    @get("/tickets/{ticket_id:str}", summary="A ticket with its thread and history")
    async def get_ticket(
        self,
        ticket_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> TicketDetail:
        reply = await clients.support.GetTicket(
            pb.GetTicketRequest(caller=caller(principal), ticket_id=ticket_id)
        )
        return ticket_detail(reply)

    @post(
        "/tickets/{ticket_id:str}/messages",
        status_code=201,
        summary="Reply in the thread (JSON, or multipart: body, attachments)",
        request_max_body_size=NEW_TICKET_MAX_BODY,
        operation_class=_MessageOperation,
    )
    async def reply(
        self,
        request: Request[Any, Any, Any],
        ticket_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> ReplyResult:
        return await self._add(request, clients, principal, ticket_id, internal=False)

    @post(
        "/tickets/{ticket_id:str}/notes",
        status_code=201,
        summary="An internal note the customer never sees (agents; JSON, or multipart: body,"
        " attachments)",
        request_max_body_size=NEW_TICKET_MAX_BODY,
        operation_class=_MessageOperation,
    )
    async def note(
        self,
        request: Request[Any, Any, Any],
        ticket_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> ReplyResult:
        return await self._add(request, clients, principal, ticket_id, internal=True)

    async def _add(
        self,
        request: Request[Any, Any, Any],
        clients: ServiceClients,
        principal: Principal,
        ticket_id: str,
        *,
        internal: bool,
    ) -> ReplyResult:
        body, attachments = await _message_parts(request)
        reply = await clients.support.AddMessage(
            pb.AddMessageRequest(
                caller=caller(principal),
                ticket_id=ticket_id,
                body=body,
                internal=internal,
                attachments=attachments,
            )
        )
        return ReplyResult(
            message=ticket_message(reply.message), ticket=ticket_summary(reply.ticket)
        )

    @post("/tickets/{ticket_id:str}/rating", status_code=200, summary="Rate a resolved ticket")
    async def rate(
        self,
        ticket_id: FromPath[str],
        data: JSONBody[RatingBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> TicketSummary:
        reply = await clients.support.RateTicket(
            pb.RateTicketRequest(
                caller=caller(principal),
                ticket_id=ticket_id,
                rating=max(min(data.rating, 2**31 - 1), -(2**31)),
                comment=data.comment,
            )
        )
        return ticket_summary(reply.ticket)

    @post("/tickets/{ticket_id:str}/reopen", status_code=200, summary="Reopen a resolved ticket")
    async def reopen(
        self,
        ticket_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> TicketSummary:
        reply = await clients.support.ReopenTicket(
            pb.ReopenTicketRequest(caller=caller(principal), ticket_id=ticket_id)
        )
        return ticket_summary(reply.ticket)

    @get(
        "/attachments/{attachment_id:str}",
        summary="Download an attachment (the ticket's owner and agents)",
        media_type="application/octet-stream",
    )
    async def attachment(
        self,
        attachment_id: FromPath[str],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> Response[bytes]:
        reply = await clients.support.GetAttachment(
            pb.GetAttachmentRequest(caller=caller(principal), attachment_id=attachment_id)
        )
        name = reply.attachment.filename or "attachment"
        return Response(
            reply.data,
            media_type=reply.attachment.content_type or "application/octet-stream",
            headers={
                **_DOWNLOAD_HEADERS,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            },
        )

    # agents

    @get("/queue", summary="Open tickets by priority, then SLA due time (agents)")
    async def queue(
        self,
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
        mine: FromQuery[bool] = False,
    ) -> list[TicketSummary]:
        reply = await clients.support.ListQueue(
            pb.ListQueueRequest(caller=caller(principal), only_mine=mine)
        )
        return [ticket_summary(t) for t in reply.tickets]

    @post("/tickets/{ticket_id:str}/assign", status_code=200, summary="Assign a ticket (agents)")
    async def assign(
        self,
        ticket_id: FromPath[str],
        data: JSONBody[AssignBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> TicketSummary:
        reply = await clients.support.AssignTicket(
            pb.AssignTicketRequest(
                caller=caller(principal), ticket_id=ticket_id, assignee_id=data.assignee_id
            )
        )
        return ticket_summary(reply.ticket)

    @post("/tickets/{ticket_id:str}/status", status_code=200, summary="Change status (agents)")
    async def change_status(
        self,
        ticket_id: FromPath[str],
        data: JSONBody[StatusBody],
        principal: NamedDependency[Principal],
        clients: NamedDependency[ServiceClients],
    ) -> TicketSummary:
        reply = await clients.support.ChangeStatus(
            pb.ChangeStatusRequest(
                caller=caller(principal), ticket_id=ticket_id, status=_STATUS_TO_PB[data.status]
            )
        )
        return ticket_summary(reply.ticket)
