"""The front page: where a person who opened the gateway in a browser can go from here."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.datastructures import State

from gateway.pages import html_page


class HomeController(Controller):
    include_in_schema = False

    @get("/", summary="Front page")
    async def index(self, state: State) -> Response[str]:
        items = [
            '<li><a href="/schema">API documentation</a> (OpenAPI: '
            '<a href="/schema/openapi.json">/schema/openapi.json</a>)</li>',
            '<li><a href="/readyz">Readiness of every service</a></li>',
            '<li><a href="/.well-known/jwks.json">Public signing keys (JWKS)</a></li>',
        ]
        if state.settings.mailbox_dir is not None:
            items.insert(1, '<li><a href="/dev/mailbox">Mail sent while running locally</a></li>')
        body = (
            "<h1>Kabinet</h1><p>Accounts, subscriptions, downloads and support of the customer"
            f" portal.</p><ul>{''.join(items)}</ul>"
        )
        return html_page("Kabinet", body)
