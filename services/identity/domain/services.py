"""All the identity use cases wired together on one store, hasher and clock.

The composition root (``identity.app``) builds this on PostgreSQL; the unit tests build it on
in-memory fakes of the ports. The periodic ``housekeeping`` keeps each replica's signing keys in
step with the others' and deletes rows nobody needs any more.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from identity.config import IdentitySettings
from identity.domain.account import AccountService
from identity.domain.links import LinkMailer
from identity.domain.ports import Clock, Passwords, Store
from identity.domain.registration import RegistrationService
from identity.domain.roles import RoleService, RoleStore
from identity.domain.sessions import SessionService
from identity.domain.signin import SignInService
from identity.domain.signing import SigningKeyManager

log = logging.getLogger(__name__)

# Spent and ended rows are kept a day before they are deleted (for investigations).
RETENTION = timedelta(days=1)
# Deleting old rows is done on every this-many key reloads.
PURGE_EVERY = 10


@dataclass
class IdentityServices:
    """The use cases, ready to be called by a transport."""

    store: Store
    clock: Clock
    settings: IdentitySettings
    keys: SigningKeyManager
    sessions: SessionService
    signin: SignInService
    registration: RegistrationService
    accounts: AccountService
    # Built when a role store is given (the PostgreSQL one in the app).
    roles: RoleService | None = None

    async def start(self) -> None:
        """Load (or create) the signing keys; call before serving."""
        await self.keys.ensure()

    async def close(self) -> None:
        """Release the store's held resources; call when serving has ended."""
        await self.store.close()

    async def purge(self) -> int:
        """Delete expired links, long-ended sessions, idle throttling rows and old notices."""
        now = self.clock()
        throttle = self.settings.throttle
        idle = timedelta(seconds=max(throttle.account_window, throttle.ip_window))
        notices = timedelta(seconds=self.settings.links.per_account_window)
        async with self.store.transaction() as tx:
            return (
                await tx.delete_links_expired_before(now - RETENTION)
                + await tx.delete_sessions_ended_before(now - RETENTION)
                + await tx.delete_throttles_idle_since(now - idle)
                + await tx.delete_notices_before(now - notices)
            )

    async def housekeeping(self) -> None:
        """Reload keys every ``key_reload_interval`` (rotating when due) and purge now and then;
        runs until cancelled, surviving database hiccups."""
        interval = self.settings.tokens.key_reload_interval
        rounds = 0
        while True:
            await asyncio.sleep(interval)
            rounds += 1
            try:
                await self.keys.reload()
                if rounds % PURGE_EVERY == 0:
                    purged = await self.purge()
                    if purged:
                        log.info("old rows deleted", extra={"rows": purged})
            except Exception:  # the next round tries again; serving goes on meanwhile
                log.exception("identity housekeeping failed")


def build_services(
    store: Store,
    passwords: Passwords,
    settings: IdentitySettings,
    clock: Clock,
    role_store: RoleStore | None = None,
) -> IdentityServices:
    """Wire every use case on ``store`` and ``passwords``."""
    keys = SigningKeyManager(store, clock, settings.tokens)
    links = LinkMailer(settings.links, settings.common.public_url)
    sessions = SessionService(
        store,
        keys,
        clock,
        settings.tokens,
        issuer=settings.issuer,
        audience=settings.common.api_audience,
    )
    signin = SignInService(store, passwords, sessions, links, clock, settings.throttle)
    registration = RegistrationService(store, passwords, links, sessions, clock, settings.links)
    accounts = AccountService(store, passwords, links, sessions, signin, clock, settings.links)
    return IdentityServices(
        store=store,
        clock=clock,
        settings=settings,
        keys=keys,
        sessions=sessions,
        signin=signin,
        registration=registration,
        accounts=accounts,
        roles=RoleService(role_store, clock) if role_store is not None else None,
    )
