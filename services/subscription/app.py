"""The subscription service's composition root: PostgreSQL store, the seeded catalog, gRPC."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from kabinet.service import ServiceHost
from subscription.api.grpc import SERVICE_NAME, register
from subscription.config import SubscriptionSettings
from subscription.domain.catalog import DEFAULT_SEED, read_seed
from subscription.domain.ports import Clock
from subscription.domain.services import SubscriptionServices
from subscription.store.postgres import PostgresStore

MIGRATIONS = Path(__file__).parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def seed_path(settings: SubscriptionSettings) -> Path:
    """The catalog file: ``KABINET_SUBSCRIPTION_SEED`` or the one shipped with the service."""
    return Path(settings.seed) if settings.seed else DEFAULT_SEED


def make_services(
    host: ServiceHost, settings: SubscriptionSettings, clock: Clock = utc_now
) -> SubscriptionServices:
    """Every use case on the host's pool."""
    return SubscriptionServices(PostgresStore(host.pool), clock, settings.redeem)


async def serve(
    settings: SubscriptionSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Load the catalog seed (before serving: a bad file stops start-up), then serve."""
    plans = read_seed(seed_path(settings))
    async with ServiceHost("subscription", settings.common, migrations=MIGRATIONS) as host:
        services = make_services(host, settings)
        await services.seed_plans(plans)
        await host.serve([register(services)], [SERVICE_NAME], stop=stop, ready=ready)
