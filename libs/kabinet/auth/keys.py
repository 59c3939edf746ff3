"""Signing keys for the tokens the identity service issues, and their rotation.

One algorithm: ES256 (ECDSA on P-256 with SHA-256). It is the asymmetric JWS algorithm with the
widest support among JWT libraries, browsers' Web Crypto and mobile platforms, and its keys and
signatures are small; EdDSA would be as safe, but some client stacks still can't verify it.

A key's life: it is *published* (in the JWKS) from the moment it is created, starts *signing* at
``active_from`` (a configurable while later, so that every JWKS cache has seen it before the first
token signed by it arrives), stops signing when a newer key becomes active (or at
``retire_after``), and stays published until every token it signed has expired.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from joserfc.errors import JoseError
from joserfc.jwk import ECKey

SIGNING_ALGORITHM = "ES256"
CURVE = "P-256"
KEY_TYPE = "EC"

# The algorithms a key of each (kty, crv) may verify: a fixed allow-list per key, never the token's
# own choice.
ALGORITHM_FOR_CURVE: Mapping[tuple[str, str], str] = {(KEY_TYPE, CURVE): SIGNING_ALGORITHM}

# A kid is an RFC 7638 thumbprint here (43 characters); anything outside this shape is refused
# before it is used to look a key up (no path, SQL or megabyte-long kid reaches a lookup).
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Every token must expire before the key that signed it leaves the JWKS: the ring keeps a retired
# key published for this long after its last signature (plus the verifiers' leeway).
DEFAULT_MAX_TOKEN_TTL = timedelta(hours=1)
DEFAULT_LEEWAY = timedelta(seconds=30)

_PUBLIC_MEMBERS = ("crv", "x", "y")


class NoActiveSigningKey(LookupError):
    """The ring has no key that may sign now; the service must create one before issuing."""


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def is_valid_kid(kid: object) -> bool:
    """Whether ``kid`` has the shape of one of our key ids (checked before any lookup)."""
    return isinstance(kid, str) and KID_PATTERN.fullmatch(kid) is not None


@dataclass(frozen=True)
class PublicKey:
    """A verification key: its id, the one algorithm it verifies, and the public JWK."""

    kid: str
    algorithm: str
    key: ECKey = field(repr=False, compare=False)

    def jwk(self) -> dict[str, str]:
        """The public JWK with only the members a verifier needs (never ``d``)."""
        members = self.key.as_dict(private=False)
        return {
            "kty": KEY_TYPE,
            **{name: str(members[name]) for name in _PUBLIC_MEMBERS},
            "kid": self.kid,
            "alg": self.algorithm,
            "use": "sig",
        }


class VerificationKeys(Protocol):
    """Where a verifier finds the key for a token's ``kid``: our ring, or a JWKS we fetched."""

    def verification_key(self, kid: str, now: datetime) -> PublicKey | None:
        """The key with this id that may verify tokens at ``now``, or None."""
        ...


