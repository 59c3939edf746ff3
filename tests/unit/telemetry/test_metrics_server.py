"""The /metrics endpoint KABINET_METRICS_ADDR turns on."""

import urllib.error
import urllib.request

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from prometheus_client import CollectorRegistry

from kabinet.settings import CommonSettings, TelemetryExporter
from kabinet.telemetry import MetricsServer, metric_readers


def test_the_endpoint_serves_the_providers_metrics_until_closed() -> None:
    registry = CollectorRegistry(auto_describe=True)
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    provider.get_meter("t").create_counter("kabinet.test.calls", unit="{call}").add(3)
    server = MetricsServer("127.0.0.1:0", registry)
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        body = urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        server.close()
        provider.shutdown()
    assert "kabinet_test_calls_total" in body
    assert 'otel_scope_name="t"' in body
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


@pytest.mark.parametrize("addr", ["9464", ":9464", "127.0.0.1:http"])
def test_an_address_without_host_and_port_is_refused(addr: str) -> None:
    with pytest.raises(ValueError, match="KABINET_METRICS_ADDR"):
        MetricsServer(addr, CollectorRegistry())


def test_metrics_are_scraped_or_pushed_never_both() -> None:
    scraped, server = metric_readers(
        CommonSettings(telemetry=TelemetryExporter.OTLP, metrics_addr="127.0.0.1:0")
    )
    assert server is not None
    server.close()
    assert [type(r) for r in scraped] == [PrometheusMetricReader]

    pushed, none = metric_readers(CommonSettings(telemetry=TelemetryExporter.OTLP))
    assert none is None
    assert [type(r) for r in pushed] == [PeriodicExportingMetricReader]
    for reader in pushed:
        reader.shutdown()

    assert metric_readers(CommonSettings()) == ([], None)
