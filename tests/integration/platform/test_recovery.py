"""A service outlives a PostgreSQL restart: calls in between fail as UNAVAILABLE, later calls
succeed, and the service was never restarted."""

import asyncio
import uuid
from collections.abc import Callable

import grpc
import pytest

from identity.app import serve
from identity.config import IdentitySettings
from kabinet.config import load_settings
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.identity.v1 import identity_pb2_grpc
from kabinet.rpc.client import create_channel

pytestmark = pytest.mark.integration


async def _answer(stub: identity_pb2_grpc.IdentityServiceStub) -> grpc.StatusCode:
    try:
        await stub.GetAccount(pb.GetAccountRequest(account_id=str(uuid.uuid4())), timeout=3)
    except grpc.aio.AioRpcError as error:
        return error.code()
    return grpc.StatusCode.OK


async def test_a_service_answers_again_after_a_postgresql_restart(
    make_postgres: Callable[[], EmbeddedPostgres], nats_url: str
) -> None:
    postgres = make_postgres()
    postgres.create_database("recovery")
    address = f"127.0.0.1:{free_port()}"
    settings = load_settings(
        IdentitySettings,
        {
            "KABINET_DATABASE_URL": postgres.database_url("recovery"),
            "KABINET_NATS_URL": nats_url,
            "KABINET_IDENTITY_ADDR": address,
            "KABINET_IDENTITY_ARGON2_MEMORY_KIB": "1024",
        },
    )
    stop, ready = asyncio.Event(), asyncio.Event()
    service = asyncio.create_task(serve(settings, stop=stop, ready=ready))
    await asyncio.wait_for(ready.wait(), 60)
    descriptor = pb.DESCRIPTOR.services_by_name["IdentityService"]
    try:
        async with create_channel(address, services=[descriptor]) as channel:
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            # An unknown account is a normal answer from a working database.
            assert await _answer(stub) == grpc.StatusCode.NOT_FOUND

            postgres.stop()
            assert await _answer(stub) == grpc.StatusCode.UNAVAILABLE

            postgres.start()
            answers = []
            for _ in range(50):
                answers.append(await _answer(stub))
                if answers[-1] == grpc.StatusCode.NOT_FOUND:
                    break
                await asyncio.sleep(0.2)
            assert answers[-1] == grpc.StatusCode.NOT_FOUND, answers
            assert not service.done(), "the service stopped instead of recovering"
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
