"""Settings of the one-machine launcher (``make run``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kabinet.config import setting


@dataclass(frozen=True)
class DevstackSettings:
    data_dir: Path = setting(
        "KABINET_DATA_DIR", Path(".kabinet"), "where `make run` keeps PostgreSQL, NATS and mail"
    )
    postgres_port: int = setting(
        "KABINET_POSTGRES_PORT", 15432, "port of the embedded PostgreSQL (127.0.0.1)"
    )
    nats_port: int = setting("KABINET_NATS_PORT", 4222, "port of the embedded NATS (127.0.0.1)")
    nats_monitor_port: int = setting(
        "KABINET_NATS_MONITOR_PORT", 8222, "monitoring port of the embedded NATS"
    )
    smtp_port: int = setting("KABINET_SMTP_PORT", 2525, "port of the local SMTP sink (127.0.0.1)")
    psp_port: int = setting(
        "KABINET_PAYMENTS_SANDBOX_PORT", 8025, "port of the sandbox payment provider (127.0.0.1)"
    )
    gateway_host: str = setting("KABINET_GATEWAY_HOST", "127.0.0.1", "where the gateway listens")
    gateway_port: int = setting("KABINET_GATEWAY_PORT", 8000, "port of the gateway (HTTP)")
    start_timeout: float = setting(
        "KABINET_START_TIMEOUT", 90.0, "seconds to wait for every part to become healthy"
    )
