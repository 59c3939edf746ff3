"""Who is calling: access tokens checked at the edge, without a round trip per request.

A token comes as ``Authorization: Bearer`` (apps) or in the ``__Host-`` access cookie (browsers).
Its signature and claims are checked locally against identity's JWKS, cached and fetched again
when a token names an unknown ``kid`` (at most every ``kabinet.rpc.callers.JWKS_MIN_REFRESH``
seconds, the same verifier the services use on their gRPC callers); a token already
verified is remembered (its expiry and key are still checked on every request). Revocation is
checked against ``RevocationList``, kept current from identity's ``identity.session.revoked``
events, so a signed-out or disconnected session is refused at once without asking identity.

Browser requests that change state must prove they come from our pages: a CSRF token in the
``X-CSRF-Token`` header equal to the ``__Host-`` CSRF cookie (double submit), and an ``Origin``,
when sent, that is one of ours.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar import Request, Response

from gateway.clients import ServiceClients
from kabinet.auth.tokens import AccessClaims, InvalidToken, Reason
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2
from kabinet.rpc.callers import RemoteKeys, TokenVerifier

log = logging.getLogger(__name__)

ACCESS_COOKIE = "__Host-kabinet_at"
REFRESH_COOKIE = "__Host-kabinet_rt"
CSRF_COOKIE = "__Host-kabinet_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFRESH_COOKIE_MAX_AGE = 30 * 24 * 3600


@dataclass(frozen=True)
class Principal:
    """A caller with a valid, live access token."""

    account_id: str
    session_id: str
    roles: tuple[str, ...]
    scope: tuple[str, ...]
    client_id: str | None
    by_cookie: bool


class RevocationList:
    """Session ids revoked recently enough that a token of theirs may still be unexpired."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._until: dict[str, float] = {}

    def add(self, session_id: str, revoked_at: float | None = None) -> None:
        at = time.time() if revoked_at is None else revoked_at
        self._until[session_id] = at + self.window.total_seconds()
        if len(self._until) % 1024 == 0:
            self._forget_old()

    def is_revoked(self, session_id: str) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > time.time()

    def _forget_old(self) -> None:
        now = time.time()
        for sid in [s for s, until in self._until.items() if until <= now]:
            del self._until[sid]

    def __len__(self) -> int:
        return len(self._until)


class Authenticator:
    """Checks access tokens locally; fetches identity's JWKS when it meets a new key."""

    def __init__(
        self,
        clients: ServiceClients,
        revocations: RevocationList,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self.revocations = revocations
        self.issuer = issuer
        self.audience = audience

        async def fetch_jwks() -> str:
            reply = await clients.identity.GetJwks(identity_pb2.GetJwksRequest())
            return reply.jwks_json

        self._tokens = TokenVerifier(RemoteKeys(fetch_jwks), issuer=issuer, audience=audience)

    async def verify(self, token: str) -> AccessClaims:
        """The claims of a valid, unrevoked access token; ``token.invalid`` otherwise."""
        claims = await self._tokens.claims(token)
        if self.revocations.is_revoked(claims.session_id):
            raise InvalidToken(Reason.REVOKED)
        return claims

    async def principal(self, request: Request[Any, Any, Any]) -> Principal | None:
        """The caller, or None when no token came; a token that came and is bad is an error."""
        header = request.headers.get("authorization", "")
        by_cookie = False
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise InvalidToken(Reason.MALFORMED)
            token = token.strip()
        else:
            token = request.cookies.get(ACCESS_COOKIE, "")
            by_cookie = True
            if not token:
                return None
        claims = await self.verify(token)
        roles = claims.extra.get("roles", ())
        return Principal(
            account_id=claims.subject,
            session_id=claims.session_id,
            roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
            scope=claims.scope,
            client_id=claims.client_id,
            by_cookie=by_cookie,
        )


def check_csrf(request: Request[Any, Any, Any], allowed_origins: frozenset[str]) -> None:
    """Refuse a state-changing browser request that our pages did not make (403)."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin not in allowed_origins:
        raise DomainError(ErrorKind.PERMISSION_DENIED, "auth.csrf_failed")
    if request.headers.get("authorization"):
        return  # bearer tokens are not sent by browsers on their own
    if ACCESS_COOKIE not in request.cookies and REFRESH_COOKIE not in request.cookies:
        return  # no ambient credential to abuse
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise DomainError(ErrorKind.PERMISSION_DENIED, "auth.csrf_failed")


def set_session_cookies(
    response: Response[Any], *, access_token: str, refresh_token: str, expires_in: int
) -> None:
    """The browser's session: access and refresh tokens HttpOnly, plus a readable CSRF token."""
    common: dict[str, Any] = {"path": "/", "secure": True, "samesite": "lax"}
    response.set_cookie(ACCESS_COOKIE, access_token, max_age=expires_in, httponly=True, **common)
    response.set_cookie(
        REFRESH_COOKIE, refresh_token, max_age=REFRESH_COOKIE_MAX_AGE, httponly=True, **common
    )
    response.set_cookie(
        CSRF_COOKIE, secrets.token_urlsafe(32), max_age=REFRESH_COOKIE_MAX_AGE, **common
    )


def clear_session_cookies(response: Response[Any]) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")
