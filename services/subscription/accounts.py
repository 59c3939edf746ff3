"""``Accounts`` on identity's ``GetAccount`` over gRPC, each call with a deadline.

One channel per question (the scheduler asks once a pass, for every owner it has reminders for),
the owners asked a few at a time over it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import grpc

from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc
from kabinet.rpc.client import create_channel
from subscription.domain.reminders import AccountsUnavailableError, Contact

# GetAccount calls in flight at once.
CONCURRENCY = 8


class IdentityAccounts:
    def __init__(self, identity_addr: str, timeout: float) -> None:
        self._addr = identity_addr
        self._timeout = timeout

    async def contacts(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Contact | None]:
        service = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]
        turns = asyncio.Semaphore(CONCURRENCY)
        async with create_channel(
            self._addr, services=[service], default_timeout=self._timeout
        ) as channel:
            stub: identity_pb2_grpc.IdentityServiceAsyncStub = (
                identity_pb2_grpc.IdentityServiceStub(channel)
            )

            async def ask(account_id: uuid.UUID) -> Contact | None:
                async with turns:
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

            found = await asyncio.gather(*(ask(a) for a in account_ids))
        return dict(zip(account_ids, found, strict=True))
