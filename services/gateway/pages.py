"""Server-rendered HTML pages of the gateway: one layout and one set of security headers."""

from __future__ import annotations

import html

from litestar import Response

_LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.4rem;
border-bottom:1px solid #ddd}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}</style>
</head><body>{body}</body></html>"""

# No scripts at all, no framing, no referrer: these pages may show links that carry tokens.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
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
