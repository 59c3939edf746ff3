"""Gateway settings (the edge: HTTP in, gRPC out)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kabinet.config import setting
from kabinet.objectstore.config import ObjectStoreSettings
from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class GatewaySettings:
    common: CommonSettings
    objects: ObjectStoreSettings = ObjectStoreSettings()  # noqa: RUF009 - frozen settings
    host: str = setting("KABINET_GATEWAY_HOST", "127.0.0.1", "where the gateway listens")
    port: int = setting("KABINET_GATEWAY_PORT", 8000, "port of the gateway (HTTP)")
    mailbox_dir: Path | None = setting(
        "KABINET_MAILBOX_DIR",
        None,
        "development only: the SMTP sink's maildir, shown at /dev/mailbox (unset: page disabled)",
    )
    trusted_proxies: tuple[str, ...] = setting(
        "KABINET_TRUSTED_PROXIES",
        (),
        "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (empty: none)",
    )
    allowed_origins: tuple[str, ...] = setting(
        "KABINET_ALLOWED_ORIGINS",
        (),
        "extra origins allowed to send state-changing browser requests (the public URL always is)",
    )
    revocation_window: float = setting(
        "KABINET_GATEWAY_REVOCATION_WINDOW",
        3600.0,
        "seconds a revoked session is remembered (at least the access token lifetime)",
    )
    rpc_timeout: float = setting(
        "KABINET_GATEWAY_RPC_TIMEOUT", 5.0, "default deadline of the gateway's gRPC calls, seconds"
    )
    max_body_bytes: int = setting(
        "KABINET_GATEWAY_MAX_BODY", 1_048_576, "largest request body accepted, bytes"
    )
