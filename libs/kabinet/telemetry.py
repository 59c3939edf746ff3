"""Traces and metrics for a Kabinet process: one call in ``__main__`` before anything connects.

``setup_telemetry`` installs the OpenTelemetry providers named after the service, the W3C
``traceparent`` propagator, and instruments grpc.aio (client and server) and asyncpg, so that a
request is one trace from the gateway through every service down to each SQL statement. The
gRPC instrumentation wraps ``grpc.aio.server`` and ``grpc.aio.insecure_channel``: it only sees
servers and channels created after it ran.

OpenTelemetry allows one global provider per process. The first ``setup_telemetry`` creates it;
later calls in the same process (tests, several services started in one process) reuse it and
add their exporter to it, so the service name of the first call labels every span of the process.
``Telemetry.shutdown`` flushes and detaches only what its own call added.

Metrics are served in Prometheus's text format at ``http://<addr>/metrics`` when
``KABINET_METRICS_ADDR`` is set (by the set-up that created the provider), and otherwise go over
OTLP with the traces when ``KABINET_TELEMETRY=otlp``.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.grpc import (
    GrpcAioInstrumentorClient,
    GrpcAioInstrumentorServer,
    filters,
)
from opentelemetry.propagate import set_global_textmap
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, start_http_server

from kabinet.settings import CommonSettings, TelemetryExporter

log = logging.getLogger(__name__)


class _SpanProcessors(SpanProcessor):
    """The processors of every ``Telemetry`` sharing the process's provider; each can leave."""

    def __init__(self) -> None:
        self._members: tuple[SpanProcessor, ...] = ()
        self._lock = threading.Lock()

    def add(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._members = (*self._members, processor)

    def remove(self, processor: SpanProcessor) -> None:
        with self._lock:
            self._members = tuple(p for p in self._members if p is not processor)

    def __bool__(self) -> bool:
        return bool(self._members)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for processor in self._members:
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._members:
            processor.on_end(span)

    def shutdown(self) -> None:
        for processor in self._members:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self._members)


class _SharedTracerProvider(TracerProvider):
    """The process's tracer provider, with a processor set that each set-up joins and leaves."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource=resource)
        self.processors = _SpanProcessors()
        self.add_span_processor(self.processors)


class Telemetry:
    """What ``setup_telemetry`` installed; ``shutdown`` flushes it."""

    def __init__(
        self,
        service_name: str,
        tracer_provider: _SharedTracerProvider,
        meter_provider: MeterProvider,
        span_processor: SpanProcessor | None,
        metrics_server: MetricsServer | None = None,
    ) -> None:
        self.service_name = service_name
        self.metrics_server = metrics_server
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self._span_processor = span_processor

    def tracer(self, name: str) -> trace.Tracer:
        """A tracer for spans of the module ``name`` (pass ``__name__``)."""
        return self.tracer_provider.get_tracer(name)

    def meter(self, name: str) -> metrics.Meter:
        """A meter for the metrics of the module ``name``."""
        return self.meter_provider.get_meter(name)

    def shutdown(self) -> None:
        """Export what is still buffered and stop this set-up's exporter."""
        processor, self._span_processor = self._span_processor, None
        if processor is not None:
            processor.force_flush()
            self.tracer_provider.processors.remove(processor)
            processor.shutdown()
        self.meter_provider.force_flush()
        server, self.metrics_server = self.metrics_server, None
        if server is not None:
            server.close()


class MetricsServer:
    """The HTTP server answering Prometheus's scrapes with the process's metrics."""

    def __init__(self, addr: str, registry: CollectorRegistry) -> None:
        host, _, port = addr.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"KABINET_METRICS_ADDR: expected host:port, got {addr!r}")
        self._httpd, self._thread = start_http_server(
            int(port), addr=host.strip("[]"), registry=registry
        )
        self.port = int(self._httpd.server_port)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def setup_telemetry(
    service_name: str,
    settings: CommonSettings,
    *,
    span_exporter: SpanExporter | None = None,
) -> Telemetry:
    """Install tracing and metrics for ``service_name`` and instrument gRPC and asyncpg.

    Spans go to ``span_exporter`` when given (tests pass an in-memory one), else where
    ``settings.telemetry`` says: nowhere, the console, or OTLP at ``settings.otlp_endpoint``.
    Metrics: see ``metric_readers``. Call it before creating gRPC servers and channels.
    """
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.namespace": "kabinet",
            "service.instance.id": socket.gethostname(),
        }
    )
    tracer_provider = _tracer_provider(resource)
    meter_provider, metrics_server = _meter_provider(resource, settings)
    processor = _span_processor(settings, span_exporter)
    if processor is not None:
        tracer_provider.processors.add(processor)
    set_global_textmap(TraceContextTextMapPropagator())
    if processor is not None:
        # Instrumentation costs a few hundred microseconds per call; with nowhere to send spans
        # (KABINET_TELEMETRY=none) it would be pure overhead on every RPC and query.
        _instrument()
    return Telemetry(service_name, tracer_provider, meter_provider, processor, metrics_server)


def _tracer_provider(resource: Resource) -> _SharedTracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, _SharedTracerProvider):
        return current
    provider = _SharedTracerProvider(resource)
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        # Someone else installed a provider first; the instrumentation reports to that one.
        log.warning("a tracer provider was already installed; Kabinet spans may not be exported")
    return provider


def _meter_provider(
    resource: Resource, settings: CommonSettings
) -> tuple[MeterProvider, MetricsServer | None]:
    current = metrics.get_meter_provider()
    if isinstance(current, MeterProvider):
        return current, None
    readers, server = metric_readers(settings)
    provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(provider)
    return provider, server


def metric_readers(settings: CommonSettings) -> tuple[list[MetricReader], MetricsServer | None]:
    """Where metrics go: scraped from ``KABINET_METRICS_ADDR`` when it is set, else pushed over
    OTLP when ``KABINET_TELEMETRY=otlp`` (one way, so no metric is counted twice downstream)."""
    if settings.metrics_addr:
        registry = CollectorRegistry(auto_describe=True)
        server = MetricsServer(settings.metrics_addr, registry)
        log.info("serving metrics", extra={"address": settings.metrics_addr})
        return [PrometheusMetricReader(registry=registry)], server
    if settings.telemetry is TelemetryExporter.OTLP:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(endpoint=settings.otlp_endpoint)
        return [PeriodicExportingMetricReader(exporter)], None
    return [], None


def _span_processor(
    settings: CommonSettings, span_exporter: SpanExporter | None
) -> SpanProcessor | None:
    if span_exporter is not None:
        return SimpleSpanProcessor(span_exporter)
    if settings.telemetry is TelemetryExporter.CONSOLE:
        return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout))
    if settings.telemetry is TelemetryExporter.OTLP:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
    return None


def tracing_enabled() -> bool:
    """Whether this process records spans (some set-up configured an exporter).

    Asks the provider, not the instrumentors: constructing an instrumentor again would reset
    the filter of the process-wide singleton.
    """
    provider = trace.get_tracer_provider()
    return isinstance(provider, _SharedTracerProvider) and bool(provider.processors)


def _instrument() -> None:
    # Probes and reflection would add a span every few seconds and say nothing.
    quiet = filters.negate(
        filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection"))
    )
    for instrumentor in (
        GrpcAioInstrumentorServer(filter_=quiet),
        GrpcAioInstrumentorClient(filter_=quiet),
        AsyncPGInstrumentor(),
    ):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
