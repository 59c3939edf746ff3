"""What the adapters share: form posts and JSON reads with deadlines, and ID-token checks against
a provider's JWKS (cached, fetched again when a token names an unknown key)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from identity.domain.federation import (
    ID_TOKEN_INVALID,
    PROVIDER_FAILED,
    PROVIDER_UNAVAILABLE,
    ProviderError,
)

JWKS_MIN_REFRESH = 60.0
JWKS_MAX_AGE = 3600.0
CLOCK_SKEW = 60
MAX_RESPONSE = 256 * 1024


def _json(reply: httpx.Response, what: str) -> dict[str, Any]:
    if reply.status_code >= 500:
        raise ProviderError(PROVIDER_UNAVAILABLE, f"{what}: HTTP {reply.status_code}")
    if reply.status_code >= 400:
        raise ProviderError(PROVIDER_FAILED, f"{what}: HTTP {reply.status_code}")
    if len(reply.content) > MAX_RESPONSE:
        raise ProviderError(PROVIDER_FAILED, f"{what}: answer too large")
    try:
        body = reply.json()
    except ValueError:
        raise ProviderError(PROVIDER_FAILED, f"{what}: not JSON") from None
    if not isinstance(body, dict):
        raise ProviderError(PROVIDER_FAILED, f"{what}: not a JSON object")
    return body


class Http:
    """The adapters' HTTP client: every call has the configured deadline; transport failures
    are ``social.provider_unavailable``."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post_form(
        self,
        url: str,
        form: Mapping[str, str],
        what: str,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            reply = await self.client.post(
                url, data=dict(form), headers={"Accept": "application/json", **(headers or {})}
            )
        except httpx.HTTPError as failed:
            raise ProviderError(PROVIDER_UNAVAILABLE, f"{what}: {type(failed).__name__}") from None
        return _json(reply, what)

    async def get_json(
        self,
        url: str,
        what: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            reply = await self.client.get(
                url,
                params=dict(params or {}),
                headers={"Accept": "application/json", **(headers or {})},
            )
        except httpx.HTTPError as failed:
            raise ProviderError(PROVIDER_UNAVAILABLE, f"{what}: {type(failed).__name__}") from None
        return _json(reply, what)


def access_token_of(tokens: Mapping[str, Any], what: str) -> str:
    token = tokens.get("access_token")
    if not isinstance(token, str) or not token:
        raise ProviderError(PROVIDER_FAILED, f"{what}: no access_token")
    return token


class Jwks:
    """A provider's signing keys, fetched lazily, refreshed on an unknown ``kid`` (at most once
    a minute) and after an hour."""

    def __init__(self, http: Http, url: str) -> None:
        self._http = http
        self._url = url
        self._keys: KeySet | None = None
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def keys(self, *, refresh: bool = False) -> KeySet:
        async with self._lock:
            age = time.monotonic() - self._fetched
            stale = self._keys is None or age > JWKS_MAX_AGE
            if stale or (refresh and age > JWKS_MIN_REFRESH):
                body = await self._http.get_json(self._url, "jwks")
                try:
                    self._keys = KeySet.import_key_set(body)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError):
                    raise ProviderError(PROVIDER_FAILED, "jwks: unusable key set") from None
                self._fetched = time.monotonic()
            assert self._keys is not None
            return self._keys


def _kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS header (None when unreadable: the token is then invalid)."""
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


async def verify_id_token(
    token: object,
    jwks: Jwks,
    *,
    issuer: str,
    audience: str,
    nonce: str,
    algorithms: Collection[str] = ("RS256",),
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of an ID token whose signature (a key of the provider's JWKS, an allowed
    algorithm), ``iss``, ``aud``, ``exp`` and ``nonce`` are right; ``social.id_token_invalid``
    otherwise (the reason, never the token, goes to the log)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise ProviderError(ID_TOKEN_INVALID, "no ID token")
    keys = await jwks.keys()
    kid = _kid(token)
    if kid is None:
        raise ProviderError(ID_TOKEN_INVALID, "ID token without kid")
    if not any(k.kid == kid for k in keys.keys):
        keys = await jwks.keys(refresh=True)
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except (JoseError, ValueError, TypeError):
        raise ProviderError(ID_TOKEN_INVALID, "ID token signature") from None
    claims = dict(decoded.claims)
    moment = int(time.time() if now is None else now)
    if claims.get("iss") != issuer:
        raise ProviderError(ID_TOKEN_INVALID, "ID token iss")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise ProviderError(ID_TOKEN_INVALID, "ID token aud")
    if len(audiences) > 1 and claims.get("azp") != audience:
        raise ProviderError(ID_TOKEN_INVALID, "ID token azp")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp + CLOCK_SKEW < moment:
        raise ProviderError(ID_TOKEN_INVALID, "ID token exp")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat - CLOCK_SKEW > moment:
        raise ProviderError(ID_TOKEN_INVALID, "ID token iat in the future")
    if claims.get("nonce") != nonce:
        raise ProviderError(ID_TOKEN_INVALID, "ID token nonce")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ProviderError(ID_TOKEN_INVALID, "ID token sub")
    return claims


def truthy(value: object) -> bool:
    """A boolean claim that some providers (Apple) send as the string "true"."""
    return value is True or value == "true"
