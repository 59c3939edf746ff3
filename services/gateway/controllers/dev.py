"""/dev/mailbox: what the local SMTP sink received (development only; off unless
KABINET_MAILBOX_DIR is set, which `make run` does when it starts the sink)."""

from __future__ import annotations

import html

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from gateway.pages import html_page
from kabinet.devstack.mailbox import Mailbox, StoredMessage
from kabinet.errors import DomainError, ErrorKind


def _linkify(text: str, links: tuple[str, ...]) -> str:
    escaped = html.escape(text)
    for link in sorted(set(links), key=len, reverse=True):
        safe = html.escape(link)
        escaped = escaped.replace(safe, f'<a href="{safe}">{safe}</a>')
    return escaped


def _row(message: StoredMessage) -> str:
    return (
        f"<tr><td>{html.escape(message.received_at.strftime('%Y-%m-%d %H:%M:%S'))}</td>"
        f"<td>{html.escape(message.to)}</td>"
        f'<td><a href="/dev/mailbox/{html.escape(message.key)}">{html.escape(message.subject)}</a>'
        "</td></tr>"
    )


class MailboxController(Controller):
    path = "/dev/mailbox"
    tags = ["development"]  # noqa: RUF012
    include_in_schema = False

    @get("/", summary="Messages the local SMTP sink received, newest first")
    async def index(self, state: State) -> Response[str]:
        messages = Mailbox(state.settings.mailbox_dir).latest(200)
        rows = "".join(_row(m) for m in messages) or '<tr><td colspan="3">No mail yet.</td></tr>'
        body = (
            "<h1>Mailbox</h1><p>Every message Kabinet sent while running locally.</p>"
            f"<table><tr><th>Received</th><th>To</th><th>Subject</th></tr>{rows}</table>"
        )
        return html_page("Mailbox", body)

    @get("/{key:str}", summary="One received message")
    async def message(self, key: FromPath[str], state: State) -> Response[str]:
        try:
            message = Mailbox(state.settings.mailbox_dir).get(key)
        except (KeyError, ValueError, OSError):
            raise DomainError(ErrorKind.NOT_FOUND, "request.not_found") from None
        body = (
            '<p><a href="/dev/mailbox">← Mailbox</a></p>'
            f"<h1>{html.escape(message.subject)}</h1>"
            f"<p>From {html.escape(message.sender)} to {html.escape(message.to)}</p>"
            f"<pre>{_linkify(message.text, message.links)}</pre>"
        )
        return html_page(message.subject, body)
