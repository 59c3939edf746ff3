"""Script-free pages of the gateway (emailed links, OpenID sign-in and consent, device approval,
the development mailbox): the portal's stylesheet, one layout and one set of security headers."""

from __future__ import annotations

import html

from litestar import Response

_LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/portal.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head><body><header class="top"><a class="brand" href="/">Kabinet</a></header>
<main class="plain">{body}</main></body></html>"""

# No scripts at all, no framing, no referrer: these pages may show links that carry tokens.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none';"
        " base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def html_page(title: str, body: str, *, lang: str = "en", status: int = 200) -> Response[str]:
    """A page with ``body`` (already escaped HTML) in the shared layout."""
    return Response(
        _LAYOUT.format(lang=lang, title=html.escape(title), body=body),
        status_code=status,
        media_type="text/html",
        headers=SECURITY_HEADERS,
    )
