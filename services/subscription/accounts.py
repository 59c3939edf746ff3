"""``Accounts`` on identity's ``GetAccount`` over gRPC, each call with a deadline.

A channel is opened per use (the scheduler resolves reminder mail once a pass, not per request).
"""

from __future__ import annotations

import uuid

import grpc

from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc
from kabinet.rpc.client import create_channel
from subscription.domain.reminders import AccountsUnavailableError, Contact


class IdentityAccounts:
    def __init__(self, identity_addr: str, timeout: float) -> None:
        self._addr = identity_addr
        self._timeout = timeout

    async def contact(self, account_id: uuid.UUID) -> Contact | None:
        service = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]
        async with create_channel(
            self._addr, services=[service], default_timeout=self._timeout
        ) as channel:
            stub: identity_pb2_grpc.IdentityServiceAsyncStub = (
                identity_pb2_grpc.IdentityServiceStub(channel)
            )
            try:
                reply = await stub.GetAccount(
                    identity_pb2.GetAccountRequest(account_id=str(account_id)),
                    timeout=self._timeout,
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise AccountsUnavailableError(exc.code().name) from exc
        return Contact(reply.account.email, reply.account.language or "en")
