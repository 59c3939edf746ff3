"""What an account may download, asked of subscription over gRPC and cached briefly.

An answer is kept for ``ttl`` seconds per account (the portal lists, then asks for a link, then
downloads: one call serves all three). The entitlements consumer drops an account's entry as soon
as subscription says its entitlements changed, so in the process that handles the event the cache
is never stale; other replicas catch up within ``ttl``. When subscription cannot be reached, the
last snapshot taken from its events answers instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC

import grpc

from distribution.domain.model import Entitlement, PlanInfo, Rights, Tier
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc

_TIERS = {pb.TIER_STANDARD: Tier.STANDARD, pb.TIER_PLUS: Tier.PLUS, pb.TIER_PREMIUM: Tier.PREMIUM}
_MAX_ENTRIES = 100_000
PLANS_TTL = 300.0

Snapshot = Callable[[uuid.UUID], Awaitable[Rights | None]]


def rights_from_pb(entitlements: Iterable[pb.Entitlement]) -> Rights:
    """Subscription's entitlements (as its API and its events carry them) as distribution's
    rights; an entitlement of a tier unknown here is left out."""
    return Rights(
        tuple(
            Entitlement(e.feature, _TIERS[e.tier], e.valid_until.ToDatetime(tzinfo=UTC))
            for e in entitlements
            if e.tier in _TIERS
        )
    )


class SubscriptionRights:
    """``Subscriptions`` port on subscription's gRPC API."""

    def __init__(
        self,
        stub: subscription_pb2_grpc.SubscriptionServiceAsyncStub,
        snapshot: Snapshot,
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stub = stub
        self._snapshot = snapshot
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[uuid.UUID, tuple[float, Rights]] = {}
        self._plans: tuple[float, list[PlanInfo]] | None = None

    async def rights(self, account_id: uuid.UUID) -> Rights:
        now = self._clock()
        cached = self._cache.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            reply = await self._stub.ListEntitlements(
                pb.ListEntitlementsRequest(account_id=str(account_id))
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            fallback = await self._snapshot(account_id)
            if fallback is None:
                raise
            return fallback
        rights = rights_from_pb(reply.entitlements)
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()
        self._cache[account_id] = (now + self._ttl, rights)
        return rights

    async def plans(self) -> list[PlanInfo]:
        now = self._clock()
        if self._plans is not None and self._plans[0] > now:
            return self._plans[1]
        reply = await self._stub.ListPlans(pb.ListPlansRequest())
        plans = [
            PlanInfo(p.id, _TIERS[p.tier], p.name, p.name_ru, tuple(p.features), p.on_sale)
            for p in reply.plans
            if p.tier in _TIERS
        ]
        self._plans = (now + PLANS_TTL, plans)
        return plans

    def forget(self, account_id: uuid.UUID) -> None:
        self._cache.pop(account_id, None)
