"""Signing in with an email and a password, throttled per account and per client address.

Nothing in the answer or its timing tells an unknown email from a wrong password or a locked
account: an unknown email (or an account without a password) costs one dummy argon2id
verification, and all three answer ``auth.invalid_credentials``. Only the right password of an
account that is not activated yet gets ``account.not_activated``, so that the portal can offer to
resend the link. A refused sign-in answers no sooner than ``failure_min_duration`` after the call,
whatever database work its path did. The checks around the password ask PostgreSQL, so every
replica throttles alike.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime

from identity.config import ThrottleSettings
from identity.domain import errors
from identity.domain.emails import try_normalise_email
from identity.domain.links import LinkMailer
from identity.domain.model import Account, AccountStatus, Client, Mail, SignedIn
from identity.domain.ports import Clock, Passwords, Store, Transaction
from identity.domain.sessions import SessionService
from identity.domain.throttling import (
    account_after_failure,
    client_after_failure,
    client_key,
    client_retry_after,
)
from identity.domain.timing import hold_until

log = logging.getLogger(__name__)


class SignInService:
    """The password sign-in, and the throttling every password check shares."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        sessions: SessionService,
        links: LinkMailer,
        clock: Clock,
        rules: ThrottleSettings,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._sessions = sessions
        self._links = links
        self._clock = clock
        self._rules = rules

    async def sign_in(self, email: str, password: str, client: Client) -> SignedIn:
        """Check the email and password and open a session."""
        started = time.monotonic()
        try:
            return await self._sign_in(email, password, client)
        except errors.DomainError as refused:
            if refused.code == errors.INVALID_CREDENTIALS:
                await hold_until(started, self._rules.failure_min_duration)
            raise

    async def _sign_in(self, email: str, password: str, client: Client) -> SignedIn:
        key = client_key(client.ip)
        address = try_normalise_email(email)
        now = self._clock()
        async with self._store.connection() as db:
            state = await db.sign_in_state(address.key if address else None, key)
        account, account_state = state.account, state.account_throttle
        retry_after = client_retry_after(state.client_throttle, now)
        if retry_after is not None:
            raise errors.too_many_attempts(retry_after)
        if self._passwords.is_too_long(password):
            # Refused before any hashing; such a password was never accepted anywhere.
            await self.record_failure(key, None)
            raise errors.invalid_credentials()
        if account is None or account.password_hash is None:
            await self._passwords.verify_dummy(password)
            await self.record_failure(key, None)
            raise errors.invalid_credentials()

        matches = await self._passwords.verify(account.password_hash, password)
        locked = account_state is not None and account_state.is_locked(now)
        if not matches:
            # A failure while locked counts for the address but not against the account.
            await self.record_failure(key, None if locked else account)
            raise errors.invalid_credentials()
        if locked or account.status is AccountStatus.DISABLED:
            raise errors.invalid_credentials()
        if account.status is AccountStatus.PENDING_ACTIVATION:
            raise errors.not_activated()
        new_hash = None
        if self._passwords.needs_rehash(account.password_hash):
            new_hash = await self._passwords.hash(password)
        return await self._open(account, client, new_hash, clear=account_state is not None)

    async def _open(
        self, account: Account, client: Client, new_hash: str | None, *, clear: bool
    ) -> SignedIn:
        now = self._clock()
        # No transaction: the session is stored by one statement that checks again that the
        # account is active and not locked (a lock or a deactivation that happened while the
        # password was being verified wins); what follows stands alone.
        async with self._store.connection() as db:
            signed = await self._sessions.open(db, account, client, now)
            if signed is None:
                raise errors.invalid_credentials()
            if clear:  # a success resets the failures counted so far
                await db.clear_account_throttle(account.id)
            if new_hash is not None:
                await db.set_password_hash(account.id, new_hash, now)
        return signed

    async def is_locked(self, account_id: uuid.UUID) -> bool:
        """Whether the account is locked by failed sign-ins right now."""
        async with self._store.connection() as db:
            state = await db.account_throttle(account_id)
        return state is not None and state.is_locked(self._clock())

    async def record_failure(self, client: str | None, account: Account | None) -> None:
        """Count one failed password check against the address and the account (either may be
        None); the failure that locks the account mails its owner, once per lock."""
        if client is None and account is None:
            return
        now = self._clock()
        async with self._store.transaction() as tx:
            if client is not None:
                state = await tx.lock_client_throttle(client, now)
                await tx.save_client_throttle(client, client_after_failure(state, now, self._rules))
            if account is not None:
                await self._account_failure(tx, account, now)

    async def _account_failure(self, tx: Transaction, account: Account, now: datetime) -> None:
        state = await tx.lock_account_throttle(account.id, now)
        new_state, locked_now = account_after_failure(state, now, self._rules)
        if new_state != state:
            await tx.save_account_throttle(account.id, new_state)
        if locked_now:
            log.warning("account locked after failed sign-ins", extra={"account": str(account.id)})
            minutes = max(1, self._rules.account_lock // 60)
            await tx.send_mail(
                Mail(
                    to=account.email,
                    template="account_locked",
                    language=account.language,
                    values=self._links.base_values(account) | {"minutes": str(minutes)},
                )
            )
