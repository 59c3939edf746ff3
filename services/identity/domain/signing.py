"""The signing keys every replica shares: kept in PostgreSQL, held in memory as a ``KeyRing``.

At start-up ``ensure`` creates the first key under a transaction-scoped advisory lock, so that
replicas starting together agree on one. Every ``reload_interval`` each replica re-reads the
keys (and creates the next one when rotation is due, under the same lock). A new key is published
``publish_ahead`` before it signs, so every JWKS cache and every replica knows it by then; an old
key stays published until the last token it signed has expired.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from identity.config import TokenSettings
from identity.domain.ports import Clock, Store, Transaction
from kabinet.auth.keys import KeyRing, NoActiveSigningKey, SigningKey, generate_signing_key

log = logging.getLogger(__name__)

# The ring keeps a retired key published at least this long after its last signature: longer
# than any access token lives.
MAX_TOKEN_TTL = timedelta(hours=1)


class SigningKeyManager:
    """Holds the current ``KeyRing`` and keeps it in step with the store."""

    def __init__(self, store: Store, clock: Clock, settings: TokenSettings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._ring: KeyRing | None = None

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            raise RuntimeError("signing keys are not loaded")
        return self._ring

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set to publish now: public members of every published key."""
        return self.ring.public_jwks(self._clock())

    def _make_ring(self, keys: Sequence[SigningKey]) -> KeyRing:
        return KeyRing(keys, max_token_ttl=MAX_TOKEN_TTL)

    def _rotation_due(self, ring: KeyRing) -> bool:
        now = self._clock()
        if not _signs_now(ring, now):
            return True
        if self._settings.key_rotate_every <= 0:
            return False
        return ring.rotation_due(
            now,
            rotate_every=timedelta(seconds=self._settings.key_rotate_every),
            publish_ahead=timedelta(seconds=self._settings.key_publish_ahead),
        )

    async def reload(self) -> KeyRing:
        """Re-read the keys; create the next one first when it is due (or there is none)."""
        async with self._store.connection() as db:
            ring = self._make_ring(await db.signing_keys())
        if self._rotation_due(ring):
            ring = await self.ensure()
        self._ring = ring
        return ring

    async def ensure(self) -> KeyRing:
        """Make sure a key signs now and the next one is made when due; drop keys nobody needs."""
        async with self._store.transaction() as tx:
            await tx.lock_signing_keys()
            ring = self._make_ring(await tx.signing_keys())
            if self._rotation_due(ring):
                ring = await self._add_key(tx, ring)
            ring = await self._drop_removable(tx, ring)
        self._ring = ring
        return ring

    async def rotate(self, publish_ahead: timedelta | None = None) -> SigningKey:
        """Create the next key now, to sign from ``now + publish_ahead`` (the operator's lever)."""
        ahead = publish_ahead or timedelta(seconds=self._settings.key_publish_ahead)
        async with self._store.transaction() as tx:
            await tx.lock_signing_keys()
            now = self._clock()
            key = generate_signing_key(now, active_from=now + ahead)
            await tx.insert_signing_key(key)
            ring = self._make_ring([*await tx.signing_keys()])
        self._ring = ring
        log.info("signing key created", extra={"kid": key.kid, "active_from": str(key.active_from)})
        return key

    async def _add_key(self, tx: Transaction, ring: KeyRing) -> KeyRing:
        now = self._clock()
        # With nothing signing, the new key must sign at once; otherwise it waits its turn.
        ahead = (
            timedelta(seconds=self._settings.key_publish_ahead)
            if _signs_now(ring, now)
            else timedelta()
        )
        key = generate_signing_key(now, active_from=now + ahead)
        await tx.insert_signing_key(key)
        log.info("signing key created", extra={"kid": key.kid, "active_from": str(key.active_from)})
        return self._make_ring([*ring.keys, key])

    async def _drop_removable(self, tx: Transaction, ring: KeyRing) -> KeyRing:
        removable = ring.removable(self._clock())
        if not removable:
            return ring
        await tx.delete_signing_keys([key.kid for key in removable])
        gone = {key.kid for key in removable}
        return self._make_ring([key for key in ring.keys if key.kid not in gone])


def _signs_now(ring: KeyRing, now: datetime) -> bool:
    try:
        ring.current(now)
    except NoActiveSigningKey:
        return False
    return True
