"""Who calls a service over gRPC, and what they may call: the cluster's caller authentication.

A caller proves itself with ``authorization: Bearer <access token>`` metadata, a token issued by
identity and verified here locally (signature against identity's keys, issuer, audience, expiry;
``kabinet.auth.tokens``). Two kinds of tokens count:

- a **client_credentials** token of a confidential client from the client registry (a product
  backend, an operator's tool), carrying scopes such as ``kabinet.tokens.validate``,
  ``kabinet.entitlements.read`` or ``kabinet.admin``;
- a **person's** access token; only its ``roles`` matter here (``operator``).

The rules, per service:

- methods in the service's ``OPERATOR_METHODS`` need a token: a person with the ``operator``
  role, or a client_credentials token with the ``kabinet.admin`` scope (``PERMISSION_DENIED``
  otherwise, ``UNAUTHENTICATED`` without a valid token);
- any other method: a token, when one is presented, must be valid, and a client_credentials
  token must carry the scope of the method's group (``method_scopes``);
- a call **without** a token to a method that is not an operator method is accepted. This is the
  cluster's trust rule: the gateway and the services call each other without tokens, inside the
  cluster network, which its network policy closes to everything else; product backends
  present their client_credentials tokens. A server built with ``require_token=True`` (for
  replicas exposed beyond that network) refuses every call without one.

Tokens are short-lived (minutes) and checked locally, so a revoked operator session keeps its
gRPC power until its access token expires; that is the price of no round trip per call.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

import grpc
import grpc.aio

from kabinet.auth.keys import PublicKeySet, VerificationKeys
from kabinet.auth.tokens import AccessClaims, InvalidToken, Reason, verify_access_token
from kabinet.auth.verified import VerifiedTokens
from kabinet.errors import DomainError, ErrorKind
from kabinet.rpc.interceptors import EXEMPT_PREFIXES

ADMIN_SCOPE = "kabinet.admin"
OPERATOR_ROLE = "operator"
GRANT_CLAIM = "gty"
CLIENT_CREDENTIALS = "client_credentials"
FORBIDDEN = "auth.forbidden"
REQUIRED = "auth.required"
UNAVAILABLE = "service.unavailable"
JWKS_MIN_REFRESH = 30.0

_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
KeySource = Callable[[bool], Awaitable[VerificationKeys]]
"""Returns the keys to verify with; ``True`` asks for a fresh copy (a token named a new kid)."""


@dataclass(frozen=True)
class Caller:
    """A verified caller."""

    subject: str
    client_id: str | None
    scope: frozenset[str]
    roles: frozenset[str]
    # A client_credentials token (a backend or a tool), not a person's.
    is_client: bool = False

    @property
    def is_operator(self) -> bool:
        if self.is_client:
            return ADMIN_SCOPE in self.scope
        return OPERATOR_ROLE in self.roles


@dataclass(frozen=True)
class CallerPolicy:
    """One service's rules: its operator methods and the scope each method group needs.

    ``method_scopes`` maps a full method name (``/pkg.Service/Method``) or a service prefix
    (``/pkg.Service/``) to the scope a client_credentials token must carry to call it.
    """

    operator_methods: frozenset[str]
    method_scopes: Mapping[str, str] = field(default_factory=dict)
    require_token: bool = False

    def scope_for(self, method: str) -> str | None:
        scopes = self.method_scopes
        if method in scopes:
            return scopes[method]
        return scopes.get(method[: method.rfind("/") + 1])


class RemoteKeys:
    """Identity's JWKS, fetched over gRPC and cached; fetched again (at most every
    ``JWKS_MIN_REFRESH`` seconds) when a token names a key it does not know."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[str]],
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._fetch = fetch
        self._close = close
        self._keys: PublicKeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self, fresh: bool) -> VerificationKeys:
        if self._keys is not None and not fresh:
            return self._keys
        async with self._lock:
            recent = time.monotonic() - self._fetched_at < JWKS_MIN_REFRESH
            if self._keys is not None and (not fresh or recent):
                return self._keys
            self._keys = PublicKeySet.from_jwks(json.loads(await self._fetch()))
            self._fetched_at = time.monotonic()
            return self._keys

    async def close(self) -> None:
        """Release what fetching holds (a channel to identity)."""
        if self._close is not None:
            await self._close()


