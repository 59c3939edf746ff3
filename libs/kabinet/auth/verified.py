"""A bounded memory of access tokens whose signature and claims were already verified.

The same token comes back on every request of one app or browser, and a product backend asks
about it on every request it serves, for the token's ten minutes. The signature check is the
costly part, and its outcome for a given token string cannot change, except with time (expiry,
not-before) and with the keys (a key taken out of the set). A remembered token is therefore
re-checked against the clock and the keys on every hit; revocation is never remembered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kabinet.auth.keys import DEFAULT_LEEWAY, VerificationKeys
from kabinet.auth.tokens import AccessClaims

DEFAULT_SIZE = 10_000


@dataclass(frozen=True)
class _Entry:
    claims: AccessClaims


class VerifiedTokens:
    """Token string → verified claims, for at most ``size`` tokens (oldest forgotten first)."""

    def __init__(self, size: int = DEFAULT_SIZE, leeway: timedelta = DEFAULT_LEEWAY) -> None:
        self._size = size
        self._slack = leeway.total_seconds()
        self._entries: dict[str, _Entry] = {}

    def get(self, token: str, ring: VerificationKeys, now: datetime) -> AccessClaims | None:
        """The remembered claims if they still hold at ``now`` with the keys ``ring``; None
        otherwise (expired, not yet valid, or its key is gone)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        claims = entry.claims
        instant = now.timestamp()
        still_valid = (
            instant < claims.expires_at + self._slack
            and claims.not_before <= instant + self._slack
            and claims.issued_at <= instant + self._slack
            and ring.verification_key(claims.key_id, now) is not None
        )
        if not still_valid:
            self._entries.pop(token, None)
            return None
        return claims

    def remember(self, token: str, claims: AccessClaims) -> None:
        if token in self._entries:
            return
        if len(self._entries) >= self._size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[token] = _Entry(claims)

    def __len__(self) -> int:
        return len(self._entries)
