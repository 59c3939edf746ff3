"""The distribution service's composition root: PostgreSQL store, object store, subscription
client, the seeded catalog, the entitlements consumer and gRPC."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from distribution.api.grpc import SERVICE_NAME, register
from distribution.config import DistributionSettings
from distribution.domain.model import Rights
from distribution.domain.seed import DEFAULT_SEED, load_seed, read_seed
from distribution.domain.services import DistributionServices, LinkRules
from distribution.entitlements import SubscriptionRights
from distribution.events.incoming import ENTITLEMENTS_CHANGED, entitlements_handler
from distribution.mail import distribution_templates
from distribution.store.postgres import PostgresStore
from kabinet.objectstore.config import open_store
from kabinet.rpc.client import create_channel
from kabinet.service import ServiceHost
from kabinet.subscription.v1 import subscription_pb2, subscription_pb2_grpc

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
MIN_SECRET = 32


def utc_now() -> datetime:
    return datetime.now(UTC)


def link_secret(settings: DistributionSettings) -> bytes:
    """The configured key, or a random one (logged as a warning: links then die with the process
    and differ between replicas)."""
    if settings.link_secret:
        if len(settings.link_secret) < MIN_SECRET:
            raise RuntimeError(f"KABINET_DISTRIBUTION_LINK_SECRET needs {MIN_SECRET}+ characters")
        return settings.link_secret.encode()
    log.warning("KABINET_DISTRIBUTION_LINK_SECRET is not set: a random key signs download links")
    return secrets.token_bytes(32)


async def serve(
    settings: DistributionSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Load the catalog seed (a bad file stops start-up), then serve."""
    seed = read_seed(Path(settings.seed) if settings.seed else DEFAULT_SEED)
    secret = link_secret(settings)
    objects = open_store(settings.objects)
    templates = distribution_templates()
    async with ServiceHost("distribution", settings.common, migrations=MIGRATIONS) as host:
        store = PostgresStore(host.pool, templates)
        channel = create_channel(
            settings.common.addresses.subscription,
            services=[subscription_pb2.DESCRIPTOR.services_by_name["SubscriptionService"]],
            default_timeout=5.0,
        )

        async def snapshot(account_id: uuid.UUID) -> Rights | None:
            async with store.connection() as db:
                return await db.snapshot(account_id)

        subscriptions = SubscriptionRights(
            subscription_pb2_grpc.SubscriptionServiceStub(channel),
            snapshot,
            ttl=settings.entitlements_ttl,
        )
        services = DistributionServices(
            store,
            objects,
            subscriptions,
            utc_now,
            LinkRules(
                secret=secret,
                ttl=timedelta(seconds=settings.link_ttl),
                public_url=settings.common.public_url,
                max_artifact_bytes=settings.max_artifact_bytes,
                send_limit=settings.send_limit,
                send_window=timedelta(seconds=settings.send_window),
            ),
        )
        await load_seed(services, seed, placeholders=settings.placeholders)
        host.consume(
            stream="SUBSCRIPTION",
            durable="entitlements",
            subjects=[ENTITLEMENTS_CHANGED],
            handler=entitlements_handler(services, templates),
        )
        try:
            await host.serve([register(services)], [SERVICE_NAME], stop=stop, ready=ready)
        finally:
            await channel.close()
