"""Start and stop a service's gRPC server the same way everywhere.

Every server carries the standard health service (what Kubernetes probes ask) and reflection
(what grpcurl and debugging tools ask), runs ``kabinet.rpc.interceptors.ServerInterceptor`` and
shuts down gracefully: health turns NOT_SERVING first, then new calls are refused while the calls
already running get ``grace`` seconds to finish.

Tracing is added by ``kabinet.telemetry.setup_telemetry``, which must run before
``start_server`` (the instrumentation wraps ``grpc.aio.server`` itself).

The server listens without TLS: inside the cluster traffic is expected to be protected by the
network (policies, a mesh). Serving TLS would take ``server.add_secure_port`` with
``grpc.ssl_server_credentials`` here, and ``grpc.aio.secure_channel`` in ``kabinet.rpc.client``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from kabinet.rpc.interceptors import DEFAULT_TIMEOUT, ServerInterceptor

log = logging.getLogger("kabinet.rpc")

HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name

# Options that matter behind Kubernetes Services.
SERVER_OPTIONS: tuple[tuple[str, int], ...] = (
    # Fail loudly when the port is taken instead of sharing it with another process.
    ("grpc.so_reuseport", 0),
    # Accept the clients' keepalive pings (every 30 s, also on idle connections) without
    # answering them with GOAWAY "too many pings".
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    # Notice clients that vanished (node gone) within about a minute and a half.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    # Make clients reconnect now and then, so that new replicas get their share of the calls
    # (a ClusterIP Service balances connections, not calls).
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
)


class _GenericHandlers:
    """The server as services register on it: every method is served by a generic handler.

    Generated ``add_XServicer_to_server`` functions add a service twice, as a generic handler and
    as pre-registered methods. grpcio's aio server keeps one pending request per pre-registered
    method and waits on all of them (``asyncio.wait``) again after every call it receives, so each
    call costs more the more methods the server has: about 30 on the identity server, 10 to 20 µs
    of its core per call. A generic handler serves the same methods from one pending request.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        self._server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(service_name, method_handlers)]
        )


class BindError(OSError):
    """The server could not listen on the address it was given."""


class RpcServer:
    """A running gRPC server with its health service."""

    def __init__(
        self,
        server: grpc.aio.Server,
        health: health_aio.HealthServicer,
        address: str,
        port: int,
    ) -> None:
        self.server = server
        self.health = health
        self.address = address
        self.port = port

    async def stop(self, grace: float | None = 5.0, *, drain: float = 0.0) -> None:
        """Shut down gracefully.

        Health turns NOT_SERVING at once (load balancers and probes stop sending work); after
        ``drain`` seconds new calls are refused and running calls get ``grace`` seconds to finish
        before they are cancelled (``None``: cancel them at once).
        """
        await self.health.enter_graceful_shutdown()
        if drain > 0:
            await asyncio.sleep(drain)
        await self.server.stop(grace)
        log.info("gRPC server stopped", extra={"address": self.address})

    async def wait_for_termination(self) -> None:
        """Return once the server has stopped."""
        await self.server.wait_for_termination()


async def start_server(
    addr: str,
    register: Sequence[Callable[[grpc.aio.Server], None]],
    service_names: Sequence[str],
    *,
    interceptors: Sequence[grpc.aio.ServerInterceptor] | None = None,
    default_timeout: float = DEFAULT_TIMEOUT,
    options: Sequence[tuple[str, int | str]] = (),
) -> RpcServer:
    """Start a gRPC server on ``addr`` (``host:port``; port 0 picks a free one).

    ``register`` adds the servicers (``lambda s: add_XServicer_to_server(servicer, s)``);
    ``service_names`` are their full names, reported SERVING by the health service and listed
    by reflection. ``interceptors`` default to one ``ServerInterceptor`` with
    ``default_timeout`` as the deadline of calls that came without one.
    """
    if interceptors is None:
        interceptors = [ServerInterceptor(default_timeout=default_timeout)]
    # Looked up at call time: telemetry instruments the server by replacing grpc.aio.server.
    server = grpc.aio.server(interceptors=list(interceptors), options=[*SERVER_OPTIONS, *options])
    registrar = cast(grpc.aio.Server, _GenericHandlers(server))
    for add in register:
        add(registrar)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, registrar)
    reflection.enable_server_reflection(
        [*service_names, HEALTH_SERVICE, reflection.SERVICE_NAME], registrar
    )
    try:
        port = server.add_insecure_port(addr)
    except RuntimeError as err:
        await server.stop(None)
        raise BindError(f"gRPC server cannot listen on {addr}: address in use or invalid") from err
    await server.start()
    for name in service_names:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    host = addr.rpartition(":")[0]
    address = f"{host}:{port}"
    log.info("gRPC server listening", extra={"address": address, "services": list(service_names)})
    return RpcServer(server, health, address, port)
