"""Support pages: the person's tickets, a new ticket, the ticket with its thread (also the page
emailed links open), and for agents the queue. The data comes from the support service with
the caller's account and roles, which decides what each may see; the forms post to
``/api/v1/support``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from gateway.auth import Principal
from gateway.controllers.support import caller, ticket_detail, ticket_summary
from gateway.support_schemas import TicketDetail, TicketSummary
from gateway.web.rendering import principal_of, render_page
from kabinet.support.v1 import support_pb2 as pb

AGENT_ROLE = "support_agent"
TOPICS = ("technical", "installation", "activation", "account", "payment", "other")
# What an agent may move a ticket to from the page (the service checks the transition).
AGENT_STATUSES = ("in_progress", "waiting_for_customer", "resolved", "closed")


def is_agent(principal: Principal) -> bool:
    return AGENT_ROLE in principal.roles


def minute(iso: str) -> str:
    """An API timestamp (``2026-11-25T14:03:07.123Z``) as the pages show it: UTC, to the
    minute; empty stays empty."""
    return iso[:16].replace("T", " ") if len(iso) >= 16 else iso


@dataclass(frozen=True)
class ShownMessage:
    author: str  # a words key: support.ticket.you / customer / agent / internal
    internal: bool
    body: str
    at: str
    attachments: list[dict[str, str]]


def shown_thread(detail: TicketDetail, viewer_id: str, *, agent: bool) -> list[ShownMessage]:
    """The messages one viewer sees. Internal notes are for agents only: the service already
    leaves them out for customers, and the page drops any that came anyway."""
    shown = []
    for m in detail.messages:
        if m.internal and not agent:
            continue
        if m.internal:
            author = "support.ticket.internal"
        elif m.author_id == viewer_id:
            author = "support.ticket.you"
        elif m.author_role == "agent":
            author = "support.ticket.agent"
        else:
            author = "support.ticket.customer"
        shown.append(
            ShownMessage(
                author=author,
                internal=m.internal,
                body=m.body,
                at=minute(m.created_at),
                attachments=[{"name": a.filename, "url": a.url} for a in m.attachments],
            )
        )
    return shown


def owner_actions(ticket: TicketSummary, viewer_id: str) -> dict[str, bool]:
    """What the ticket's owner may do now: reply while it is open, rate a resolved or closed
    ticket once, reopen a resolved one (the service enforces each, this only hides buttons)."""
    owner = ticket.owner_id == viewer_id
    done = ticket.status in ("resolved", "closed")
    return {
        "reply": owner and ticket.status != "closed",
        "rate": owner and done and ticket.rating is None,
        "reopen": owner and ticket.status == "resolved",
    }


def row(ticket: TicketSummary, viewer_id: str) -> dict[str, Any]:
    """A ticket as a line of a list page."""
    if not ticket.assignee_id:
        assignee = ""
    elif ticket.assignee_id == viewer_id:
        assignee = "you"
    else:
        assignee = ticket.assignee_id[:8]
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "updated": minute(ticket.updated_at),
        "sla_due": minute(ticket.sla_due_at),
        "assignee": assignee,
    }


def _to_signin(path: str) -> Redirect:
    return Redirect(f"/signin?next={quote(path, safe='/')}")


class SupportPortalController(Controller):
    """``/support``: pages for customers and agents; changes go through /api/v1/support."""

    path = "/support"
    include_in_schema = False

    @get("/")
    async def my_tickets(
        self, request: Request[Any, Any, Any], state: State
    ) -> Template | Redirect:
        principal = await principal_of(request, state)
        if principal is None:
            return _to_signin("/support")
        reply = await state.clients.support.ListMyTickets(
            pb.ListMyTicketsRequest(caller=caller(principal))
        )
        return render_page(
            request,
            state,
            "support_list.html",
            "support",
            signed_in=True,
            agent=is_agent(principal),
            tickets=[row(ticket_summary(t), principal.account_id) for t in reply.tickets],
        )

    @get("/new")
    async def new_ticket(
        self, request: Request[Any, Any, Any], state: State
    ) -> Template | Redirect:
        principal = await principal_of(request, state)
        if principal is None:
            return _to_signin("/support/new")
        return render_page(
            request, state, "support_new.html", "support", signed_in=True, topics=TOPICS
        )

    @get("/tickets/{ticket_id:str}")
    async def ticket(
        self, ticket_id: FromPath[str], request: Request[Any, Any, Any], state: State
    ) -> Template | Redirect:
        """The one ticket page (emailed links open it too). Someone else's ticket is 404."""
        principal = await principal_of(request, state)
        if principal is None:
            return _to_signin(f"/support/tickets/{ticket_id}")
        detail = ticket_detail(
            await state.clients.support.GetTicket(
                pb.GetTicketRequest(caller=caller(principal), ticket_id=ticket_id)
            )
        )
        agent = is_agent(principal)
        ticket = detail.ticket
        return render_page(
            request,
            state,
            "support_ticket.html",
            "support",
            signed_in=True,
            agent=agent,
            ticket=ticket,
            info=row(ticket, principal.account_id),
            thread=shown_thread(detail, principal.account_id, agent=agent),
            can=owner_actions(ticket, principal.account_id),
            statuses=[s for s in AGENT_STATUSES if s != ticket.status],
        )

    @get("/queue")
    async def queue(
        self, request: Request[Any, Any, Any], state: State, mine: FromQuery[bool] = False
    ) -> Template | Redirect:
        principal = await principal_of(request, state)
        if principal is None:
            return _to_signin("/support/queue")
        if not is_agent(principal):
            return Redirect("/support")
        reply = await state.clients.support.ListQueue(
            pb.ListQueueRequest(caller=caller(principal), only_mine=mine)
        )
        return render_page(
            request,
            state,
            "support_queue.html",
            "support",
            signed_in=True,
            agent=True,
            mine=mine,
            tickets=[row(ticket_summary(t), principal.account_id) for t in reply.tickets],
        )
