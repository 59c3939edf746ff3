"""``python -m gateway``: serve the edge over HTTP with uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from gateway.app import create_app
from gateway.config import GatewaySettings
from kabinet.config import ConfigError, load_settings
from kabinet.logs import setup_logging
from kabinet.telemetry import setup_telemetry


def main() -> int:
    try:
        settings = load_settings(GatewaySettings)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.common.log_level, settings.common.log_format, "gateway")
    telemetry = setup_telemetry("gateway", settings.common)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our structured logging
        access_log=False,
        proxy_headers=False,  # client IPs come only from configured trusted proxies
        server_header=False,
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        telemetry.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
