"""The server interceptor: default deadline, error mapping, one log line per call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc
import grpc.aio
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2
from kabinet.rpc import deadline
from kabinet.rpc.errors import DETAILS_KEY, domain_error_from_rpc
from kabinet.rpc.interceptors import ServerInterceptor, has_no_side_effects
from kabinet.rpc.server import RpcServer

SERVICE = "kabinet.test.v1.EchoService"
Serve = Callable[..., Awaitable[RpcServer]]
Handler = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


async def _call(
    server: RpcServer, method: str = "Get", request: bytes = b"", **kwargs: Any
) -> bytes:
    async with grpc.aio.insecure_channel(server.address) as channel:
        return await channel.unary_unary(f"/{SERVICE}/{method}")(request, **kwargs)


async def _failure(server: RpcServer, **kwargs: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _call(server, **kwargs)
    return caught.value


def _unary(fn: Handler) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(fn)


def _raising(exc: BaseException) -> grpc.RpcMethodHandler:
    async def handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise exc

    return _unary(handler)


def _rpc_records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    """The interceptor's per-call records (typed Any: their fields come from ``extra=``)."""
    return [r for r in caplog.records if r.name == "kabinet.rpc" and hasattr(r, "rpc_method")]


async def _logged(caplog: pytest.LogCaptureFixture) -> None:
    while not _rpc_records(caplog):
        await asyncio.sleep(0.01)


