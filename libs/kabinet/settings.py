"""Settings every process of the cluster shares: where the servers are and how to observe it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kabinet.config import setting


class TelemetryExporter(StrEnum):
    NONE = "none"
    CONSOLE = "console"
    OTLP = "otlp"


@dataclass(frozen=True)
class ServiceAddresses:
    """Where each service's gRPC server listens (and where the others find it)."""

    identity: str = setting("KABINET_IDENTITY_ADDR", "127.0.0.1:50051", "identity gRPC host:port")
    subscription: str = setting(
        "KABINET_SUBSCRIPTION_ADDR", "127.0.0.1:50052", "subscription gRPC host:port"
    )
    distribution: str = setting(
        "KABINET_DISTRIBUTION_ADDR", "127.0.0.1:50053", "distribution gRPC host:port"
    )
    support: str = setting("KABINET_SUPPORT_ADDR", "127.0.0.1:50054", "support gRPC host:port")

    def of(self, service: str) -> str:
        """The address of ``service`` by name."""
        return str(getattr(self, service))


@dataclass(frozen=True)
class CommonSettings:
    """Servers and observability; the same variables for every service."""

    database_url: str = setting(
        "KABINET_DATABASE_URL", "", "PostgreSQL URL; empty: `make run` starts an embedded one"
    )
    nats_url: str = setting(
        "KABINET_NATS_URL", "", "NATS URL (JetStream enabled); empty: `make run` starts one"
    )
    smtp_url: str = setting(
        "KABINET_SMTP_URL",
        "",
        "smtp://[user:pass@]host:port (smtps:// for TLS); empty: `make run` starts a local sink",
    )
    public_url: str = setting(
        "KABINET_PUBLIC_URL",
        "http://127.0.0.1:8000",
        "public origin of the portal; every emailed link is built from it",
    )
    api_audience: str = setting(
        "KABINET_API_AUDIENCE", "kabinet-api", "audience of the access tokens Kabinet issues"
    )
    mail_from: str = setting(
        "KABINET_MAIL_FROM", "Kabinet <no-reply@kabinet.localhost>", "sender of outgoing mail"
    )
    telemetry: TelemetryExporter = setting(
        "KABINET_TELEMETRY", TelemetryExporter.NONE, "trace exporter: none, console or otlp"
    )
    otlp_endpoint: str = setting(
        "KABINET_OTLP_ENDPOINT", "http://127.0.0.1:4317", "OTLP gRPC endpoint of the collector"
    )
    metrics_addr: str = setting(
        "KABINET_METRICS_ADDR",
        "",
        "host:port where the process serves /metrics for Prometheus (empty: not served)",
    )
    stream_replicas: int = setting(
        "KABINET_NATS_STREAM_REPLICAS",
        1,
        "replicas of each service's JetStream stream (3 on a three-node NATS cluster)",
    )
    stream_max_age_days: int = setting(
        "KABINET_NATS_STREAM_MAX_AGE_DAYS",
        30,
        "days each service's JetStream stream keeps events (0: forever; inboxes keep a day more)",
    )
    log_level: str = setting("KABINET_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR")
    log_format: str = setting("KABINET_LOG_FORMAT", "json", "json (structured) or text")
    addresses: ServiceAddresses = ServiceAddresses()

    @property
    def issuer(self) -> str:
        """``iss`` of every token Kabinet issues, and what every verifier expects."""
        return self.public_url.rstrip("/")
