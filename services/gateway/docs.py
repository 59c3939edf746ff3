"""The API docs page: Swagger UI served from the gateway itself.

Swagger UI's files come from the ``swagger-ui-py`` wheel (no CDN, so the docs work offline and
under the gateway's Content-Security-Policy); the page runs no inline script: a small script of
ours reads the document's address from a data attribute.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

ASSETS_PATH = "/schema/assets"
SWAGGER_FILES = Path(str(files("swagger_ui") / "static"))
OWN_FILES = Path(__file__).parent / "static" / "docs"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon-32x32.png">
</head><body>
<div id="swagger-ui" data-openapi-url="{document}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-standalone-preset.js"></script>
<script src="{assets}/kabinet-docs.js"></script>
</body></html>"""


class LocalSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI at the docs root, with every file served by the gateway."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        return _PAGE.format(
            title=html.escape(title),
            assets=ASSETS_PATH,
            document=html.escape(self.get_openapi_json_route(request)),
        ).encode()


def docs_assets_router() -> ControllerRouterHandler:
    """Serves Swagger UI's files and our start-up script under ``ASSETS_PATH``."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[OWN_FILES, SWAGGER_FILES],
        include_in_schema=False,
        cache_control=None,
    )
