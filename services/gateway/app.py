"""The gateway's composition root: a Litestar app wired to the services' gRPC clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ASGIApp

from gateway.auth import Authenticator, RevocationList
from gateway.client_ip import parse_networks
from gateway.clients import ServiceClients, connect
from gateway.config import GatewaySettings
from gateway.context import (
    provide_authenticator,
    provide_client_info,
    provide_clients,
    provide_language,
    provide_principal,
)
from gateway.controllers.account import AccountController
from gateway.controllers.auth import AuthController
from gateway.controllers.devices import (
    DeviceAuthorizationController,
    DevicePageController,
    DevicesController,
)
from gateway.controllers.downloads import DownloadsController, InstallerPageController
from gateway.controllers.health import HealthController
from gateway.controllers.links import LinkPagesController
from gateway.controllers.oidc import OidcController
from gateway.controllers.orders import (
    OrdersController,
    PaymentWebhooksController,
    SubscriptionActionsController,
)
from gateway.controllers.social import LinkedIdentitiesController, SocialSignInController
from gateway.controllers.subscriptions import (
    EntitlementsController,
    PlansController,
    SubscriptionsController,
)
from gateway.controllers.support import SupportController
from gateway.controllers.wellknown import WellKnownController
from gateway.docs import LocalSwaggerUI, docs_assets_router
from gateway.edge import EdgeMiddleware, EdgePolicy
from gateway.problems import EXCEPTION_HANDLERS
from gateway.revocations import RevocationFeed
from gateway.web import PortalController, static_router, template_config
from gateway.web.commerce import CommercePagesController
from gateway.web.support import SupportPortalController
from kabinet.objectstore.config import open_store
from kabinet.telemetry import tracing_enabled


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(settings: GatewaySettings, *, clients: ServiceClients | None = None) -> Litestar:
    """Build the app. gRPC channels are opened in the lifespan, on the serving loop, unless a
    test passes its own ``clients``."""
    common = settings.common
    revocations = RevocationList(timedelta(seconds=settings.revocation_window))
    trusted_proxies = parse_networks(settings.trusted_proxies)
    state = State(
        {
            "settings": settings,
            "objects": open_store(settings.objects),
            "trusted_proxies": trusted_proxies,
            "allowed_origins": frozenset(
                {_origin(common.public_url), f"http://{settings.host}:{settings.port}"}
                | set(settings.allowed_origins)
            ),
        }
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        own_clients = clients is None
        app.state.clients = clients or connect(common.addresses, settings.rpc_timeout)
        app.state.authenticator = Authenticator(
            app.state.clients, revocations, issuer=common.public_url, audience=common.api_audience
        )
        feed = RevocationFeed(common.nats_url, revocations)
        if common.nats_url:
            feed.start()
        try:
            yield
        finally:
            await feed.stop()
            if own_clients:
                await app.state.clients.close()

    handlers: list[Any] = [
        PortalController,
        CommercePagesController,
        static_router(),
        LinkPagesController,
        HealthController,
        WellKnownController,
        AuthController,
        AccountController,
        SocialSignInController,
        LinkedIdentitiesController,
        PlansController,
        SubscriptionsController,
        EntitlementsController,
        SupportController,
        SupportPortalController,
        docs_assets_router(),
        OrdersController,
        PaymentWebhooksController,
        SubscriptionActionsController,
        OidcController,
        DeviceAuthorizationController,
        DevicePageController,
        DevicesController,
        DownloadsController,
        InstallerPageController,
    ]
    if settings.mailbox_dir is not None:
        from gateway.controllers.dev import MailboxController

        handlers.append(MailboxController)

    app = Litestar(
        route_handlers=handlers,
        dependencies={
            "clients": Provide(provide_clients, sync_to_thread=False),
            "authenticator": Provide(provide_authenticator, sync_to_thread=False),
            "principal": Provide(provide_principal),
            "client_info": Provide(provide_client_info, sync_to_thread=False),
            "language": Provide(provide_language, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=template_config(),
        lifespan=[lifespan],
        state=state,
        request_max_body_size=settings.max_body_bytes,
        plugins=(
            [OpenTelemetryPlugin(OpenTelemetryConfig(exclude=["/healthz", "/readyz"]))]
            if tracing_enabled()
            else []
        ),
        openapi_config=OpenAPIConfig(
            title="Kabinet API",
            version="1",
            description="Accounts, subscriptions, downloads and support of the customer portal.",
            path="/schema",
            render_plugins=[LocalSwaggerUI(path=["/", "/swagger"])],
        ),
        logging_config=None,  # kabinet.logs owns logging: one format across the cluster
        debug=False,
    )
    # The edge wraps Litestar's whole handler chain, so that unmatched paths and errors get the
    # same headers, request id and limits as everything else.
    app.asgi_handler = cast(
        "ASGIApp",
        EdgeMiddleware(
            cast(Any, app.asgi_handler),
            EdgePolicy(
                trusted_proxies=trusted_proxies,
                cors_origins=frozenset(settings.cors_origins),
                hsts_seconds=settings.hsts_seconds if common.public_url.startswith("https:") else 0,
                per_ip_per_minute=settings.rate_limit_per_ip,
                per_session_per_minute=settings.rate_limit_per_session,
            ),
        ),
    )
    return app
