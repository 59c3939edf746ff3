"""What the subscription service does with other services' events (each handler runs in the
consumer's inbox transaction, so a redelivered event is not handled twice, and every effect is
idempotent besides).

- ``identity.account.created_for_purchase`` / ``identity.account.found_for_purchase``: the buyer's
  account is known; attach the paid order's subscription to it (once: the order is then
  ``completed``, and the second report of the same order changes nothing).
- ``identity.device.connected`` / ``identity.device.disconnected``: take or free a seat. A device
  over the limit is logged and left unprotected (the app shows the limit through the RPC).
"""

from __future__ import annotations

import logging

import asyncpg

from kabinet.errors import DomainError
from kabinet.events import Handler, ReceivedEvent
from kabinet.identity.v1 import events_pb2 as identity_events
from kabinet.identity.v1 import purchase_events_pb2
from subscription.domain.orders import OrderServices, parse_uuid
from subscription.domain.seats import SeatServices, parse_device
from subscription.store.postgres import PostgresTransaction

log = logging.getLogger(__name__)

ACCOUNT_CREATED_FOR_PURCHASE = "identity.account.created_for_purchase"
ACCOUNT_FOUND_FOR_PURCHASE = "identity.account.found_for_purchase"
DEVICE_CONNECTED = "identity.device.connected"
DEVICE_DISCONNECTED = "identity.device.disconnected"

PURCHASE_SUBJECTS = (ACCOUNT_CREATED_FOR_PURCHASE, ACCOUNT_FOUND_FOR_PURCHASE)
DEVICE_SUBJECTS = (DEVICE_CONNECTED, DEVICE_DISCONNECTED)


def purchase_handler(orders: OrderServices) -> Handler:
    async def handle(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        if event.subject == ACCOUNT_CREATED_FOR_PURCHASE:
            created = event.parse(identity_events.AccountCreatedForPurchase)
            order_id, account_id = created.order_id, created.account_id
        else:
            found = event.parse(purchase_events_pb2.AccountFoundForPurchase)
            order_id, account_id = found.order_id, found.account_id
        if not order_id:
            return  # an account made for something else than an order
        await orders.attach(PostgresTransaction(conn), order_id, account_id)

    return handle


def device_handler(seats: SeatServices) -> Handler:
    async def handle(conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        tx = PostgresTransaction(conn)
        if event.subject == DEVICE_CONNECTED:
            connected = event.parse(identity_events.DeviceConnected)
            account = parse_uuid(connected.account_id)
            if account is None:
                return
            try:
                device = parse_device(connected.device_id)
                await seats.protect_in(tx, account, "", device, connected.name[:100])
            except DomainError as err:  # no seat (limit, no live subscription): not an error
                log.info(
                    "device not protected",
                    extra={"account_id": str(account), "code": err.code},
                )
        else:
            gone = event.parse(identity_events.DeviceDisconnected)
            account = parse_uuid(gone.account_id)
            if account is not None:
                await tx.delete_seat(account, gone.device_id)

    return handle
