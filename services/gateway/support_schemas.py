"""Request and response bodies of the support routes (msgspec Structs).

Unknown request fields are ignored: an ``owner_id`` or ``status`` sent with a new ticket, a reply
or a rating has no effect. Bodies and subjects are returned as plain JSON strings; pages that show
them escape them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

TEXT_MAX_LENGTH = 40_000
Text = Annotated[str, msgspec.Meta(max_length=TEXT_MAX_LENGTH)]
StatusName = Literal["new", "in_progress", "waiting_for_customer", "resolved", "closed"]


class ReplyBody(msgspec.Struct):
    body: Text


class RatingBody(msgspec.Struct):
    rating: int
    comment: Annotated[str, msgspec.Meta(max_length=4000)] = ""


class StatusBody(msgspec.Struct):
    status: StatusName


class AssignBody(msgspec.Struct):
    # Empty: the calling agent.
    assignee_id: Annotated[str, msgspec.Meta(max_length=64)] = ""


class AttachmentInfo(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    size: int
    url: str


class TicketMessage(msgspec.Struct):
    id: str
    author_role: str
    author_id: str
    body: str
    internal: bool
    created_at: str
    attachments: list[AttachmentInfo]


class HistoryItem(msgspec.Struct):
    kind: str
    from_value: str
    to_value: str
    at: str


class TicketSummary(msgspec.Struct):
    id: str
    owner_id: str
    topic: str
    application: str
    device: str
    subject: str
    status: str
    priority: str
    sla_due_at: str
    assignee_id: str
    created_at: str
    updated_at: str
    resolved_at: str
    rating: int | None
    rating_comment: str


class TicketDetail(msgspec.Struct):
    ticket: TicketSummary
    messages: list[TicketMessage]
    history: list[HistoryItem]


class ReplyResult(msgspec.Struct):
    message: TicketMessage
    ticket: TicketSummary
