"""The identity service's composition root: PostgreSQL store, argon2id pool, use cases, gRPC."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

from identity.api import oidc as oidc_api
from identity.api.federation import SERVICE_NAME as FEDERATION_SERVICE_NAME
from identity.api.federation import register as register_federation
from identity.api.grpc import SERVICE_NAME, register
from identity.config import IdentitySettings
from identity.domain.credentials import Credentials
from identity.domain.password_hashing import Argon2Params, PasswordHasher
from identity.domain.ports import Clock
from identity.domain.services import IdentityServices, build_services
from identity.events.purchases import ORDER_COMPLETED, order_completed_handler
from identity.mail import identity_templates
from identity.oidc_app import PURGE_INTERVAL, build_oidc, local_callers, seed_clients
from identity.oidc_app import housekeeping as oidc_housekeeping
from identity.social.wiring import federation
from identity.store.postgres import PostgresStore
from identity.store.roles import PostgresRoleStore
from kabinet.service import ServiceHost

MIGRATIONS = Path(__file__).parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_hasher(settings: IdentitySettings) -> PasswordHasher:
    """The argon2id hasher with the configured parameters and pool size."""
    p = settings.passwords
    return PasswordHasher(
        Argon2Params(
            memory_kib=p.argon2_memory_kib,
            time_cost=p.argon2_time_cost,
            parallelism=p.argon2_parallelism,
        ),
        max_workers=p.hash_workers or None,
    )


def make_services(
    host: ServiceHost, settings: IdentitySettings, hasher: PasswordHasher, clock: Clock = utc_now
) -> IdentityServices:
    """Every use case on the host's pool."""
    store = PostgresStore(host.pool, identity_templates())
    passwords = Credentials(hasher, min_strength=settings.passwords.min_strength)
    return build_services(store, passwords, settings, clock, PostgresRoleStore(host.pool))


async def serve(
    settings: IdentitySettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the service until stopped."""
    async with ServiceHost("identity", settings.common, migrations=MIGRATIONS) as host:
        with make_hasher(settings) as hasher:
            services = make_services(host, settings, hasher)
            await services.start()
            # A paid order of a buyer without a known account (subscription's event).
            host.consume(
                stream="SUBSCRIPTION",
                durable="purchases",
                subjects=[ORDER_COMPLETED],
                handler=order_completed_handler(services),
            )
            oidc = build_oidc(host.pool, services)
            await seed_clients(oidc, settings.oidc.clients_seed)
            housekeeping = asyncio.create_task(services.housekeeping(), name="housekeeping")
            oidc_purge = asyncio.create_task(
                oidc_housekeeping(oidc, PURGE_INTERVAL), name="oidc-housekeeping"
            )
            try:
                async with federation(
                    host.pool, identity_templates(), settings, services.sessions, services.clock
                ) as social:
                    await host.serve(
                        [register(services), register_federation(social), oidc_api.register(oidc)],
                        [SERVICE_NAME, FEDERATION_SERVICE_NAME, *oidc_api.SERVICE_NAMES],
                        stop=stop,
                        ready=ready,
                        callers=local_callers(services),
                    )
            finally:
                housekeeping.cancel()
                oidc_purge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await housekeeping
                with contextlib.suppress(asyncio.CancelledError):
                    await oidc_purge
                await services.close()
