"""Identity's consumer of ``subscription.order.completed``: the buyer of a paid order gets an
account.

It calls ``ensure_account_for_purchase`` (which creates the account with its "create your
password" mail and says ``identity.account.created_for_purchase``, or finds the existing one).
An existing account is reported as ``identity.account.found_for_purchase`` (queued in this
consumer's inbox transaction). A redelivery finds the account and reports it as found: the
subscription service attaches an order once, whichever report comes first.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from identity.domain.services import IdentityServices
from kabinet.events import Handler, ReceivedEvent
from kabinet.events.outbox import publish_event
from kabinet.identity.v1 import purchase_events_pb2
from kabinet.protobuf import timestamp
from kabinet.subscription.v1 import events_pb2 as subscription_events

ORDER_COMPLETED = "subscription.order.completed"
ACCOUNT_FOUND_FOR_PURCHASE = "identity.account.found_for_purchase"


def order_completed_handler(services: IdentityServices) -> Handler:
    async def handle(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        order = event.parse(subscription_events.OrderCompleted)
        ensured = await services.registration.ensure_account_for_purchase(
            order.buyer_email, order.language, order.order_id
        )
        if ensured.created:
            return  # reported by the use case, in its own transaction
        await publish_event(
            conn,
            ACCOUNT_FOUND_FOR_PURCHASE,
            purchase_events_pb2.AccountFoundForPurchase(
                account_id=str(ensured.account_id),
                order_id=order.order_id,
                occurred_at=timestamp(datetime.now(UTC)),
            ),
        )

    return handle
