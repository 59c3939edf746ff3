"""Access tokens (RFC 9068 JWTs) and OpenID Connect ID tokens: issuing and verifying them.

Verification follows RFC 8725. The token's header chooses nothing: the key comes from *our* key
set by a well-formed ``kid``, the algorithm must be the one that key is allowed to verify (joserfc
gets that one name as its allow-list), and only ``alg``, ``kid`` and ``typ`` may appear in the
header — ``jku``, ``x5u``, ``jwk``, ``x5c``, ``crit`` and the rest are refused, not ignored. The
``typ`` header separates the two kinds, so an ID token is never accepted as an access token and
the other way round.

Every refusal is the same ``token.invalid`` to the outside; ``InvalidToken.reason`` tells logs and
the gateway (which refreshes its JWKS on ``kid.unknown``) what happened.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.registry import JWS_HEADER_REGISTRY
from joserfc.util import urlsafe_b64decode

from kabinet.auth.keys import (
    DEFAULT_LEEWAY,
    SIGNING_ALGORITHM,
    KeyRing,
    PublicKeySet,
    VerificationKeys,
    is_valid_kid,
)
from kabinet.errors import DomainError, ErrorKind

TOKEN_INVALID = "token.invalid"  # noqa: S105 (an error code; its messages: kabinet.catalog)


ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type)
ID_TOKEN_TYPE = "JWT"  # noqa: S105
DEFAULT_ACCESS_TTL = timedelta(minutes=10)
DEFAULT_ID_TTL = timedelta(minutes=10)

# Refused before any decoding: our tokens are well under 1 KB, and nobody should make us parse
# megabytes. Header size is bounded separately (ours is about 100 characters).
MAX_TOKEN_LENGTH = 8192
MAX_HEADER_SEGMENT_LENGTH = 512

# The algorithms any of our keys may verify; each key then allows exactly one of them.
SUPPORTED_ALGORITHMS = frozenset({SIGNING_ALGORITHM})
ALLOWED_HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})

# RFC 7515 section 4.1.9: typ is a media type, compared case-insensitively, "application/" optional.
_ACCESS_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_ID_TYPES = frozenset({"jwt", "application/jwt"})

_ACCESS_CLAIMS = frozenset(
    {"iss", "aud", "sub", "sid", "exp", "iat", "nbf", "jti", "scope", "client_id"}
)
_ID_CLAIMS = frozenset({"iss", "aud", "sub", "exp", "iat", "nbf", "auth_time", "nonce", "azp"})

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class Reason(StrEnum):
    """Why a token was refused: for logs and metrics only, never for the caller."""

    TOO_LARGE = "size"
    MALFORMED = "format"
    HEADER = "header"
    FORBIDDEN_HEADER = "header.forbidden"
    ALGORITHM = "alg"
    TYPE = "typ"
    KID_MALFORMED = "kid.malformed"
    KID_UNKNOWN = "kid.unknown"
    SIGNATURE = "signature"
    PAYLOAD = "payload"
    CLAIM_MISSING = "claim.missing"
    CLAIM_INVALID = "claim.invalid"
    ISSUER = "iss"
    AUDIENCE = "aud"
    EXPIRED = "exp"
    NOT_YET_VALID = "nbf"
    ISSUED_IN_FUTURE = "iat"
    NONCE = "nonce"
    AUTHORIZED_PARTY = "azp"
    # Raised by callers after their own check (the session behind a valid token is gone), so that
    # every refusal of a token is one error type.
    REVOKED = "revoked"


class InvalidToken(DomainError):
    """A refused token: UNAUTHENTICATED ``token.invalid`` outside, ``reason`` inside."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(ErrorKind.UNAUTHENTICATED, TOKEN_INVALID)
        self.reason = reason

    def __repr__(self) -> str:
        return f"InvalidToken({self.reason.value!r})"


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says. Times are seconds since the epoch."""

    issuer: str
    audience: tuple[str, ...]
    subject: str
    session_id: str
    token_id: str
    issued_at: int
    not_before: int
    expires_at: int
    scope: tuple[str, ...]
    client_id: str | None
    key_id: str
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class IdClaims:
    """What a verified ID token says. Times are seconds since the epoch."""

    issuer: str
    audience: tuple[str, ...]
    subject: str
    issued_at: int
    expires_at: int
    auth_time: int | None
    nonce: str | None
    authorized_party: str | None
    key_id: str
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


KeySource = VerificationKeys | Mapping[str, Any]
"""Our ``KeyRing``, a ``PublicKeySet`` from a cached JWKS, or a JWKS dict (parsed per call)."""


def _strict_registry(algorithm: str) -> jws.JWSRegistry:
    """joserfc's registry allowing one algorithm and knowing only our three header members, so
    joserfc refuses the rest too (a second line behind our own header check)."""
    registry = jws.JWSRegistry(algorithms=[algorithm], strict_check_header=True)
    registry.header_registry = {name: JWS_HEADER_REGISTRY[name] for name in ALLOWED_HEADER_MEMBERS}
    return registry


# One registry per algorithm, each allowing just that algorithm (immutable configuration).
_REGISTRIES = {alg: _strict_registry(alg) for alg in SUPPORTED_ALGORITHMS}


def issue_access_token(
    keyring: KeyRing,
    *,
    issuer: str,
    audience: str | Sequence[str],
    subject: str,
    session_id: str,
    now: datetime,
    scope: Sequence[str] = (),
    ttl: timedelta = DEFAULT_ACCESS_TTL,
    client_id: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """An RFC 9068 access token signed by the ring's current key (``typ: at+jwt``)."""
    issued_at = _epoch(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience if isinstance(audience, str) else list(audience),
        "sub": subject,
        "sid": session_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + _ttl_seconds(keyring, ttl),
        # 128 random bits: unique per token, so a denylist or a log can name one token.
        "jti": secrets.token_urlsafe(16),
    }
    if scope:
        if any(not s or " " in s for s in scope):
            raise ValueError("a scope is a non-empty word without spaces")
        claims["scope"] = " ".join(scope)
    if client_id is not None:
        claims["client_id"] = client_id
    return _sign(keyring, now, ACCESS_TOKEN_TYPE, claims, _ACCESS_CLAIMS, extra_claims)


