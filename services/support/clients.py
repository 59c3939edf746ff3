"""The support service's view of identity and subscription over gRPC, each call with a deadline.

``SubscriptionEntitlements`` answers whether the owner's plan includes priority support;
``IdentityAccounts`` where the owner's notices go. Both implement ``support.domain.ports``.
"""

from __future__ import annotations

import uuid

import grpc

from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc
from kabinet.rpc.client import create_channel
from kabinet.subscription.v1 import subscription_pb2, subscription_pb2_grpc
from support.domain.model import AGENT_ROLE, Owner
from support.domain.rules import PRIORITY_FEATURE
from support.domain.services import EntitlementsUnavailable


class SubscriptionEntitlements:
    def __init__(self, channel: grpc.aio.Channel, timeout: float) -> None:
        self._stub: subscription_pb2_grpc.SubscriptionServiceAsyncStub = (
            subscription_pb2_grpc.SubscriptionServiceStub(channel)
        )
        self._timeout = timeout

    async def has_priority_support(self, account_id: uuid.UUID) -> bool:
        try:
            reply = await self._stub.CheckEntitlement(
                subscription_pb2.CheckEntitlementRequest(
                    account_id=str(account_id), feature=PRIORITY_FEATURE
                ),
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise EntitlementsUnavailable(exc.code().name) from exc
        return bool(reply.entitled)


class IdentityAccounts:
    def __init__(self, channel: grpc.aio.Channel, timeout: float) -> None:
        self._stub: identity_pb2_grpc.IdentityServiceAsyncStub = (
            identity_pb2_grpc.IdentityServiceStub(channel)
        )
        self._timeout = timeout

    async def owner(self, account_id: uuid.UUID) -> Owner | None:
        try:
            reply = await self._stub.GetAccount(
                identity_pb2.GetAccountRequest(account_id=str(account_id)), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise DomainError(ErrorKind.UNAVAILABLE, "service.unavailable") from exc
        return Owner(reply.account.email, reply.account.language or "en")

    async def is_agent(self, account_id: uuid.UUID) -> bool:
        try:
            reply = await self._stub.GetAccount(
                identity_pb2.GetAccountRequest(account_id=str(account_id)), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise DomainError(ErrorKind.UNAVAILABLE, "service.unavailable") from exc
        return AGENT_ROLE in reply.account.roles


def channels(
    identity_addr: str, subscription_addr: str, timeout: float
) -> dict[str, grpc.aio.Channel]:
    """Channels to identity and subscription (idempotent reads retried on UNAVAILABLE)."""
    return {
        "identity": create_channel(
            identity_addr,
            services=[identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]],
            default_timeout=timeout,
        ),
        "subscription": create_channel(
            subscription_addr,
            services=[subscription_pb2.DESCRIPTOR.services_by_name["SubscriptionService"]],
            default_timeout=timeout,
        ),
    }
