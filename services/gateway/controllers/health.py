"""Probes: /healthz (this process) and /readyz (every service behind it)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from gateway.clients import ServiceClients


class HealthController(Controller):
    tags = ["health"]  # noqa: RUF012

    @get("/healthz", summary="The gateway process is up", cache=False)
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", summary="Every service behind the gateway answers its health check")
    async def readyz(self, clients: NamedDependency[ServiceClients]) -> Response[dict[str, Any]]:
        services = await clients.health()
        ready = all(services.values())
        body = {
            "status": "ready" if ready else "unavailable",
            "services": {name: "up" if up else "down" for name, up in services.items()},
        }
        return Response(body, status_code=200 if ready else 503)
