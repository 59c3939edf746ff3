"""Asking a service's standard gRPC health service whether it is SERVING."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def is_serving(channel: grpc.aio.Channel, service: str = "", timeout: float = 1.0) -> bool:
    """True when the server behind ``channel`` reports SERVING for ``service`` ("" = the server)."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        reply = await stub.Check(  # type: ignore[attr-defined]  # the stubs omit the method
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def check_address(address: str, service: str = "", timeout: float = 1.0) -> bool:
    """``is_serving`` on a short-lived channel to ``address``."""
    async with grpc.aio.insecure_channel(address) as channel:
        return await is_serving(channel, service, timeout)
