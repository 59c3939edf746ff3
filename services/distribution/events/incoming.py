"""The events distribution consumes: subscription's entitlement changes.

Each ``subscription.entitlements.changed`` carries the account's whole set of entitlements at that
moment. The handler keeps it as the account's snapshot (an older event arriving late changes
nothing) in the consumer's transaction, so a redelivery is a no-op, and drops what this process
had cached for the account, so the next listing or link asks subscription again.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC

import asyncpg

from distribution.domain.model import SnapshotUpdate
from distribution.domain.services import DistributionServices
from distribution.entitlements import rights_from_pb
from distribution.store.postgres import PostgresTransaction
from kabinet.events.received import ReceivedEvent
from kabinet.mail.templates import TemplateSet
from kabinet.subscription.v1 import events_pb2

ENTITLEMENTS_CHANGED = "subscription.entitlements.changed"


def snapshot_from(message: events_pb2.EntitlementsChanged) -> SnapshotUpdate:
    """The snapshot an event carries (entitlements of an unknown tier are left out)."""
    return SnapshotUpdate(
        account_id=uuid.UUID(message.account_id),
        as_of=message.occurred_at.ToDatetime(tzinfo=UTC),
        rights=rights_from_pb(message.entitlements),
    )


def entitlements_handler(
    services: DistributionServices, templates: TemplateSet
) -> Callable[[asyncpg.Connection, ReceivedEvent], Awaitable[None]]:
    """The consumer's handler, on the connection (and transaction) it is given."""

    async def handle(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        update = snapshot_from(event.parse(events_pb2.EntitlementsChanged))
        await services.apply_entitlements(PostgresTransaction(conn, templates), update)

    return handle
