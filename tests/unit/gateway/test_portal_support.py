"""Support pages without services: what each viewer of a ticket is shown (internal notes only
to agents, escaped text), which owner actions are offered, and the words of every status."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.plugins.jinja import JinjaTemplateEngine

from gateway.auth import Principal
from gateway.support_schemas import AttachmentInfo, TicketDetail, TicketMessage, TicketSummary
from gateway.web.rendering import HERE
from gateway.web.support import (
    AGENT_STATUSES,
    TOPICS,
    is_agent,
    minute,
    owner_actions,
    row,
    shown_thread,
)
from gateway.web.texts import TEXTS

OWNER = "owner-0001"
AGENT = "agent-0002"


def summary(**changes: Any) -> TicketSummary:
    values: dict[str, Any] = {
        "id": "t-1",
        "owner_id": OWNER,
        "topic": "technical",
        "application": "App 5.1",
        "device": "Windows 11",
        "subject": "Crash <b>at</b> start",
        "status": "new",
        "priority": "high",
        "sla_due_at": "2026-11-25T18:00:00Z",
        "assignee_id": "",
        "created_at": "2026-11-25T14:00:00Z",
        "updated_at": "2026-11-25T14:03:07.123456Z",
        "resolved_at": "",
        "rating": None,
        "rating_comment": "",
    }
    values.update(changes)
    return TicketSummary(**values)


def message(author_id: str, role: str, body: str, *, internal: bool = False) -> TicketMessage:
    return TicketMessage(
        id=f"m-{body[:4]}",
        author_role=role,
        author_id=author_id,
        body=body,
        internal=internal,
        created_at="2026-11-25T14:05:00Z",
        attachments=[
            AttachmentInfo(
                id="a-1",
                filename="log<1>.txt",
                content_type="text/plain",
                size=3,
                url="/api/v1/support/attachments/a-1",
            )
        ]
        if role == "customer"
        else [],
    )


def detail(**changes: Any) -> TicketDetail:
    return TicketDetail(
        ticket=summary(**changes),
        messages=[
            message(OWNER, "customer", "It <script>alert(1)</script> crashes"),
            message(AGENT, "agent", "old build, known bug", internal=True),
            message(AGENT, "agent", "Please update"),
        ],
        history=[],
    )


def principal(*roles: str) -> Principal:
    return Principal(AGENT, "s-1", roles, (), None, by_cookie=True)


def test_only_the_support_agent_role_makes_an_agent() -> None:
    assert is_agent(principal("support_agent"))
    assert not is_agent(principal())
    assert not is_agent(principal("operator", "support"))


@pytest.mark.parametrize(
    ("iso", "shown"),
    [
        ("2026-11-25T14:03:07.123456Z", "2026-11-25 14:03"),
        ("2026-11-25T14:03:07Z", "2026-11-25 14:03"),
        ("", ""),
    ],
)
def test_times_are_shown_to_the_minute(iso: str, shown: str) -> None:
    assert minute(iso) == shown


def test_customers_never_see_internal_notes() -> None:
    thread = shown_thread(detail(), OWNER, agent=False)
    assert [m.body for m in thread] == ["It <script>alert(1)</script> crashes", "Please update"]
    assert [m.author for m in thread] == ["support.ticket.you", "support.ticket.agent"]
    assert thread[0].attachments == [
        {"name": "log<1>.txt", "url": "/api/v1/support/attachments/a-1"}
    ]


def test_agents_see_internal_notes_marked_as_internal() -> None:
    thread = shown_thread(detail(), AGENT, agent=True)
    assert [(m.author, m.internal) for m in thread] == [
        ("support.ticket.customer", False),
        ("support.ticket.internal", True),
        ("support.ticket.you", False),
    ]
    assert thread[0].at == "2026-11-25 14:05"


@pytest.mark.parametrize(
    ("viewer", "status", "rating", "expected"),
    [
        (OWNER, "new", None, {"reply": True, "rate": False, "reopen": False}),
        (OWNER, "resolved", None, {"reply": True, "rate": True, "reopen": True}),
        (OWNER, "resolved", 4, {"reply": True, "rate": False, "reopen": True}),
        (OWNER, "closed", None, {"reply": False, "rate": True, "reopen": False}),
        (AGENT, "resolved", None, {"reply": False, "rate": False, "reopen": False}),
    ],
)
def test_owner_actions_follow_the_status(
    viewer: str, status: str, rating: int | None, expected: dict[str, bool]
) -> None:
    assert owner_actions(summary(status=status, rating=rating), viewer) == expected


def test_rows_name_the_assignee_as_the_viewer_sees_them() -> None:
    assert row(summary(), AGENT)["assignee"] == ""
    assert row(summary(assignee_id=AGENT), AGENT)["assignee"] == "you"
    assert row(summary(assignee_id="0123456789abcdef"), AGENT)["assignee"] == "01234567"
    line = row(summary(), OWNER)
    assert (line["updated"], line["sla_due"], line["priority"]) == (
        "2026-11-25 14:03",
        "2026-11-25 18:00",
        "high",
    )


def test_every_status_topic_and_priority_has_words() -> None:
    statuses = {"new", *AGENT_STATUSES}
    for language in ("en", "ru"):
        words = TEXTS[language]
        assert all(f"support.status.{s}" in words for s in statuses)
        assert all(f"support.topic.{t}" in words for t in TOPICS)
        assert all(f"support.priority.{p}" in words for p in ("normal", "high"))


def render_ticket(viewer: str, *, agent: bool, language: str = "en") -> str:
    engine = JinjaTemplateEngine(directory=HERE / "templates")
    shown = detail(status="resolved")
    return engine.get_template("support_ticket.html").render(
        lang=language,
        other_lang="ru",
        t=TEXTS[language],
        page="support",
        path="/support/tickets/t-1",
        signed_in=True,
        mailbox=False,
        agent=agent,
        ticket=shown.ticket,
        info=row(shown.ticket, viewer),
        thread=shown_thread(shown, viewer, agent=agent),
        can=owner_actions(shown.ticket, viewer),
        statuses=[s for s in AGENT_STATUSES if s != "resolved"],
    )


def test_the_ticket_page_escapes_text_and_hides_notes_and_agent_forms_from_customers() -> None:
    page = render_ticket(OWNER, agent=False)
    assert "It &lt;script&gt;alert(1)&lt;/script&gt; crashes" in page
    assert "Crash &lt;b&gt;at&lt;/b&gt; start" in page
    assert "log&lt;1&gt;.txt" in page
    assert "<script>alert" not in page
    assert "old build" not in page
    assert "/notes" not in page
    assert "/assign" not in page
    assert "/rating" in page
    assert "/reopen" in page


def test_the_ticket_page_gives_agents_their_forms_and_marks_notes() -> None:
    page = render_ticket(AGENT, agent=True, language="ru")
    assert "old build, known bug" in page
    assert 'class="message internal"' in page
    assert TEXTS["ru"]["support.ticket.internal"] in page
    for action in ("/notes", "/assign", "/status"):
        assert action in page
    assert "/rating" not in page


def test_agents_read_the_waiting_status_as_the_customers_turn() -> None:
    customer = render_ticket(OWNER, agent=False)
    agent = render_ticket(AGENT, agent=True)
    assert TEXTS["en"]["support.status.resolved"] in customer
    assert TEXTS["en"]["support.status.agent.waiting_for_customer"] in agent
    assert TEXTS["en"]["support.status.waiting_for_customer"] not in agent
