"""Social sign-in wired on identity's pool: the adapters' HTTP client, the region policy, the use
cases, and a periodic purge of expired flows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx

from identity.config import IdentitySettings
from identity.domain.federation import FederationService
from identity.domain.ports import Clock
from identity.domain.regions import RegionPolicy, parse_table
from identity.domain.sessions import SessionService
from identity.social.oauth import Http
from identity.social.providers import configured_providers
from identity.store.federation import FederationStore
from kabinet.mail.templates import TemplateSet

log = logging.getLogger(__name__)

PURGE_INTERVAL = 600.0
RETENTION = timedelta(days=1)


@contextlib.asynccontextmanager
async def federation(
    pool: asyncpg.Pool,
    templates: TemplateSet,
    settings: IdentitySettings,
    sessions: SessionService,
    clock: Clock,
) -> AsyncIterator[FederationService]:
    """The federation use cases for as long as the block runs."""
    social = settings.social
    async with httpx.AsyncClient(timeout=social.http_timeout, follow_redirects=False) as client:
        providers = configured_providers(social, Http(client))
        regions = RegionPolicy(parse_table(social.regions), social.default_region, list(providers))
        service = FederationService(
            FederationStore(pool, templates),
            providers,
            regions,
            sessions,
            clock,
            public_url=settings.common.public_url,
            flow_ttl=social.flow_ttl,
        )
        log.info("social sign-in providers", extra={"configured": ",".join(providers)})
        purge = asyncio.create_task(_purge(service, clock), name="social-flow-purge")
        try:
            yield service
        finally:
            purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purge


async def _purge(service: FederationService, clock: Clock) -> None:
    while True:
        await asyncio.sleep(PURGE_INTERVAL)
        try:
            await service.purge(clock() - RETENTION)
        except Exception:  # the next round tries again
            log.exception("purging social flows failed")
