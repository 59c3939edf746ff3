"""Server lifecycle: health, reflection, graceful stop, a clear error when the port is taken."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kabinet.rpc.server import BindError, RpcServer, start_server

SERVICE = "kabinet.test.v1.EchoService"
Serve = Callable[..., Awaitable[RpcServer]]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _check(channel: grpc.aio.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return reply.status


async def test_health_reports_serving_then_not_serving_on_stop(serve: Serve) -> None:
    server = await serve({})
    async with grpc.aio.insecure_channel(server.address) as channel:
        before = {name: await _check(channel, name) for name in (SERVICE, "")}
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE)
        )
        first = (await watch.read()).status
        stopping = asyncio.create_task(server.stop(grace=30))
        second = (await watch.read()).status
        watch.cancel()  # let the server finish its only open call
        await stopping

    assert before == {SERVICE: SERVING, "": SERVING}
    assert (first, second) == (SERVING, NOT_SERVING)


async def test_while_draining_health_says_not_serving_but_calls_still_work(serve: Serve) -> None:
    server = await serve({})
    async with grpc.aio.insecure_channel(server.address) as channel:
        assert await _check(channel, SERVICE) == SERVING
        draining = asyncio.create_task(server.stop(grace=None, drain=60))
        while (status := await _check(channel, SERVICE)) == SERVING:
            await asyncio.sleep(0)
        draining.cancel()
        await server.server.stop(None)

    assert status == NOT_SERVING


async def test_an_inflight_call_finishes_during_a_graceful_stop(serve: Serve) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        entered.set()
        await release.wait()
        return b"done"

    server = await serve({"Get": grpc.unary_unary_rpc_method_handler(slow)})
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = asyncio.ensure_future(channel.unary_unary(f"/{SERVICE}/Get")(b"", timeout=30))
        await entered.wait()
        stopping = asyncio.create_task(server.stop(grace=30))
        await asyncio.sleep(0.05)
        stopped_early = stopping.done()
        release.set()
        reply = await call
        await stopping

    assert not stopped_early
    assert reply == b"done"


async def test_calls_still_running_when_the_grace_ends_are_cancelled(serve: Serve) -> None:
    entered = asyncio.Event()

    async def stuck(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        entered.set()
        await asyncio.Event().wait()
        return b""

    server = await serve({"Get": grpc.unary_unary_rpc_method_handler(stuck)})
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = asyncio.ensure_future(channel.unary_unary(f"/{SERVICE}/Get")(b"", timeout=30))
        await entered.wait()
        await server.stop(grace=0.1)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call

    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


async def test_reflection_lists_the_services(serve: Serve) -> None:
    server = await serve({})
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        reply = await responses.read()
        responses.cancel()

    names = {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_a_taken_port_is_a_clear_error_naming_the_address(serve: Serve) -> None:
    first = await serve({})

    with pytest.raises(BindError, match=first.address):
        await start_server(first.address, [], [SERVICE])


async def test_the_bound_port_is_reported(serve: Serve) -> None:
    server = await serve({})

    assert server.port > 0
    assert server.address == f"127.0.0.1:{server.port}"


async def test_a_service_added_as_pre_registered_methods_is_served() -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    def register(server: grpc.aio.Server) -> None:
        # What generated add_XServicer_to_server functions do, besides adding a generic handler.
        server.add_registered_method_handlers(
            SERVICE, {"Get": grpc.unary_unary_rpc_method_handler(echo)}
        )

    server = await start_server("127.0.0.1:0", [register], [SERVICE])
    try:
        async with grpc.aio.insecure_channel(server.address) as channel:
            reply = await channel.unary_unary(f"/{SERVICE}/Get")(b"ping", timeout=5)
    finally:
        await server.stop(None)

    assert reply == b"ping"
