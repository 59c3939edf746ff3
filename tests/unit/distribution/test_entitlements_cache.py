"""Subscription's answers are reused for a while per account, dropped when the account's
entitlements change, and stood in for by the last event snapshot when subscription is down."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from distribution.domain.model import Entitlement, Rights, Tier
from distribution.entitlements import SubscriptionRights
from kabinet.subscription.v1 import subscription_pb2 as pb

UNTIL = datetime(2030, 1, 1, tzinfo=UTC)


class Unavailable(grpc.aio.AioRpcError):
    def __init__(self) -> None:
        super().__init__(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata())


class Stub:
    def __init__(self) -> None:
        self.calls = 0
        self.down = False
        self.features = ["vpn"]

    async def ListEntitlements(self, request: pb.ListEntitlementsRequest) -> Any:
        self.calls += 1
        if self.down:
            raise Unavailable()
        stamp = Timestamp()
        stamp.FromDatetime(UNTIL)
        return pb.ListEntitlementsResponse(
            entitlements=[
                pb.Entitlement(feature=f, tier=pb.TIER_PLUS, valid_until=stamp)
                for f in self.features
            ]
        )


async def test_cached_for_the_ttl_and_forgotten_on_change() -> None:
    now = [0.0]
    stub = Stub()
    snapshots: dict[uuid.UUID, Rights] = {}

    async def snapshot(account: uuid.UUID) -> Rights | None:
        return snapshots.get(account)

    rights = SubscriptionRights(stub, snapshot, ttl=30, clock=lambda: now[0])  # type: ignore[arg-type]
    account = uuid.uuid4()
    first = await rights.rights(account)
    assert first == Rights((Entitlement("vpn", Tier.PLUS, UNTIL),))
    stub.features = ["vpn", "password_manager"]
    assert await rights.rights(account) == first
    assert stub.calls == 1
    rights.forget(account)
    assert len((await rights.rights(account)).entitlements) == 2
    now[0] += 31
    stub.features = []
    assert await rights.rights(account) == Rights()
    assert stub.calls == 3

    now[0] += 31
    stub.down = True
    with pytest.raises(grpc.aio.AioRpcError):
        await rights.rights(account)  # no snapshot to fall back on
    snapshots[account] = Rights((Entitlement("vpn", Tier.PLUS, UNTIL - timedelta(days=1)),))
    assert await rights.rights(account) == snapshots[account]
