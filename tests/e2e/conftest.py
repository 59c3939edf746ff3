"""One in-process cluster per test session and xdist worker; tests isolate by unique emails."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.devstack.smtp import SmtpSink
from kabinet.settings import CommonSettings
from kabinet.telemetry import setup_telemetry
from kabinet.testing.cluster import Cluster, cluster_environ, running_cluster


@pytest.fixture(scope="session")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span of the in-process cluster, for tests that follow a trace across services."""
    exporter = InMemorySpanExporter()
    telemetry = setup_telemetry("e2e", CommonSettings(), span_exporter=exporter)
    yield exporter
    telemetry.shutdown()


@pytest.fixture(scope="session")
def smtp_sink(server_root: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(server_root / "mail", "127.0.0.1", free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
async def cluster(
    postgres: EmbeddedPostgres,
    nats_url: str,
    smtp_sink: SmtpSink,
    server_root: Path,
    spans: InMemorySpanExporter,
) -> AsyncIterator[Cluster]:
    postgres.create_database("cluster")
    environ = cluster_environ(
        postgres.database_url("cluster"), nats_url, smtp_sink.url, server_root / "mail"
    )
    async with running_cluster(environ, server_root / "mail") as running:
        yield running


@pytest.fixture
async def http(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.gateway_url, timeout=30) as client:
        yield client
