"""gRPC over a real PostgreSQL: SQL spans join the call's trace, an outage is UNAVAILABLE."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import grpc
import grpc.aio
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kabinet.db import create_pool
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.errors import ErrorKind
from kabinet.rpc.client import create_channel
from kabinet.rpc.errors import domain_error_from_rpc
from kabinet.rpc.server import start_server
from kabinet.settings import CommonSettings
from kabinet.telemetry import setup_telemetry

pytestmark = pytest.mark.integration

SERVICE = "kabinet.test.v1.AccountService"


def _service() -> ServiceDescriptor:
    """AccountService.Read, declared free of side effects (so clients may retry it)."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="kabinet/test/v1/account.proto", package="kabinet.test.v1", syntax="proto3"
    )
    proto.message_type.add(name="Empty")
    method = proto.service.add(name="AccountService").method.add(
        name="Read", input_type=".kabinet.test.v1.Empty", output_type=".kabinet.test.v1.Empty"
    )
    method.options.idempotency_level = descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return pool.FindServiceByName(SERVICE)


async def test_sql_spans_join_the_trace_and_an_outage_is_retried_then_unavailable(
    make_postgres: Callable[[], EmbeddedPostgres], fresh_schema: str
) -> None:
    exporter = InMemorySpanExporter()
    telemetry = setup_telemetry("identity", CommonSettings(), span_exporter=exporter)
    postgres = await asyncio.to_thread(make_postgres)
    pool = await create_pool(postgres.url, fresh_schema, min_size=1, max_size=2)
    calls: Counter[str] = Counter()

    async def read(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        calls["Read"] += 1
        return str(await pool.fetchval("SELECT 41 + 1")).encode()

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    SERVICE, {"Read": grpc.unary_unary_rpc_method_handler(read)}
                )
            ]
        )

    server = await start_server("127.0.0.1:0", [register], [SERVICE])
    try:
        async with create_channel(server.address, services=[_service()]) as channel:
            call = channel.unary_unary(f"/{SERVICE}/Read")
            answer = await call(b"")
            await asyncio.to_thread(postgres.stop)
            calls.clear()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"", timeout=20)
    finally:
        await server.stop(None)
        await pool.close()
        telemetry.shutdown()

    assert answer == b"42"
    outage = domain_error_from_rpc(caught.value)
    assert (outage.kind, outage.code) == (ErrorKind.UNAVAILABLE, "service.unavailable")
    assert calls["Read"] > 1  # the client retried the read on its own
    spans = exporter.get_finished_spans()
    served = next(s for s in spans if s.kind is SpanKind.SERVER)
    sql = [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT
        and s.parent is not None
        and s.parent.span_id == served.context.span_id
    ]
    assert sql, "no asyncpg span under the first server span"
    assert sql[0].context.trace_id == served.context.trace_id
    assert "SELECT 41 + 1" in str(sql[0].attributes)
