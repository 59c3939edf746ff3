"""What every request meets first: a request id, security headers, CORS and rate limits.

It wraps the whole app (unmatched paths and errors included), as plain ASGI so that it costs
little on the hot path:

- **Request id**: ``X-Request-Id`` from a trusted proxy when well-formed, else a new one; echoed
  on the answer and put on every log line of the request.
- **Security headers**: a Content-Security-Policy without inline scripts, HSTS when the public
  URL is HTTPS, no framing, no MIME sniffing, a strict referrer policy. A page that sets its own
  header (the emailed-link pages send ``no-referrer``) keeps it.
- **CORS**: only for the configured origins, never on the OpenID authorization endpoint (it is a
  browser navigation, not an API call).
- **Rate limits** on the sensitive routes (sign-in, registration, reset, codes, OAuth), per
  client IP and per signed-in session, in this replica's memory: the services keep their own
  shared limits (identity's sign-in throttling, subscription's code guessing); these blunt
  floods before they cost a gRPC call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from gateway.client_ip import Network, is_trusted, resolve_client_ip
from kabinet.logs import request_id_var
from kabinet.messages import pick_language, translate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"x-request-id"
_WELL_FORMED_ID = re.compile(rb"[A-Za-z0-9._:-]{8,128}")

# Pages load scripts, styles and images from the gateway only; nothing inline runs.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
_PAGE_CSP = PAGE_CSP.encode()  # encoded once, not per response

# The POST routes worth limiting: guessing, flooding someone's inbox, password spraying.
SENSITIVE_PREFIXES = (
    "/api/v1/auth/",
    "/api/v1/account/",
    "/api/v1/subscriptions/codes",
    "/oauth2/",
    "/device",
    "/activate",
    "/create-password",
    "/reset-password",
    "/confirm-email",
    "/signin",
)
_SESSION_COOKIE = "__Host-kabinet_at"
WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class EdgePolicy:
    """The settings the edge applies (from ``GatewaySettings``)."""

    trusted_proxies: Sequence[Network] = ()
    cors_origins: frozenset[str] = frozenset()
    hsts_seconds: int = 0  # 0: no HSTS (plain-HTTP development)
    per_ip_per_minute: int = 60
    per_session_per_minute: int = 30
    cors_excluded: tuple[str, ...] = ("/oauth2/authorize",)


class SlidingWindow:
    """Counts events per key over the last minute (two fixed windows, weighted), with a bounded
    number of keys so that a flood of distinct keys cannot exhaust memory."""

    def __init__(self, limit: int, *, max_keys: int = 100_000) -> None:
        self.limit = limit
        self._max_keys = max_keys
        self._counts: OrderedDict[str, tuple[int, int, int]] = OrderedDict()

    def hit(self, key: str, now: float) -> float | None:
        """Count one event; None when within the limit, else the seconds to wait."""
        window = int(now // WINDOW_SECONDS)
        current_window, current, previous = self._counts.pop(key, (window, 0, 0))
        if current_window != window:
            previous = current if current_window == window - 1 else 0
            current = 0
        elapsed = (now % WINDOW_SECONDS) / WINDOW_SECONDS
        estimate = previous * (1.0 - elapsed) + current
        if estimate >= self.limit:
            self._counts[key] = (window, current, previous)
            return max(1.0, WINDOW_SECONDS * (1.0 - elapsed))
        self._counts[key] = (window, current + 1, previous)
        if len(self._counts) > self._max_keys:
            self._counts.popitem(last=False)
        return None


@dataclass
class _Limits:
    per_ip: SlidingWindow
    per_session: SlidingWindow
    clock: Callable[[], float] = field(default=time.monotonic)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _session_key(scope: Scope) -> str | None:
    """A key per signed-in session: the hash of its access token (cookie or bearer)."""
    authorization = _header(scope, b"authorization")
    token = b""
    if authorization and authorization[:7].lower() == b"bearer ":
        token = authorization[7:].strip()
    else:
        raw = _header(scope, b"cookie")
        if raw:
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(raw.decode("latin-1"))
            except Exception:  # a malformed cookie header is the app's business, not ours
                return None
            morsel = cookie.get(_SESSION_COOKIE)
            token = morsel.value.encode() if morsel else b""
    return hashlib.sha256(token).hexdigest() if token else None


class EdgeMiddleware:
    """The ASGI wrapper described in the module docstring."""

    def __init__(self, app: ASGIApp, policy: EdgePolicy) -> None:
        self._app = app
        self._policy = policy
        self._limits = _Limits(
            SlidingWindow(policy.per_ip_per_minute), SlidingWindow(policy.per_session_per_minute)
        )
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if policy.hsts_seconds > 0:
            headers.append(
                (b"strict-transport-security", f"max-age={policy.hsts_seconds}".encode())
            )
        self._headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        token = request_id_var.set(request_id)
        try:
            origin = _header(scope, b"origin")
            cors = self._cors_origin(scope, origin)
            if (
                cors
                and scope["method"] == "OPTIONS"
                and _header(scope, b"access-control-request-method")
            ):
                await self._preflight(send, cors, request_id)
                return
            wait = self._rate_limited(scope)
            if wait is not None:
                await self._too_many(scope, send, wait, request_id)
                return
            await self._app(scope, receive, self._decorating(send, request_id, cors))
        finally:
            request_id_var.reset(token)

    def _request_id(self, scope: Scope) -> str:
        offered = _header(scope, REQUEST_ID_HEADER)
        if offered and _WELL_FORMED_ID.fullmatch(offered):
            client = scope.get("client")
            if is_trusted(client[0] if client else "", self._policy.trusted_proxies):
                return offered.decode()
        return uuid.uuid4().hex

    def _cors_origin(self, scope: Scope, origin: bytes | None) -> bytes | None:
        if not origin or not self._policy.cors_origins:
            return None
        path: str = scope["path"]
        if path.startswith(self._policy.cors_excluded):
            return None
        return origin if origin.decode("latin-1") in self._policy.cors_origins else None

    def _rate_limited(self, scope: Scope) -> float | None:
        if scope["method"] != "POST" or not scope["path"].startswith(SENSITIVE_PREFIXES):
            return None
        now = self._limits.clock()
        client = scope.get("client")
        forwarded = _header(scope, b"x-forwarded-for")
        ip = resolve_client_ip(
            client[0] if client else "",
            forwarded.decode("latin-1") if forwarded else None,
            self._policy.trusted_proxies,
        )
        wait = self._limits.per_ip.hit(f"ip:{ip}", now)
        if wait is None:
            session = _session_key(scope)
            if session is not None:
                wait = self._limits.per_session.hit(f"session:{session}", now)
        if wait is not None:
            logging.getLogger(__name__).warning(
                "rate limited", extra={"path": scope["path"], "client_ip": ip}
            )
        return wait

    def _decorating(self, send: Send, request_id: str, cors: bytes | None) -> Send:
        async def decorated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(k).lower() for k, _ in headers}
                for name, value in self._headers:
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", _PAGE_CSP))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                if cors is not None:
                    headers.extend(_cors_headers(cors))
                message["headers"] = headers
            await send(message)

        return decorated

    async def _preflight(self, send: Send, origin: bytes, request_id: str) -> None:
        headers = [
            *_cors_headers(origin),
            (b"access-control-allow-methods", b"GET, POST, PUT, PATCH, DELETE"),
            (b"access-control-allow-headers", b"authorization, content-type, x-csrf-token"),
            (b"access-control-max-age", b"600"),
            (REQUEST_ID_HEADER, request_id.encode()),
            *self._headers,
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _too_many(self, scope: Scope, send: Send, wait: float, request_id: str) -> None:
        accept = _header(scope, b"accept-language")
        language = pick_language(accept.decode("latin-1") if accept else None)
        code = "request.rate_limited"
        body = json.dumps(
            {
                "type": f"urn:kabinet:problem:{code}",
                "title": translate(code, "en", {}),
                "status": 429,
                "detail": translate(code, language, {}),
                "code": code,
                "instance": scope["path"],
            },
            ensure_ascii=False,
        ).encode()
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"content-language", language.encode()),
            (b"retry-after", str(int(wait) + 1).encode()),
            (b"content-security-policy", _PAGE_CSP),
            (REQUEST_ID_HEADER, request_id.encode()),
            *self._headers,
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _cors_headers(origin: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-credentials", b"true"),
        (b"vary", b"Origin"),
    ]
