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
    region_header: str = setting(
        "KABINET_GATEWAY_REGION_HEADER",
        "X-Client-Region",
        "header in which the edge names the caller's country (believed only from a trusted proxy)",
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
    cors_origins: tuple[str, ...] = setting(
        "KABINET_GATEWAY_CORS_ORIGINS",
        (),
        "comma-separated origins whose scripts may call the API with credentials (empty: none)",
    )
    hsts_seconds: int = setting(
        "KABINET_GATEWAY_HSTS_SECONDS",
        31_536_000,
        "Strict-Transport-Security max-age when the public URL is https (0: no HSTS)",
    )
    rate_limit_per_ip: int = setting(
        "KABINET_GATEWAY_RATE_LIMIT_IP",
        60,
        "POSTs per minute to sign-in, registration, reset, code and OAuth routes, per client IP",
    )
    rate_limit_per_session: int = setting(
        "KABINET_GATEWAY_RATE_LIMIT_SESSION",
        30,
        "the same, per signed-in session",
    )
    payments_webhook_secret: str = setting(
        "KABINET_PAYMENTS_WEBHOOK_SECRET",
        "",
        "shared secret of the payment provider's signed webhook (empty: every delivery refused)",
    )
    payments_webhook_tolerance: int = setting(
        "KABINET_PAYMENTS_WEBHOOK_TOLERANCE",
        300,
        "how old (seconds) a webhook's signed timestamp may be before the delivery is refused",
    )