async def test_a_call_without_deadline_gets_the_default_and_ends_when_it_passes(
    serve: Serve,
) -> None:
    seen: list[float | None] = []

    async def hang(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append(deadline.remaining())
        await asyncio.Event().wait()
        return b""

    server = await serve({"Get": _unary(hang)}, default_timeout=0.3)

    failure = await _failure(server)  # no timeout on the client side

    assert failure.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert domain_error_from_rpc(failure).code == "request.deadline_exceeded"
    assert DETAILS_KEY in dict(failure.trailing_metadata())  # the server's verdict, not transport
    assert seen[0] is not None
    assert 0 < seen[0] <= 0.3


async def test_the_callers_deadline_wins_over_the_default(serve: Serve) -> None:
    async def budget(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return f"{context.time_remaining()} {deadline.remaining()}".encode()

    server = await serve({"Get": _unary(budget)}, default_timeout=0.5)

    caller, seen = map(float, (await _call(server, timeout=30)).split())

    assert 10 < caller < 31  # gRPC rounds the timeout it sends up a little
    assert 10 < seen < 31


async def test_a_call_past_its_callers_deadline_is_cancelled_and_logged_as_such(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kabinet.rpc")
    cancelled = asyncio.Event()

    async def hang(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return b""

    server = await serve({"Get": _unary(hang)}, default_timeout=60)

    failure = await _failure(server, timeout=0.2)
    await asyncio.wait_for(cancelled.wait(), 10)  # the handler does not outlive its caller
    await asyncio.wait_for(_logged(caplog), 10)

    assert failure.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    (record,) = _rpc_records(caplog)
    assert record.grpc_code == "DEADLINE_EXCEEDED"
    assert record.levelno == logging.WARNING


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.InterfaceError("pool is closed"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_an_unreachable_database_means_unavailable(serve: Serve, exc: BaseException) -> None:
    server = await serve({"Get": _raising(exc)})

    failure = await _failure(server)

    assert failure.code() is grpc.StatusCode.UNAVAILABLE
    assert domain_error_from_rpc(failure).code == "service.unavailable"


async def test_a_timeout_inside_the_handler_is_unavailable_not_our_deadline(
    serve: Serve,
) -> None:
    async def acquire(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        # What asyncpg's pool.acquire(timeout=...) raises when no connection frees up.
        await asyncio.wait_for(asyncio.Event().wait(), timeout=0.01)
        return b""

    server = await serve({"Get": _unary(acquire)}, default_timeout=30)

    failure = await _failure(server)

    assert failure.code() is grpc.StatusCode.UNAVAILABLE


async def test_a_bug_is_internal_with_the_stack_in_the_log_and_nothing_in_the_status(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kabinet.rpc")
    server = await serve({"Get": _raising(RuntimeError("dsn=postgres://app:hunter2@db"))})

    failure = await _failure(server)

    assert failure.code() is grpc.StatusCode.INTERNAL
    assert failure.details() == "internal"
    assert b"hunter2" not in b"".join(
        v for _, v in failure.trailing_metadata() if isinstance(v, bytes)
    )
    (record,) = _rpc_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_each_call_logs_one_line_without_the_payload(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kabinet.rpc")

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server = await serve(
        {"Get": _unary(echo), "Create": _raising(DomainError(ErrorKind.NOT_FOUND, "x.gone"))}
    )
    caplog.clear()

    await _call(server, request=b"password=very-secret-payload")
    await _failure(server, method="Create", request=b"password=very-secret-payload")

    ok, missing = _rpc_records(caplog)
    assert (ok.rpc_method, ok.grpc_code) == (f"/{SERVICE}/Get", "OK")
    assert (missing.grpc_code, missing.error_code) == ("NOT_FOUND", "x.gone")
    assert missing.levelno == logging.INFO  # an expected outcome, not an incident
    for record in (ok, missing):
        assert record.peer.startswith("ipv4:127.0.0.1:")
        assert record.duration_ms >= 0
        assert "very-secret" not in repr(record.__dict__)


def test_a_method_has_no_side_effects_only_when_its_proto_says_so() -> None:
    pool = descriptor_pool.Default()
    service = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name

    assert has_no_side_effects(f"/{service}/ValidateToken", pool)
    assert not has_no_side_effects(f"/{service}/UpdateProfile", pool)  # idempotent only
    assert not has_no_side_effects(f"/{service}/SignIn", pool)
    assert not has_no_side_effects("/kabinet.test.v1.Nowhere/Get", pool)


async def test_successes_without_side_effects_log_at_debug_and_the_rest_at_info(
    serve: Serve, echo_service: ServiceDescriptor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kabinet.rpc")

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"gone":
            raise DomainError(ErrorKind.NOT_FOUND, "x.gone")
        return request

    interceptor = ServerInterceptor(descriptors=echo_service.file.pool)
    server = await serve({"Get": _unary(echo), "Put": _unary(echo)}, interceptors=[interceptor])
    caplog.clear()

    await _call(server, "Get")  # declared NO_SIDE_EFFECTS
    await _failure(server, method="Get", request=b"gone")
    await _call(server, "Put")  # declared IDEMPOTENT: it may change something

    records = _rpc_records(caplog)
    assert [(r.rpc_method.rsplit("/", 1)[1], r.grpc_code, r.levelno) for r in records] == [
        ("Get", "OK", logging.DEBUG),
        ("Get", "NOT_FOUND", logging.INFO),
        ("Put", "OK", logging.INFO),
    ]


async def test_a_servicers_own_abort_passes_through(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kabinet.rpc")

    async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not now")
        return b""

    server = await serve({"Get": _unary(refuse)})

    failure = await _failure(server)

    assert (failure.code(), failure.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "not now")
    (record,) = _rpc_records(caplog)
    assert record.grpc_code == "FAILED_PRECONDITION"


async def test_streams_from_generators_and_writers_both_map_errors(serve: Serve) -> None:
    async def generator(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"%d" % i
        raise DomainError(ErrorKind.PERMISSION_DENIED, "ticket.not_yours")

    async def writer(request: bytes, context: grpc.aio.ServicerContext) -> None:
        await context.write(b"a")
        await context.write(b"b")

    server = await serve(
        {
            "Get": grpc.unary_stream_rpc_method_handler(generator),
            "Put": grpc.unary_stream_rpc_method_handler(writer),
        }
    )
    received: list[bytes] = []

    async def drain(call: Any) -> None:
        async for item in call:
            received.append(item)

    async with grpc.aio.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await drain(channel.unary_stream(f"/{SERVICE}/Get")(b"", timeout=5))
        written = [m async for m in channel.unary_stream(f"/{SERVICE}/Put")(b"", timeout=5)]

    assert received == [b"0", b"1", b"2"]
    assert domain_error_from_rpc(caught.value).code == "ticket.not_yours"
    assert written == [b"a", b"b"]


async def test_client_streams_are_guarded_too(serve: Serve) -> None:
    async def count(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        n = 0
        async for _ in requests:
            n += 1
        if n > 2:
            raise DomainError(ErrorKind.RESOURCE_EXHAUSTED, "upload.too_many_parts")
        return b"%d" % n

    server = await serve({"Get": grpc.stream_unary_rpc_method_handler(count)})
    async with grpc.aio.insecure_channel(server.address) as channel:
        upload = channel.stream_unary(f"/{SERVICE}/Get")
        two = await upload(iter([b"a", b"b"]), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await upload(iter([b"a", b"b", b"c"]), timeout=5)

    assert two == b"2"
    assert domain_error_from_rpc(caught.value).code == "upload.too_many_parts"


async def test_health_checks_are_neither_logged_nor_given_a_deadline(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kabinet.rpc")
    server = await serve({}, default_timeout=0.05)
    caplog.clear()

    async with grpc.aio.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE))
        first = await watch.read()
        await asyncio.sleep(0.2)  # well past the default deadline: the watch must still be open
        still_open = not watch.done()
        watch.cancel()

    assert first.status == health_pb2.HealthCheckResponse.SERVING
    assert still_open
    assert _rpc_records(caplog) == []
