"""A tiny echo service for the gRPC tests: descriptors built in code, handlers on raw bytes.

Servers started by ``serve`` register generic handlers for ``kabinet.test.v1.EchoService``
(methods by name → ``grpc.*_rpc_method_handler``); requests and responses are plain bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import ServiceDescriptor

from kabinet.rpc.server import RpcServer, start_server

SERVICE = "kabinet.test.v1.EchoService"
_LEVELS = {
    "Get": descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS,
    "Put": descriptor_pb2.MethodOptions.IDEMPOTENT,
    "Create": None,
}


@pytest.fixture(scope="session")
def echo_service() -> ServiceDescriptor:
    """EchoService with Get (no side effects), Put (idempotent) and Create (neither)."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="kabinet/test/v1/echo.proto", package="kabinet.test.v1", syntax="proto3"
    )
    message = proto.message_type.add(name="Ping")
    message.field.add(
        name="text",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    service = proto.service.add(name="EchoService")
    for name, level in _LEVELS.items():
        method = service.method.add(
            name=name, input_type=".kabinet.test.v1.Ping", output_type=".kabinet.test.v1.Ping"
        )
        if level is not None:
            method.options.idempotency_level = level
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return pool.FindServiceByName(SERVICE)


def registering(
    methods: Mapping[str, grpc.RpcMethodHandler], service: str = SERVICE
) -> Callable[[grpc.aio.Server], None]:
    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(service, dict(methods))]
        )

    return register


Serve = Callable[..., Awaitable[RpcServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers of the echo service on 127.0.0.1, port 0; all stop after the test."""
    started: list[RpcServer] = []

    async def start(methods: Mapping[str, grpc.RpcMethodHandler], **options: Any) -> RpcServer:
        server = await start_server("127.0.0.1:0", [registering(methods)], [SERVICE], **options)
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop(None)
