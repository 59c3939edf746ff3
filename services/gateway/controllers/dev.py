"""/dev/mailbox: what the local SMTP sink received (development only; off unless
KABINET_MAILBOX_DIR is set, which `make run` does when it starts the sink)."""

from __future__ import annotations

import html

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from kabinet.devstack.mailbox import Mailbox, StoredMessage
from kabinet.errors import DomainError, ErrorKind

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.4rem;
border-bottom:1px solid #ddd}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}</style>
</head><body>{body}</body></html>"""

# The page is ours alone: no scripts at all, and no framing.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


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
        return Response(
            _PAGE.format(title="Mailbox", body=body), media_type="text/html", headers=_HEADERS
        )

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
        return Response(
            _PAGE.format(title=html.escape(message.subject), body=body),
            media_type="text/html",
            headers=_HEADERS,
        )
