"""/.well-known: the public signing keys."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from gateway.clients import ServiceClients
from kabinet.identity.v1 import identity_pb2


class WellKnownController(Controller):
    path = "/.well-known"
    tags = ["oidc"]  # noqa: RUF012

    @get("/jwks.json", summary="Public keys that verify Kabinet's tokens (JWKS)")
    async def jwks(self, clients: NamedDependency[ServiceClients]) -> Response[dict[str, Any]]:
        reply = await clients.identity.GetJwks(identity_pb2.GetJwksRequest())
        return Response(
            json.loads(reply.jwks_json),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "public, max-age=300"},
        )
