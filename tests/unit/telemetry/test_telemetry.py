"""Tracing across a gRPC call, log lines that name the trace, and repeated set-ups."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import grpc
import grpc.aio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kabinet.logs import JsonFormatter
from kabinet.rpc.client import create_channel
from kabinet.rpc.server import start_server
from kabinet.settings import CommonSettings, TelemetryExporter
from kabinet.telemetry import setup_telemetry

SERVICE = "kabinet.test.v1.EchoService"


@pytest.fixture
def rpc_log() -> Iterator[io.StringIO]:
    """The JSON lines the gRPC interceptor writes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("identity"))
    logger = logging.getLogger("kabinet.rpc")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _register(server: grpc.aio.Server) -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE, {"Get": grpc.unary_unary_rpc_method_handler(echo)}
            )
        ]
    )


async def test_the_server_span_is_a_child_of_the_client_span_in_the_same_trace(
    rpc_log: io.StringIO,
) -> None:
    exporter = InMemorySpanExporter()
    telemetry = setup_telemetry("identity", CommonSettings(), span_exporter=exporter)
    try:
        server = await start_server("127.0.0.1:0", [_register], [SERVICE])
        try:
            async with create_channel(server.address) as channel:
                with telemetry.tracer(__name__).start_as_current_span("portal request") as root:
                    await channel.unary_unary(f"/{SERVICE}/Get")(b"hi")
        finally:
            await server.stop(None)
    finally:
        telemetry.shutdown()

    spans = exporter.get_finished_spans()
    (client,) = [s for s in spans if s.kind is SpanKind.CLIENT and s.name.endswith("/Get")]
    (served,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name.endswith("/Get")]
    trace_id = root.get_span_context().trace_id
    assert client.context.trace_id == served.context.trace_id == trace_id
    assert client.parent is not None
    assert client.parent.span_id == root.get_span_context().span_id
    assert served.parent is not None
    assert served.parent.span_id == client.context.span_id
    # service.name is whichever service first set up telemetry in this process (OTel allows
    # one global provider), so the namespace is what every Kabinet span is sure to carry.
    assert served.resource.attributes["service.namespace"] == "kabinet"
    (line,) = [json.loads(x) for x in rpc_log.getvalue().splitlines() if "rpc_method" in x]
    assert line["trace_id"] == f"{trace_id:032x}"
    assert line["span_id"] == f"{served.context.span_id:016x}"


async def test_health_checks_make_no_spans() -> None:
    exporter = InMemorySpanExporter()
    telemetry = setup_telemetry("identity", CommonSettings(), span_exporter=exporter)
    try:
        server = await start_server("127.0.0.1:0", [], [SERVICE])
        try:
            from grpc_health.v1 import health_pb2, health_pb2_grpc

            async with create_channel(server.address) as channel:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        finally:
            await server.stop(None)
    finally:
        telemetry.shutdown()

    # Only this server's health spans count: a cluster other tests left running in this process
    # (e2e, session-scoped) exports its own spans to the same provider meanwhile.
    health = [
        s.name
        for s in exporter.get_finished_spans()
        if "grpc.health" in s.name or "grpc.health" in str((s.attributes or {}).get("rpc.service"))
    ]
    assert health == []


def test_a_second_setup_reuses_the_provider_and_shutdown_detaches_only_its_exporter() -> None:
    first_exporter, second_exporter = InMemorySpanExporter(), InMemorySpanExporter()
    first = setup_telemetry("identity", CommonSettings(), span_exporter=first_exporter)
    second = setup_telemetry("identity", CommonSettings(), span_exporter=second_exporter)
    try:
        assert first.tracer_provider is second.tracer_provider is trace.get_tracer_provider()
        with first.tracer(__name__).start_as_current_span("both"):
            pass
        first.shutdown()
        first.shutdown()  # harmless twice
        with second.tracer(__name__).start_as_current_span("second only"):
            pass
    finally:
        second.shutdown()

    assert [s.name for s in first_exporter.get_finished_spans()] == ["both"]
    assert [s.name for s in second_exporter.get_finished_spans()] == ["both", "second only"]


def test_the_console_exporter_prints_spans(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = setup_telemetry("support", CommonSettings(telemetry=TelemetryExporter.CONSOLE))
    try:
        with telemetry.tracer(__name__).start_as_current_span("printed-span"):
            pass
    finally:
        telemetry.shutdown()

    assert '"name": "printed-span"' in capsys.readouterr().out
