"""Operator actions on identity's data that ``kabinet-admin`` runs (no gRPC API of their own)."""

from __future__ import annotations

from datetime import timedelta

from identity.app import utc_now
from identity.config import TokenSettings
from identity.domain.signing import SigningKeyManager
from identity.mail import identity_templates
from identity.store.postgres import PostgresStore
from kabinet.auth.keys import SigningKey
from kabinet.config import load_settings
from kabinet.db import create_pool


async def rotate_signing_key(database_url: str, publish_ahead: float | None = None) -> SigningKey:
    """Create the next signing key now; it is published at once and signs after
    ``publish_ahead`` seconds (default ``KABINET_IDENTITY_KEY_PUBLISH_AHEAD``).

    Every identity replica picks it up at its next key reload; the key it replaces keeps
    verifying until the tokens it signed have expired.
    """
    tokens = load_settings(TokenSettings)
    pool = await create_pool(database_url, "identity", min_size=1, max_size=1)
    try:
        store = PostgresStore(pool, identity_templates())
        try:
            manager = SigningKeyManager(store, utc_now, tokens)
            ahead = None if publish_ahead is None else timedelta(seconds=publish_ahead)
            return await manager.rotate(ahead)
        finally:
            await store.close()
    finally:
        await pool.close()