class TokenVerifier:
    """Verifies access tokens against a key source (fetched again, through it, when a token names
    a key it does not know) and remembers verified tokens. Revocation is the caller's check."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self.issuer = issuer
        self.audience = audience
        self._verified = VerifiedTokens()

    async def claims(self, token: str) -> AccessClaims:
        """The claims of a valid access token; ``InvalidToken`` otherwise."""
        now = datetime.now(UTC)
        keys = await self._keys(False)
        claims = self._verified.get(token, keys, now)
        if claims is None:
            claims = await self._verify(keys, token, now)
            self._verified.remember(token, claims)
        return claims

    async def _verify(self, keys: VerificationKeys, token: str, now: datetime) -> AccessClaims:
        try:
            return verify_access_token(
                keys, token, issuer=self.issuer, audience=self.audience, now=now
            )
        except InvalidToken as refused:
            if refused.reason is not Reason.KID_UNKNOWN:
                raise
        keys = await self._keys(True)
        return verify_access_token(keys, token, issuer=self.issuer, audience=self.audience, now=now)


class CallerVerifier(TokenVerifier):
    """A ``TokenVerifier`` that tells who the caller is."""

    async def verify(self, token: str) -> Caller:
        claims = await self.claims(token)
        roles = claims.extra.get("roles", ())
        is_client = claims.extra.get(GRANT_CLAIM) == CLIENT_CREDENTIALS
        return Caller(
            subject=claims.subject,
            client_id=claims.client_id,
            scope=frozenset(claims.scope),
            roles=frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list) and not is_client
            else frozenset(),
            is_client=is_client,
        )


def bearer_token(metadata: Any) -> str | None:
    """The token of ``authorization: Bearer <token>`` metadata; None when there is none; an
    ``authorization`` entry of another shape is refused."""
    for key, value in metadata or ():
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else str(value)
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise InvalidToken(Reason.MALFORMED)
            return token.strip()
    return None


class CallerAuthInterceptor(grpc.aio.ServerInterceptor):
    """Enforces a ``CallerPolicy``. Runs after ``ServerInterceptor`` in the chain, so a refusal
    is a ``DomainError`` mapped and logged like any other."""

    def __init__(self, policy: CallerPolicy, verifier: CallerVerifier) -> None:
        self._policy = policy
        self._verifier = verifier

    async def check(self, method: str, metadata: Any) -> Caller | None:
        """The verified caller of ``method`` (None: an anonymous call the policy allows)."""
        token = bearer_token(metadata)
        operator_only = method in self._policy.operator_methods
        if token is None:
            if operator_only or self._policy.require_token:
                raise DomainError(ErrorKind.UNAUTHENTICATED, REQUIRED)
            return None
        try:
            caller = await self._verifier.verify(token)
        except (grpc.aio.AioRpcError, OSError) as unreachable:
            # Identity's keys could not be fetched: the caller may retry, nothing was decided.
            raise DomainError(ErrorKind.UNAVAILABLE, UNAVAILABLE) from unreachable
        if operator_only:
            if not caller.is_operator:
                raise DomainError(ErrorKind.PERMISSION_DENIED, FORBIDDEN)
            return caller
        needed = self._policy.scope_for(method)
        if caller.is_client and needed is not None and not caller.scope & {needed, ADMIN_SCOPE}:
            raise DomainError(ErrorKind.PERMISSION_DENIED, FORBIDDEN)
        return caller

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(EXEMPT_PREFIXES):
            return handler
        try:
            await self.check(method, handler_call_details.invocation_metadata)
        except DomainError as refused:
            return _refusing(handler, refused)
        return handler


def _refusing(handler: _Handler, error: DomainError) -> _Handler:
    """A handler of the same shape as ``handler`` that raises ``error`` (the error-mapping
    interceptor around it turns that into the status)."""

    async def unary(request: Any, context: Any) -> Any:
        raise error

    async def streaming(request: Any, context: Any) -> Any:
        raise error
        yield  # pragma: no cover - makes this an async generator

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.response_streaming:
        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(streaming, **kwargs)
        return grpc.unary_stream_rpc_method_handler(streaming, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(unary, **kwargs)
    return grpc.unary_unary_rpc_method_handler(unary, **kwargs)


def service_policy(package: str, *, require_token: bool = False) -> CallerPolicy:
    """The policy a service's ``api`` package declares: the union of ``OPERATOR_METHODS``
    (frozensets of full method names) and of ``METHOD_SCOPES`` (method or service prefix →
    scope) of its modules. A package that does not exist declares nothing."""
    try:
        root = importlib.import_module(package)
    except ModuleNotFoundError:
        return CallerPolicy(frozenset(), {}, require_token)
    modules = [root]
    for info in pkgutil.iter_modules(getattr(root, "__path__", [])):
        modules.append(importlib.import_module(f"{package}.{info.name}"))
    operator: set[str] = set()
    scopes: dict[str, str] = {}
    for module in modules:
        operator |= set(getattr(module, "OPERATOR_METHODS", ()))
        scopes.update(getattr(module, "METHOD_SCOPES", {}))
    return CallerPolicy(frozenset(operator), scopes, require_token)


def caller_interceptor(
    operator_methods: frozenset[str],
    keys: KeySource,
    *,
    issuer: str,
    audience: str,
    method_scopes: Mapping[str, str] | None = None,
    require_token: bool = False,
) -> CallerAuthInterceptor:
    """The interceptor a service passes to ``ServiceHost.serve(callers=...)``."""
    policy = CallerPolicy(operator_methods, method_scopes or {}, require_token)
    return policy_interceptor(policy, keys, issuer=issuer, audience=audience)


def policy_interceptor(
    policy: CallerPolicy, keys: KeySource, *, issuer: str, audience: str
) -> CallerAuthInterceptor:
    """The interceptor enforcing ``policy`` with tokens verified against ``keys``."""
    return CallerAuthInterceptor(policy, CallerVerifier(keys, issuer=issuer, audience=audience))


def identity_keys(identity_addr: str) -> RemoteKeys:
    """Identity's JWKS over gRPC, for the services other than identity. The channel is opened at
    the first fetch (on the serving loop) and closed by ``RemoteKeys.close``."""
    from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc
    from kabinet.rpc.client import create_channel

    opened: list[grpc.aio.Channel] = []

    async def fetch() -> str:
        if not opened:
            opened.append(
                create_channel(
                    identity_addr,
                    services=[identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]],
                )
            )
        stub = identity_pb2_grpc.IdentityServiceStub(opened[0])
        reply = await stub.GetJwks(identity_pb2.GetJwksRequest())
        return reply.jwks_json

    async def close() -> None:
        while opened:
            await opened.pop().close()

    return RemoteKeys(fetch, close)
