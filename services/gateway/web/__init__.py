"""The portal: server-rendered pages in Russian and English, with one small script.

Pages are Jinja templates (``templates/``) filled from the services over gRPC; their forms send
JSON to the same public API that apps use (``static/portal.js``), so every rule and error text
stays in one place. The language comes from the ``kabinet_lang`` cookie (set by the switch link
on every page), else the browser's Accept-Language. Nothing is loaded from other origins and no
script is inline, so the edge's Content-Security-Policy holds on every page.
"""

from gateway.web.portal import PortalController
from gateway.web.rendering import safe_next, static_router, template_config

__all__ = ["PortalController", "safe_next", "static_router", "template_config"]
