"""What support does with the other services' events (each handler runs in the consumer's
transaction, once per event: the inbox makes redeliveries no-ops).

- ``subscription.entitlements.changed``: the owner's open tickets take the priority and SLA of
  the new plan (an event older than the ticket's last decision changes nothing).
- ``identity.account.deleted``: the retention rule in docs/design-notes.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC

import asyncpg

from kabinet.events.received import ReceivedEvent
from kabinet.identity.v1 import events_pb2 as identity_events
from kabinet.mail.templates import TemplateSet
from kabinet.subscription.v1 import events_pb2 as subscription_events
from support.domain.rules import PRIORITY_FEATURE
from support.domain.services import SupportServices, parse_id
from support.store.postgres import PostgresTransaction

ENTITLEMENTS_CHANGED = "subscription.entitlements.changed"
ACCOUNT_DELETED = "identity.account.deleted"


class SupportConsumers:
    def __init__(self, services: SupportServices, templates: TemplateSet) -> None:
        self._s = services
        self._templates = templates

    async def entitlements_changed(self, conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        message = event.parse(subscription_events.EntitlementsChanged)
        account = parse_id(message.account_id)
        if account is None:
            return
        as_of = message.occurred_at.ToDatetime(tzinfo=UTC)
        high = any(
            e.feature == PRIORITY_FEATURE and e.valid_until.ToDatetime(tzinfo=UTC) > as_of
            for e in message.entitlements
        )
        await self._s.apply_entitlements(
            PostgresTransaction(conn, self._templates), account, high, as_of
        )

    async def account_deleted(self, conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        message = event.parse(identity_events.AccountDeleted)
        account: uuid.UUID | None = parse_id(message.account_id)
        if account is None:
            return
        keys = await self._s.erase_account(PostgresTransaction(conn, self._templates), account)
        # Deleting an object twice is harmless: a rolled-back run is simply done again.
        await self._s.delete_objects(keys)
