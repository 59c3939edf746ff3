"""Channels to Kabinet services: every call has a deadline, only safe calls are retried.

``create_channel`` gives each call without an explicit ``timeout=`` the channel's default, capped
by what is left of the deadline of the call being served (``kabinet.rpc.deadline``), so a call
can never wait forever. Methods declared safe to repeat in their proto
(``option idempotency_level = NO_SIDE_EFFECTS`` or ``IDEMPOTENT``) are retried by gRPC itself on
``UNAVAILABLE`` only (a server that is restarting or overloaded, a database outage), with
backoff and within the call's deadline; other methods are never retried, because a retry could
repeat a side effect.

Callers pass ``timeout=`` on a call that needs another deadline (a slow report, a long stream).

The default deadline is applied by a client interceptor, not by the ``timeout`` of the gRPC
service config: grpcio's Python channels start that timer too early and fail calls with
DEADLINE_EXCEEDED before the configured time (grpc/grpc#40633, #34547).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from typing import Any

import grpc
import grpc.aio
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from kabinet.rpc import deadline

DEFAULT_TIMEOUT = 5.0

_SAFE = {
    descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS,
    descriptor_pb2.MethodOptions.IDEMPOTENT,
}

RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 4,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}

CLIENT_OPTIONS: tuple[tuple[str, int], ...] = (
    # Find dead connections (a pod gone without a FIN) in ~40 s instead of the kernel's hours.
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 1),
)


def is_idempotent(method: MethodDescriptor) -> bool:
    """Whether a method's proto options declare it safe to repeat."""
    return method.GetOptions().idempotency_level in _SAFE


def service_config(services: Sequence[ServiceDescriptor]) -> dict[str, Any]:
    """The gRPC service config: a retry policy for each idempotent method of ``services``.

    Calls are spread over every address the target resolves to (``round_robin``; with a
    headless Kubernetes Service and a ``dns:///`` target that is every pod), and retries are
    throttled when most calls fail, so that an outage is not multiplied by retries.
    """
    safe = [
        {"service": service.full_name, "method": method.name}
        for service in services
        for method in service.methods
        if is_idempotent(method)
    ]
    config: dict[str, Any] = {
        "loadBalancingConfig": [{"round_robin": {}}],
        "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
    }
    if safe:
        config["methodConfig"] = [{"name": safe, "retryPolicy": RETRY_POLICY}]
    return config


def create_channel(
    addr: str,
    *,
    services: Sequence[ServiceDescriptor] = (),
    default_timeout: float = DEFAULT_TIMEOUT,
    options: Sequence[tuple[str, int | str]] = (),
) -> grpc.aio.Channel:
    """An insecure channel to ``addr`` with default deadlines, safe retries and keepalive.

    ``services`` are the descriptors of the services called over it
    (``identity_pb2.DESCRIPTOR.services_by_name["AccountService"]``): their idempotent methods
    are retried on UNAVAILABLE. Create channels after ``setup_telemetry`` so they are traced.
    Usage: ``stub = AccountServiceStub(create_channel(addr, services=[...]))``.
    """
    channel_options: list[tuple[str, int | str]] = [
        *CLIENT_OPTIONS,
        ("grpc.service_config", json.dumps(service_config(services))),
        *options,
    ]
    # Looked up at call time: telemetry instruments channels by replacing this function.
    return grpc.aio.insecure_channel(
        addr, options=channel_options, interceptors=[DefaultTimeout(default_timeout)]
    )


class DefaultTimeout(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Gives calls without a timeout the default one; caps every timeout by the inbound deadline."""

    def __init__(self, default_timeout: float) -> None:
        self._default = default_timeout

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        timeout = self._default if details.timeout is None else details.timeout
        left = deadline.remaining()
        if left is not None:
            timeout = min(timeout, left)
        if timeout == details.timeout:
            return details
        return grpc.aio.ClientCallDetails(
            details.method, timeout, details.metadata, details.credentials, details.wait_for_ready
        )

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_unary_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_stream_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)

    async def intercept_stream_stream(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)
