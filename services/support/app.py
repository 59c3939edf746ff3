"""The support service's composition root: PostgreSQL store, object store, gRPC clients of
identity and subscription, consumers and the gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

from kabinet.objectstore.config import open_store
from kabinet.service import ServiceHost
from support.api.grpc import SERVICE_NAME, register
from support.clients import IdentityAccounts, SubscriptionEntitlements, channels
from support.config import SupportSettings
from support.domain.services import SupportServices
from support.events.consumers import ACCOUNT_DELETED, ENTITLEMENTS_CHANGED, SupportConsumers
from support.mail import support_templates
from support.store.postgres import PostgresStore

MIGRATIONS = Path(__file__).parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


async def serve(
    settings: SupportSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the service until stopped."""
    rules = settings.rules()
    templates = support_templates()
    common = settings.common
    async with ServiceHost("support", common, migrations=MIGRATIONS) as host:
        links = channels(
            common.addresses.identity, common.addresses.subscription, settings.rpc_timeout
        )
        try:
            services = SupportServices(
                PostgresStore(host.pool, templates),
                open_store(settings.objects),
                SubscriptionEntitlements(links["subscription"], settings.rpc_timeout),
                IdentityAccounts(links["identity"], settings.rpc_timeout),
                utc_now,
                rules,
                common.public_url,
            )
            consumers = SupportConsumers(services, templates)
            host.consume(
                stream="SUBSCRIPTION",
                durable="entitlements",
                subjects=[ENTITLEMENTS_CHANGED],
                handler=consumers.entitlements_changed,
            )
            host.consume(
                stream="IDENTITY",
                durable="account-deleted",
                subjects=[ACCOUNT_DELETED],
                handler=consumers.account_deleted,
            )
            await host.serve([register(services)], [SERVICE_NAME], stop=stop, ready=ready)
        finally:
            for channel in links.values():
                with contextlib.suppress(Exception):
                    await channel.close()
