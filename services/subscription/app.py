"""The subscription service's composition root: PostgreSQL store, the seeded catalog, the payment
provider, the consumers of identity's events, the scheduler and gRPC."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from kabinet.service import ServiceHost
from subscription.accounts import IdentityAccounts
from subscription.api.admin import register_admin
from subscription.api.grpc import ADMIN_SERVICE_NAME, SERVICE_NAME, register
from subscription.config import SubscriptionSettings
from subscription.domain.catalog import DEFAULT_SEED, read_seed
from subscription.domain.lifecycle import LifecycleServices
from subscription.domain.orders import OrderServices
from subscription.domain.payments import PaymentProvider
from subscription.domain.ports import Clock
from subscription.domain.refunds import RefundServices
from subscription.domain.reminders import Accounts
from subscription.domain.scheduler import Scheduler
from subscription.domain.seats import SeatServices
from subscription.domain.services import SubscriptionServices
from subscription.events.consumers import (
    DEVICE_SUBJECTS,
    PURCHASE_SUBJECTS,
    device_handler,
    purchase_handler,
)
from subscription.payments.sandbox import SandboxProvider
from subscription.store.postgres import PostgresStore

MIGRATIONS = Path(__file__).parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def seed_path(settings: SubscriptionSettings) -> Path:
    """The catalog file: ``KABINET_SUBSCRIPTION_SEED`` or the one shipped with the service."""
    return Path(settings.seed) if settings.seed else DEFAULT_SEED


@dataclass(frozen=True)
class Wired:
    """Every use case of the service, on one store and clock."""

    core: SubscriptionServices
    orders: OrderServices
    seats: SeatServices
    lifecycle: LifecycleServices
    refunds: RefundServices
    scheduler: Scheduler


def wire(
    store: PostgresStore,
    settings: SubscriptionSettings,
    clock: Clock = utc_now,
    provider: PaymentProvider | None = None,
    accounts: Accounts | None = None,
) -> Wired:
    grace = timedelta(days=settings.schedule.grace_days)
    p = settings.payments
    provider = provider or SandboxProvider(p.sandbox_url, p.sandbox_api_key, p.timeout)
    orders = OrderServices(
        store,
        clock,
        provider,
        # The buyer comes back to the portal's order page (it follows the payment's outcome).
        f"{settings.common.public_url.rstrip('/')}/orders",
        grace,
    )
    return Wired(
        core=SubscriptionServices(store, clock, settings.redeem, grace),
        orders=orders,
        seats=SeatServices(store, clock, grace),
        lifecycle=LifecycleServices(store, clock, grace),
        refunds=RefundServices(store, clock, provider, grace),
        scheduler=Scheduler(
            store,
            clock,
            orders,
            accounts
            or IdentityAccounts(
                settings.common.addresses.identity, settings.schedule.identity_timeout
            ),
            grace=grace,
            renew_ahead=timedelta(days=settings.schedule.renew_days),
        ),
    )


def make_services(
    host: ServiceHost, settings: SubscriptionSettings, clock: Clock = utc_now
) -> SubscriptionServices:
    """The core use cases on the host's pool."""
    return wire(PostgresStore(host.pool), settings, clock).core


async def serve(
    settings: SubscriptionSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    clock: Clock = utc_now,
    callers: grpc.aio.ServerInterceptor | None = None,
) -> None:
    """Load the catalog seed (before serving: a bad file stops start-up), then serve.
    ``callers`` replaces the caller check (tests without identity bring their own keys)."""
    plans = read_seed(seed_path(settings))
    async with ServiceHost("subscription", settings.common, migrations=MIGRATIONS) as host:
        store = PostgresStore(host.pool, host.schema, kept=settings.entitlement_cache)
        w = wire(store, settings, clock)
        await w.core.seed_plans(plans)
        host.consume(
            stream="IDENTITY",
            durable="purchases",
            subjects=PURCHASE_SUBJECTS,
            handler=purchase_handler(w.orders),
        )
        host.consume(
            stream="IDENTITY",
            durable="devices",
            subjects=DEVICE_SUBJECTS,
            handler=device_handler(w.seats),
        )
        halt = asyncio.Event()
        store.start()
        store.entitlements.report_to(
            host.meter("kabinet.subscription"), "kabinet.entitlements", {"service": host.name}
        )
        scheduler = None
        if settings.schedule.interval > 0:
            scheduler = asyncio.create_task(
                w.scheduler.run(settings.schedule.interval, halt), name="scheduler"
            )
        try:
            await host.serve(
                [
                    register(w.core, w.orders, w.seats, w.lifecycle, w.refunds),
                    register_admin(w.core),
                ],
                [SERVICE_NAME, ADMIN_SERVICE_NAME],
                stop=stop,
                ready=ready,
                callers=callers,
            )
        finally:
            halt.set()
            if scheduler is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
            await store.close()