def verify_access_token(
    keys: KeySource,
    token: str,
    *,
    issuer: str,
    audience: str,
    now: datetime,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> AccessClaims:
    """The claims of a valid access token meant for ``audience``; raises ``InvalidToken``
    otherwise. Revocation (by session) is the caller's next step, not this function's."""
    kid, claims = _verify(keys, token, now=now, allowed_types=_ACCESS_TYPES, typ_required=True)
    audiences = _check_common(claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    not_before = _int_claim(claims, "nbf")
    _check_not_before(not_before, now, leeway)
    scope = _optional_str_claim(claims, "scope")
    return AccessClaims(
        issuer=issuer,
        audience=audiences,
        subject=_str_claim(claims, "sub"),
        session_id=_str_claim(claims, "sid"),
        token_id=_str_claim(claims, "jti"),
        issued_at=_int_claim(claims, "iat"),
        not_before=not_before,
        expires_at=_int_claim(claims, "exp"),
        scope=tuple(scope.split()) if scope else (),
        client_id=_optional_str_claim(claims, "client_id"),
        key_id=kid,
        extra={k: v for k, v in claims.items() if k not in _ACCESS_CLAIMS},
    )


def issue_id_token(
    keyring: KeyRing,
    *,
    issuer: str,
    audience: str,
    subject: str,
    now: datetime,
    auth_time: datetime | None = None,
    nonce: str | None = None,
    azp: str | None = None,
    ttl: timedelta = DEFAULT_ID_TTL,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """An OpenID Connect ID token for the client ``audience`` (``typ: JWT``), echoing ``nonce``."""
    issued_at = _epoch(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued_at,
        "exp": issued_at + _ttl_seconds(keyring, ttl),
    }
    if auth_time is not None:
        claims["auth_time"] = _epoch(auth_time)
    if nonce is not None:
        claims["nonce"] = nonce
    if azp is not None:
        claims["azp"] = azp
    return _sign(keyring, now, ID_TOKEN_TYPE, claims, _ID_CLAIMS, extra_claims)


def verify_id_token(
    keys: KeySource,
    token: str,
    *,
    issuer: str,
    audience: str,
    now: datetime,
    nonce: str | None = None,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> IdClaims:
    """The claims of a valid ID token for the client ``audience`` (OIDC Core 3.1.3.7); when
    ``nonce`` is given the token must carry exactly it. Raises ``InvalidToken`` otherwise."""
    kid, claims = _verify(keys, token, now=now, allowed_types=_ID_TYPES, typ_required=False)
    audiences = _check_common(claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    if "nbf" in claims:
        _check_not_before(_int_claim(claims, "nbf"), now, leeway)
    azp = _optional_str_claim(claims, "azp")
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != audience):
        raise InvalidToken(Reason.AUTHORIZED_PARTY)
    token_nonce = _optional_str_claim(claims, "nonce")
    if nonce is not None and (
        token_nonce is None or not hmac.compare_digest(token_nonce.encode(), nonce.encode())
    ):
        raise InvalidToken(Reason.NONCE)
    auth_time = _int_claim(claims, "auth_time") if "auth_time" in claims else None
    return IdClaims(
        issuer=issuer,
        audience=audiences,
        subject=_str_claim(claims, "sub"),
        issued_at=_int_claim(claims, "iat"),
        expires_at=_int_claim(claims, "exp"),
        auth_time=auth_time,
        nonce=token_nonce,
        authorized_party=azp,
        key_id=kid,
        extra={k: v for k, v in claims.items() if k not in _ID_CLAIMS},
    )


def _sign(
    keyring: KeyRing,
    now: datetime,
    typ: str,
    claims: dict[str, Any],
    registered: frozenset[str],
    extra_claims: Mapping[str, Any] | None,
) -> str:
    if extra_claims:
        clash = set(extra_claims) & registered
        if clash:
            raise ValueError(f"extra claims may not replace registered ones: {sorted(clash)}")
        claims = {**claims, **extra_claims}
    key = keyring.current(now)
    header = {"alg": key.algorithm, "kid": key.kid, "typ": typ}
    # allow_nan=False: a NaN or Infinity claim would be JSON we refuse to read back.
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    token = jws.serialize_compact(
        header,
        payload,
        key.private_key,
        algorithms=[key.algorithm],
        registry=_REGISTRIES[key.algorithm],
    )
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError("the token would be larger than verifiers accept")
    return token


def _verify(
    keys: KeySource,
    token: str,
    *,
    now: datetime,
    allowed_types: frozenset[str],
    typ_required: bool,
) -> tuple[str, dict[str, Any]]:
    """Check the token's shape, header and signature; return the kid and the claims."""
    if not isinstance(token, str):
        raise InvalidToken(Reason.MALFORMED)
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(Reason.TOO_LARGE)
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise InvalidToken(Reason.MALFORMED)
    header_segment, payload_segment, signature_segment = segments
    if not header_segment or not payload_segment:
        raise InvalidToken(Reason.MALFORMED)
    if len(header_segment) > MAX_HEADER_SEGMENT_LENGTH:
        raise InvalidToken(Reason.HEADER)

    header = _json_object(header_segment, Reason.HEADER)
    if not header.keys() <= ALLOWED_HEADER_MEMBERS:
        raise InvalidToken(Reason.FORBIDDEN_HEADER)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        raise InvalidToken(Reason.ALGORITHM)
    typ = header.get("typ")
    if typ is None and typ_required:
        raise InvalidToken(Reason.TYPE)
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in allowed_types):
        raise InvalidToken(Reason.TYPE)
    kid = header.get("kid")
    if not isinstance(kid, str) or not is_valid_kid(kid):
        raise InvalidToken(Reason.KID_MALFORMED)

    key = _key_set(keys).verification_key(kid, now)
    if key is None:
        raise InvalidToken(Reason.KID_UNKNOWN)
    if alg != key.algorithm:
        raise InvalidToken(Reason.ALGORITHM)
    if not signature_segment:
        raise InvalidToken(Reason.SIGNATURE)

    try:
        signed = jws.deserialize_compact(
            token, key.key, algorithms=[key.algorithm], registry=_REGISTRIES[key.algorithm]
        )
    except BadSignatureError:
        raise InvalidToken(Reason.SIGNATURE) from None
    except (JoseError, ValueError, TypeError):
        raise InvalidToken(Reason.MALFORMED) from None
    return kid, _json_object_bytes(signed.payload, Reason.PAYLOAD)


def _key_set(keys: KeySource) -> VerificationKeys:
    if isinstance(keys, Mapping):
        return PublicKeySet.from_jwks(keys)
    return keys


def _check_common(
    claims: Mapping[str, Any], *, issuer: str, audience: str, now: datetime, leeway: timedelta
) -> tuple[str, ...]:
    """iss, aud, exp and iat, checked the same way for both kinds; returns the audiences."""
    if _str_claim(claims, "iss") != issuer:
        raise InvalidToken(Reason.ISSUER)
    audiences = _audiences(claims)
    if audience not in audiences:
        raise InvalidToken(Reason.AUDIENCE)
    _str_claim(claims, "sub")
    expires_at = _int_claim(claims, "exp")
    issued_at = _int_claim(claims, "iat")
    instant, slack = now.timestamp(), leeway.total_seconds()
    if instant >= expires_at + slack:
        raise InvalidToken(Reason.EXPIRED)
    if issued_at > instant + slack:
        raise InvalidToken(Reason.ISSUED_IN_FUTURE)
    return audiences


def _check_not_before(not_before: int, now: datetime, leeway: timedelta) -> None:
    if not_before > now.timestamp() + leeway.total_seconds():
        raise InvalidToken(Reason.NOT_YET_VALID)


def _audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    if "aud" not in claims:
        raise InvalidToken(Reason.CLAIM_MISSING)
    aud = claims["aud"]
    if isinstance(aud, str) and aud:
        return (aud,)
    if isinstance(aud, list) and aud and all(isinstance(a, str) and a for a in aud):
        return tuple(aud)
    raise InvalidToken(Reason.CLAIM_INVALID)


def _str_claim(claims: Mapping[str, Any], name: str) -> str:
    """A required, non-empty string claim."""
    if name not in claims:
        raise InvalidToken(Reason.CLAIM_MISSING)
    value = claims[name]
    if not isinstance(value, str) or not value:
        raise InvalidToken(Reason.CLAIM_INVALID)
    return value


def _optional_str_claim(claims: Mapping[str, Any], name: str) -> str | None:
    """An optional string claim: absent is None, present must be a string."""
    if name not in claims:
        return None
    value = claims[name]
    if not isinstance(value, str):
        raise InvalidToken(Reason.CLAIM_INVALID)
    return value


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    """A NumericDate claim; integers only (bool is an int in Python, and is refused)."""
    if name not in claims:
        raise InvalidToken(Reason.CLAIM_MISSING)
    value = claims[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken(Reason.CLAIM_INVALID)
    return value


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two "aud" members could be read differently by two parsers: refuse the ambiguity.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)


def _json_object(segment: str, reason: Reason) -> dict[str, Any]:
    """A base64url segment holding a JSON object (the strict base64url of RFC 7515: no padding,
    no stray bits)."""
    try:
        raw = urlsafe_b64decode(segment.encode("ascii"))
    except ValueError:
        raise InvalidToken(reason) from None
    return _json_object_bytes(raw, reason)


def _json_object_bytes(raw: bytes | None, reason: Reason) -> dict[str, Any]:
    try:
        value = _DECODER.decode((raw or b"").decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidToken(reason) from None
    if not isinstance(value, dict):
        raise InvalidToken(reason)
    return value


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware")
    return int(moment.timestamp())


def _ttl_seconds(keyring: KeyRing, ttl: timedelta) -> int:
    # A token may not outlive the publication of its key, which the ring plans for max_token_ttl.
    seconds = int(ttl.total_seconds())
    if seconds <= 0 or ttl > keyring.max_token_ttl:
        raise ValueError("ttl must be positive and at most the ring's max_token_ttl")
    return seconds
