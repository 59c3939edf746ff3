"""Domain events as the ``kabinet.identity.v1`` messages and subjects other services consume."""

from __future__ import annotations

from google.protobuf.message import Message

from identity.domain.events import (
    AccountActivated,
    AccountCreatedForPurchase,
    AccountDeleted,
    AccountRegistered,
    DeviceConnected,
    DeviceDisconnected,
    Event,
    IdentityLinked,
    IdentityUnlinked,
    PasswordChanged,
    SessionRevoked,
)
from kabinet.identity.v1 import events_pb2
from kabinet.protobuf import timestamp

ACCOUNT_REGISTERED = "identity.account.registered"
ACCOUNT_ACTIVATED = "identity.account.activated"
ACCOUNT_CREATED_FOR_PURCHASE = "identity.account.created_for_purchase"
PASSWORD_CHANGED = "identity.password.changed"  # noqa: S105 (a subject)
SESSION_REVOKED = "identity.session.revoked"
ACCOUNT_DELETED = "identity.account.deleted"
IDENTITY_LINKED = "identity.identity.linked"
IDENTITY_UNLINKED = "identity.identity.unlinked"
DEVICE_CONNECTED = "identity.device.connected"
DEVICE_DISCONNECTED = "identity.device.disconnected"

SUBJECTS = (
    ACCOUNT_REGISTERED,
    ACCOUNT_ACTIVATED,
    ACCOUNT_CREATED_FOR_PURCHASE,
    PASSWORD_CHANGED,
    SESSION_REVOKED,
    ACCOUNT_DELETED,
    IDENTITY_LINKED,
    IDENTITY_UNLINKED,
    DEVICE_CONNECTED,
    DEVICE_DISCONNECTED,
)


def to_message(event: Event) -> tuple[str, Message]:
    """The subject and protobuf message of a domain event."""
    at = timestamp(event.occurred_at)
    match event:
        case AccountRegistered():
            return ACCOUNT_REGISTERED, events_pb2.AccountRegistered(
                account_id=str(event.account_id),
                email=event.email,
                language=event.language,
                occurred_at=at,
            )
        case AccountActivated():
            return ACCOUNT_ACTIVATED, events_pb2.AccountActivated(
                account_id=str(event.account_id), email=event.email, occurred_at=at
            )
        case AccountCreatedForPurchase():
            return ACCOUNT_CREATED_FOR_PURCHASE, events_pb2.AccountCreatedForPurchase(
                account_id=str(event.account_id),
                email=event.email,
                order_id=event.order_id,
                occurred_at=at,
            )
        case PasswordChanged():
            return PASSWORD_CHANGED, events_pb2.PasswordChanged(
                account_id=str(event.account_id), reason=event.reason.value, occurred_at=at
            )
        case SessionRevoked():
            return SESSION_REVOKED, events_pb2.SessionRevoked(
                account_id=str(event.account_id),
                session_id=str(event.session_id),
                reason=event.reason.value,
                occurred_at=at,
            )
        case AccountDeleted():
            return ACCOUNT_DELETED, events_pb2.AccountDeleted(
                account_id=str(event.account_id), occurred_at=at
            )
        case IdentityLinked():
            return IDENTITY_LINKED, events_pb2.IdentityLinked(
                account_id=str(event.account_id), provider=event.provider, occurred_at=at
            )
        case IdentityUnlinked():
            return IDENTITY_UNLINKED, events_pb2.IdentityUnlinked(
                account_id=str(event.account_id), provider=event.provider, occurred_at=at
            )
        case DeviceConnected():
            return DEVICE_CONNECTED, events_pb2.DeviceConnected(
                account_id=str(event.account_id),
                device_id=str(event.device_id),
                name=event.name,
                platform=event.platform,
                client_id=event.client_id,
                app_version=event.app_version,
                occurred_at=at,
            )
        case DeviceDisconnected():
            return DEVICE_DISCONNECTED, events_pb2.DeviceDisconnected(
                account_id=str(event.account_id),
                device_id=str(event.device_id),
                reason=event.reason,
                occurred_at=at,
            )
    raise TypeError(f"not an identity event: {event!r}")
