"""Caller authentication on a real gRPC server: operator methods, scopes of client_credentials
tokens, anonymous calls inside the cluster, forged and foreign tokens, streaming handlers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import grpc.aio
import pytest

from kabinet.auth.keys import KeyRing, VerificationKeys, generate_signing_key
from kabinet.auth.tokens import issue_access_token
from kabinet.errors import ErrorKind
from kabinet.rpc.callers import (
    ADMIN_SCOPE,
    RemoteKeys,
    bearer_token,
    caller_interceptor,
    service_policy,
)
from kabinet.rpc.errors import domain_error_from_rpc
from kabinet.rpc.interceptors import ServerInterceptor

SERVICE = "kabinet.test.v1.EchoService"
ISSUER = "https://kabinet.test"
AUDIENCE = "kabinet-api"
NOW = datetime.now(UTC)


def _ring() -> KeyRing:
    return KeyRing(
        [generate_signing_key(NOW - timedelta(minutes=1))], max_token_ttl=timedelta(hours=1)
    )


RING = _ring()
OTHER_RING = _ring()


def _person(roles: list[str], ring: KeyRing = RING) -> str:
    return issue_access_token(
        ring,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="0b7c1c6e-0000-4000-8000-000000000001",
        session_id="0b7c1c6e-0000-4000-8000-000000000002",
        now=NOW,
        extra_claims={"roles": roles},
    )


def _client(scope: list[str], ring: KeyRing = RING, audience: str = AUDIENCE) -> str:
    return issue_access_token(
        ring,
        issuer=ISSUER,
        audience=audience,
        subject="backend-1",
        session_id="0b7c1c6e-0000-4000-8000-000000000003",
        now=NOW,
        scope=scope,
        client_id="backend-1",
        extra_claims={"gty": "client_credentials"},
    )


async def _keys(fresh: bool) -> VerificationKeys:
    return RING


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def _stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield request


@pytest.fixture
async def address() -> AsyncIterator[str]:
    callers = caller_interceptor(
        frozenset({f"/{SERVICE}/Create"}),
        _keys,
        issuer=ISSUER,
        audience=AUDIENCE,
        method_scopes={f"/{SERVICE}/Get": "kabinet.tokens.validate", f"/{SERVICE}/": "other"},
    )
    server = grpc.aio.server(interceptors=[ServerInterceptor(), callers])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Get": grpc.unary_unary_rpc_method_handler(_echo),
                    "Put": grpc.unary_unary_rpc_method_handler(_echo),
                    "Create": grpc.unary_unary_rpc_method_handler(_echo),
                    "Watch": grpc.unary_stream_rpc_method_handler(_stream),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def _call(address: str, method: str, token: str | None) -> tuple[ErrorKind | None, bytes]:
    metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            if method == "Watch":
                call = channel.unary_stream(f"/{SERVICE}/Watch")(b"hi", metadata=metadata)
                return None, b"".join([item async for item in call])
            reply = await channel.unary_unary(f"/{SERVICE}/{method}")(
                b"hi", metadata=metadata, timeout=5
            )
        except grpc.aio.AioRpcError as failed:
            return domain_error_from_rpc(failed).kind, b""
    return None, reply


async def test_operator_methods_need_an_operator(address: str) -> None:
    assert (await _call(address, "Create", None))[0] is ErrorKind.UNAUTHENTICATED
    assert (await _call(address, "Create", _person([])))[0] is ErrorKind.PERMISSION_DENIED
    assert (await _call(address, "Create", _person(["support"])))[0] is ErrorKind.PERMISSION_DENIED
    assert (await _call(address, "Create", _client(["kabinet.tokens.validate"])))[0] is (
        ErrorKind.PERMISSION_DENIED
    )
    assert await _call(address, "Create", _person(["operator"])) == (None, b"hi")
    assert await _call(address, "Create", _client([ADMIN_SCOPE])) == (None, b"hi")


async def test_forged_and_foreign_tokens_are_refused(address: str) -> None:
    for token in (
        "garbage",
        _person(["operator"])[:-3] + "AAA",
        _person(["operator"], OTHER_RING),
        _client([ADMIN_SCOPE], audience="someone-else"),
    ):
        assert (await _call(address, "Create", token))[0] is ErrorKind.UNAUTHENTICATED
        assert (await _call(address, "Put", token))[0] is ErrorKind.UNAUTHENTICATED


async def test_client_tokens_need_the_scope_of_the_method(address: str) -> None:
    assert await _call(address, "Get", _client(["kabinet.tokens.validate"])) == (None, b"hi")
    assert (await _call(address, "Get", _client(["other"])))[0] is ErrorKind.PERMISSION_DENIED
    # The service prefix covers the other methods.
    assert await _call(address, "Put", _client(["other"])) == (None, b"hi")
    assert (await _call(address, "Put", _client(["x"])))[0] is ErrorKind.PERMISSION_DENIED
    assert (await _call(address, "Watch", _client(["x"])))[0] is ErrorKind.PERMISSION_DENIED
    assert await _call(address, "Watch", _client(["other"])) == (None, b"hi")


async def test_calls_inside_the_cluster_need_no_token(address: str) -> None:
    assert await _call(address, "Get", None) == (None, b"hi")
    assert await _call(address, "Get", _person([])) == (None, b"hi")


def test_authorization_metadata_must_be_a_bearer() -> None:
    assert bearer_token([("x", "y")]) is None
    assert bearer_token([("authorization", "Bearer abc ")]) == "abc"
    with pytest.raises(Exception, match="token"):
        bearer_token([("authorization", "Basic abc")])


async def test_remote_keys_are_fetched_once_and_again_only_for_a_new_kid() -> None:
    fetched = 0

    async def fetch() -> str:
        nonlocal fetched
        fetched += 1
        return json.dumps(RING.public_jwks(NOW))

    keys = RemoteKeys(fetch)
    first = await keys(False)
    await keys(False)
    assert fetched == 1
    await keys(True)  # asked again at once: too soon, the cached copy answers
    assert fetched == 1
    assert first.verification_key(RING.current(NOW).kid, NOW) is not None


def test_a_services_policy_is_what_its_api_modules_declare() -> None:
    policy = service_policy("identity.api")
    assert "/kabinet.identity.v1.ClientRegistryService/RegisterClient" in policy.operator_methods
    assert "/kabinet.identity.v1.IdentityService/SignIn" not in policy.operator_methods
    assert policy.scope_for("/kabinet.identity.v1.IdentityService/ValidateToken") == (
        "kabinet.tokens.validate"
    )
    empty = service_policy("no_such_service.api")
    assert empty.operator_methods == frozenset()
    assert empty.scope_for("/x.v1.XService/Y") is None


async def test_unreachable_keys_make_a_token_call_unavailable_not_unknown() -> None:
    async def unreachable(fresh: bool) -> VerificationKeys:
        raise ConnectionRefusedError("identity is not up yet")

    callers = caller_interceptor(
        frozenset({f"/{SERVICE}/Create"}), unreachable, issuer=ISSUER, audience=AUDIENCE
    )
    server = grpc.aio.server(interceptors=[ServerInterceptor(), callers])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE, {"Create": grpc.unary_unary_rpc_method_handler(_echo)}
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        kind, _ = await _call(f"127.0.0.1:{port}", "Create", _person(["operator"]))
    finally:
        await server.stop(None)
    assert kind is ErrorKind.UNAVAILABLE  # a retryable answer: nothing was decided
