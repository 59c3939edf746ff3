"""Channels: a deadline on every call, retries on UNAVAILABLE for idempotent methods only."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import pytest
from google.protobuf.descriptor import ServiceDescriptor

from kabinet.rpc.client import create_channel, service_config
from kabinet.rpc.errors import domain_error_from_rpc
from kabinet.rpc.server import RpcServer

SERVICE = "kabinet.test.v1.EchoService"
Serve = Callable[..., Awaitable[RpcServer]]


def test_only_idempotent_methods_get_a_retry_policy(echo_service: ServiceDescriptor) -> None:
    config = service_config([echo_service])

    (method_config,) = config["methodConfig"]
    assert method_config["name"] == [
        {"service": SERVICE, "method": "Get"},
        {"service": SERVICE, "method": "Put"},
    ]
    assert method_config["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert 3 <= method_config["retryPolicy"]["maxAttempts"] <= 4
    json.dumps(config)  # it goes into a channel option as JSON


def _flaky(calls: Counter[str], name: str, first_failure: BaseException) -> grpc.RpcMethodHandler:
    """A method that fails with ``first_failure`` on its first call and then echoes."""

    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        calls[name] += 1
        if calls[name] == 1:
            raise first_failure
        return request

    return grpc.unary_unary_rpc_method_handler(handler)


async def test_idempotent_calls_are_retried_on_unavailable_and_others_are_not(
    serve: Serve, echo_service: ServiceDescriptor
) -> None:
    calls: Counter[str] = Counter()
    outage = ConnectionRefusedError(111, "database refused the connection")
    server = await serve({name: _flaky(calls, name, outage) for name in ("Get", "Put", "Create")})

    async with create_channel(server.address, services=[echo_service]) as channel:
        got = await channel.unary_unary(f"/{SERVICE}/Get")(b"g")
        put = await channel.unary_unary(f"/{SERVICE}/Put")(b"p")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(f"/{SERVICE}/Create")(b"c")

    assert (got, put) == (b"g", b"p")
    assert calls == {"Get": 2, "Put": 2, "Create": 1}
    assert domain_error_from_rpc(caught.value).code == "service.unavailable"


async def test_other_failures_are_not_retried_even_when_idempotent(
    serve: Serve, echo_service: ServiceDescriptor
) -> None:
    calls: Counter[str] = Counter()
    server = await serve({"Get": _flaky(calls, "Get", RuntimeError("bug"))})

    async with create_channel(server.address, services=[echo_service]) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(f"/{SERVICE}/Get")(b"")

    assert caught.value.code() is grpc.StatusCode.INTERNAL
    assert calls == {"Get": 1}


async def test_without_descriptors_nothing_is_retried(serve: Serve) -> None:
    calls: Counter[str] = Counter()
    server = await serve({"Get": _flaky(calls, "Get", ConnectionResetError())})

    async with create_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary(f"/{SERVICE}/Get")(b"")

    assert calls == {"Get": 1}


async def _remaining(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return str(context.time_remaining()).encode()


async def test_every_call_gets_the_default_timeout_unless_it_passes_one(
    serve: Serve, echo_service: ServiceDescriptor
) -> None:
    server = await serve({"Get": grpc.unary_unary_rpc_method_handler(_remaining)})

    async with create_channel(server.address, default_timeout=3) as channel:
        call = channel.unary_unary(f"/{SERVICE}/Get")
        default = float(await call(b""))
        explicit = float(await call(b"", timeout=60))

    # gRPC rounds the timeout it sends up a little; the two stay far apart.
    assert 0 < default < 3.5
    assert 30 < explicit < 61


async def test_calls_made_while_serving_inherit_what_is_left_of_the_deadline(
    serve: Serve,
) -> None:
    inner = await serve({"Get": grpc.unary_unary_rpc_method_handler(_remaining)})

    async def relay(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        async with create_channel(inner.address, default_timeout=30) as channel:
            return await channel.unary_unary(f"/{SERVICE}/Get")(request)

    outer = await serve({"Get": grpc.unary_unary_rpc_method_handler(relay)})

    async with create_channel(outer.address) as channel:
        seen = float(await channel.unary_unary(f"/{SERVICE}/Get")(b"", timeout=2))

    assert 0 < seen < 2.5  # not the inner channel's 30 s (gRPC rounds timeouts up a little)
