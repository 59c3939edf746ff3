"""Wiring of the OpenID provider, the client registry and the device registry on identity's pool.

``identity.app`` calls ``build_oidc`` after the core use cases and registers what it returns;
the seed file of clients is upserted before serving (idempotent, under an advisory lock).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from identity.api.oidc import OidcServices
from identity.domain.devices import DeviceFlow
from identity.domain.oidc import ClientRegistry, OpenIdProvider, load_seed
from identity.domain.services import RETENTION, IdentityServices
from identity.mail import identity_templates
from identity.store.oidc import OidcPostgresStore
from kabinet.auth.keys import VerificationKeys
from kabinet.rpc.callers import CallerAuthInterceptor, policy_interceptor, service_policy

log = logging.getLogger(__name__)

# Expired codes and grants are looked for this often (seconds).
PURGE_INTERVAL = 600.0
DEFAULT_SEED = Path(__file__).parent / "seed" / "clients.json"


def build_oidc(pool: asyncpg.Pool, services: IdentityServices) -> OidcServices:
    """The provider's use cases on ``pool``, sharing the sessions and keys of ``services``."""
    settings = services.settings
    store = OidcPostgresStore(pool, identity_templates())
    provider = OpenIdProvider(
        store,
        services.sessions,
        services.keys,
        services.clock,
        code_ttl=settings.oidc.code_ttl,
        access_ttl=settings.tokens.access_ttl,
    )
    return OidcServices(
        registry=ClientRegistry(store, services.clock),
        provider=provider,
        devices=DeviceFlow(store, services.sessions, services.clock, settings.oidc),
    )


async def housekeeping(oidc: OidcServices, interval: float) -> None:
    """Delete expired codes and device grants (kept a day, like spent links) now and then; runs
    until cancelled, surviving database hiccups."""
    while True:
        await asyncio.sleep(interval)
        try:
            purged = await oidc.provider.purge(RETENTION)
            if purged:
                log.info("expired grants deleted", extra={"rows": purged})
        except Exception:  # the next round tries again
            log.exception("oidc housekeeping failed")


async def seed_clients(oidc: OidcServices, seed: str) -> None:
    """Upsert the clients of the seed file (``KABINET_IDENTITY_CLIENTS_SEED``, or the default)."""
    path = Path(seed) if seed else DEFAULT_SEED
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    await oidc.registry.seed(load_seed(text))


def local_callers(services: IdentityServices) -> CallerAuthInterceptor:
    """Identity's caller authentication: the policy of ``identity.api`` (every module's
    ``OPERATOR_METHODS`` and ``METHOD_SCOPES``), verified with its own key ring."""

    async def keys(fresh: bool) -> VerificationKeys:
        if fresh:
            await services.sessions.reload_keys(services.clock())
        return services.keys.ring

    return policy_interceptor(
        service_policy("identity.api"),
        keys,
        issuer=services.settings.issuer,
        audience=services.settings.common.api_audience,
    )