@dataclass(frozen=True)
class SigningKey:
    """A private signing key with its schedule (all times timezone-aware).

    ``active_from`` is when it starts signing; ``retire_after`` (optional) is when it stops even
    without a successor, e.g. when an operator retires it.
    """

    kid: str
    algorithm: str
    private_key: ECKey = field(repr=False, compare=False)
    created_at: datetime
    active_from: datetime
    retire_after: datetime | None = None
    public: PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
        _require_aware("active_from", self.active_from)
        if self.retire_after is not None:
            _require_aware("retire_after", self.retire_after)
        if not is_valid_kid(self.kid):
            raise ValueError("kid has an invalid shape")
        if ALGORITHM_FOR_CURVE.get((KEY_TYPE, self.private_key.curve_name)) != self.algorithm:
            raise ValueError("the key's curve does not match its algorithm")
        if not self.private_key.is_private:
            raise ValueError("a signing key needs its private part")
        # Built once: verification and JWKS never touch the private part.
        public = ECKey.import_key(
            {"kty": KEY_TYPE, **{n: self.private_key.as_dict()[n] for n in _PUBLIC_MEMBERS}}
        )
        object.__setattr__(self, "public", PublicKey(self.kid, self.algorithm, public))

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK as published in the JWKS."""
        return self.public.jwk()


def generate_signing_key(now: datetime, *, active_from: datetime | None = None) -> SigningKey:
    """A fresh ES256 key whose kid is its RFC 7638 thumbprint.

    ``active_from`` defaults to ``now`` (the very first key must sign at once); a rotation passes
    ``now + publish_ahead`` so the key sits in the JWKS before it signs anything.
    """
    _require_aware("now", now)
    private = ECKey.generate_key(CURVE, private=True)
    return SigningKey(
        kid=private.thumbprint(),
        algorithm=SIGNING_ALGORITHM,
        private_key=private,
        created_at=now,
        active_from=now if active_from is None else active_from,
    )


class KeyRing:
    """All the signing keys the service knows, and which of them sign, publish and verify now.

    The ring is immutable; the store loads it, and a new ring replaces it after a rotation.
    """

    def __init__(
        self,
        keys: Iterable[SigningKey],
        *,
        max_token_ttl: timedelta = DEFAULT_MAX_TOKEN_TTL,
        leeway: timedelta = DEFAULT_LEEWAY,
    ) -> None:
        # Newest first: the order in which ``current`` looks and the JWKS lists.
        ordered = sorted(keys, key=lambda k: (k.active_from, k.created_at, k.kid), reverse=True)
        kids = [k.kid for k in ordered]
        if len(set(kids)) != len(kids):
            raise ValueError("two keys share a kid")
        if max_token_ttl <= timedelta(0) or leeway < timedelta(0):
            raise ValueError("max_token_ttl must be positive and leeway not negative")
        self.keys: tuple[SigningKey, ...] = tuple(ordered)
        self.max_token_ttl = max_token_ttl
        self.leeway = leeway
        self._by_kid = {k.kid: k for k in ordered}

    def signing_until(self, key: SigningKey) -> datetime | None:
        """When ``key`` stops signing: its retirement or the activation of a newer key, whichever
        comes first (None while neither is scheduled)."""
        ends = [k.active_from for k in self.keys if k.active_from > key.active_from]
        if key.retire_after is not None:
            ends.append(key.retire_after)
        return min(ends) if ends else None

    def published_until(self, key: SigningKey) -> datetime | None:
        """When ``key`` may leave the JWKS: every token it signed has expired by then."""
        until = self.signing_until(key)
        return None if until is None else until + self.max_token_ttl + self.leeway

    def current(self, now: datetime) -> SigningKey:
        """The newest key that is active at ``now``; raises ``NoActiveSigningKey`` if none is."""
        _require_aware("now", now)
        for key in self.keys:
            if key.active_from <= now and (key.retire_after is None or now < key.retire_after):
                return key
        raise NoActiveSigningKey("no signing key is active")

    def published(self, now: datetime) -> tuple[SigningKey, ...]:
        """The keys in the JWKS at ``now``: pending, signing, and retired ones whose tokens may
        still be alive."""
        _require_aware("now", now)
        return tuple(k for k in self.keys if self._is_published(k, now))

    def removable(self, now: datetime) -> tuple[SigningKey, ...]:
        """The keys no token can need any more: the store may delete them."""
        _require_aware("now", now)
        return tuple(k for k in self.keys if not self._is_published(k, now))

    def public_jwks(self, now: datetime) -> dict[str, list[dict[str, str]]]:
        """The JWK Set to serve at ``/.well-known/jwks.json`` (public members only)."""
        return {"keys": [k.public_jwk for k in self.published(now)]}

    def verification_key(self, kid: str, now: datetime) -> PublicKey | None:
        """The published key with this kid, or None (unknown, malformed or long gone)."""
        if not is_valid_kid(kid):
            return None
        key = self._by_kid.get(kid)
        if key is None or not self._is_published(key, now):
            return None
        return key.public

    def rotation_due(
        self, now: datetime, *, rotate_every: timedelta, publish_ahead: timedelta
    ) -> bool:
        """Whether to create the next key now (to activate at ``now + publish_ahead``).

        Due when no key is waiting for its activation and the current one will have signed for
        ``rotate_every`` by the time a key created now would take over (or there is no current key).
        """
        _require_aware("now", now)
        if any(k.active_from > now for k in self.keys):
            return False
        try:
            current = self.current(now)
        except NoActiveSigningKey:
            return True
        return now + publish_ahead >= current.active_from + rotate_every

    def _is_published(self, key: SigningKey, now: datetime) -> bool:
        until = self.published_until(key)
        return until is None or now < until


class PublicKeySet:
    """Verification keys read from a JWKS document (what a gateway or backend caches).

    Entries we cannot use (another key type or curve, another algorithm, an encryption key, a
    malformed point or kid) are skipped, as RFC 7517 section 5 advises; private members are never
    imported.
    """

    def __init__(self, keys: Iterable[PublicKey]) -> None:
        self._by_kid: dict[str, PublicKey] = {}
        for key in keys:
            if key.kid in self._by_kid:
                raise ValueError("two keys share a kid")
            self._by_kid[key.kid] = key

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> PublicKeySet:
        """Parse a JWK Set once, so that each verification is a dictionary lookup."""
        entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(entries, list):
            raise ValueError("a JWK Set needs a 'keys' list")
        keys: list[PublicKey] = []
        seen: set[str] = set()
        for entry in entries:
            key = _public_key_from_jwk(entry)
            if key is not None and key.kid not in seen:
                seen.add(key.kid)
                keys.append(key)
        return cls(keys)

    @property
    def kids(self) -> tuple[str, ...]:
        """The ids of the usable keys, in JWKS order."""
        return tuple(self._by_kid)

    def verification_key(self, kid: str, now: datetime) -> PublicKey | None:
        """The key with this kid, or None; a JWKS carries no schedule, so ``now`` is unused."""
        if not is_valid_kid(kid):
            return None
        return self._by_kid.get(kid)


def _public_key_from_jwk(entry: object) -> PublicKey | None:
    if not isinstance(entry, Mapping):
        return None
    kty, crv, kid = entry.get("kty"), entry.get("crv"), entry.get("kid")
    if not isinstance(kty, str) or not isinstance(crv, str) or not is_valid_kid(kid):
        return None
    algorithm = ALGORITHM_FOR_CURVE.get((kty, crv))
    if algorithm is None or entry.get("alg", algorithm) != algorithm:
        return None
    if entry.get("use", "sig") != "sig":
        return None
    # Only the public members are taken: a stray "d" in someone's JWKS is never imported.
    members = _string_members(entry, _PUBLIC_MEMBERS)
    if members is None:
        return None
    try:
        key = ECKey.import_key({"kty": kty, **members})
    except (JoseError, ValueError, TypeError):
        return None
    assert isinstance(kid, str)
    return PublicKey(kid, algorithm, key)


def _string_members(data: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str] | None:
    """The named members if each is a string, else None."""
    members: dict[str, str] = {}
    for name in names:
        value = data.get(name)
        if not isinstance(value, str):
            return None
        members[name] = value
    return members


def export_private(key: SigningKey) -> dict[str, str]:
    """The private JWK of ``key`` as the store keeps it.

    This is the one place where the private key leaves memory: encrypting it at rest (envelope
    encryption with a key from a KMS or the environment) belongs here and in ``import_private``.
    """
    members = _string_members(key.private_key.as_dict(private=True), (*_PUBLIC_MEMBERS, "d"))
    assert members is not None
    return {"kty": KEY_TYPE, **members}


def import_private(data: Mapping[str, Any]) -> ECKey:
    """The private key from what ``export_private`` produced (refuses anything else)."""
    if data.get("kty") != KEY_TYPE or data.get("crv") != CURVE:
        raise ValueError("not a P-256 EC key")
    members = _string_members(data, (*_PUBLIC_MEMBERS, "d"))
    if members is None:
        raise ValueError("a private EC key needs crv, x, y and d")
    try:
        # cryptography checks that the public point matches d and lies on the curve.
        return ECKey.import_key({"kty": KEY_TYPE, **members})
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError("invalid private EC key") from error


def to_record(key: SigningKey) -> dict[str, Any]:
    """A JSON-ready dict for the store: schedule, algorithm and the exported private key."""
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "private_jwk": export_private(key),
        "created_at": key.created_at.isoformat(),
        "active_from": key.active_from.isoformat(),
        "retire_after": None if key.retire_after is None else key.retire_after.isoformat(),
    }


def from_record(record: Mapping[str, Any]) -> SigningKey:
    """The key back from ``to_record``'s dict; refuses a record whose kid is not the key's
    thumbprint (a corrupted or swapped row)."""
    private = import_private(record["private_jwk"])
    kid = record["kid"]
    if kid != private.thumbprint():
        raise ValueError("the kid does not match the key")
    return SigningKey(
        kid=kid,
        algorithm=record["algorithm"],
        private_key=private,
        created_at=_as_datetime(record["created_at"]),
        active_from=_as_datetime(record["active_from"]),
        retire_after=None
        if record.get("retire_after") is None
        else _as_datetime(record["retire_after"]),
    )


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
