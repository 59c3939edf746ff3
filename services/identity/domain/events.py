"""What identity tells the other services, as domain facts (``identity.events.outgoing`` turns
them into the protobuf messages of ``kabinet.identity.v1`` on ``identity.>`` subjects).

Events carry ids, addresses and reasons, never a token or a password hash.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PasswordChangeReason(StrEnum):
    RESET = "reset"
    CHANGE = "change"
    INITIAL = "initial"


class RevocationReason(StrEnum):
    SIGN_OUT = "sign_out"
    REPLAY = "replay"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 (a reason, not a secret)
    RESET = "reset"
    REVOKED_BY_OWNER = "revoked_by_owner"
    ACCOUNT_DELETED = "account_deleted"
    CODE_REUSED = "code_reused"
    REVOKED_BY_CLIENT = "revoked_by_client"
    DEVICE_DISCONNECTED = "device_disconnected"


@dataclass(frozen=True)
class AccountRegistered:
    account_id: uuid.UUID
    email: str
    language: str
    occurred_at: datetime


@dataclass(frozen=True)
class AccountActivated:
    account_id: uuid.UUID
    email: str
    occurred_at: datetime


@dataclass(frozen=True)
class AccountCreatedForPurchase:
    account_id: uuid.UUID
    email: str
    order_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class PasswordChanged:
    account_id: uuid.UUID
    reason: PasswordChangeReason
    occurred_at: datetime


@dataclass(frozen=True)
class SessionRevoked:
    account_id: uuid.UUID
    session_id: uuid.UUID
    reason: RevocationReason
    occurred_at: datetime


@dataclass(frozen=True)
class AccountDeleted:
    account_id: uuid.UUID
    occurred_at: datetime


@dataclass(frozen=True)
class IdentityLinked:
    """A social sign-in (provider, subject) was linked to the account."""

    account_id: uuid.UUID
    provider: str
    occurred_at: datetime


@dataclass(frozen=True)
class DeviceConnected:
    account_id: uuid.UUID
    device_id: uuid.UUID
    name: str
    platform: str
    client_id: str
    app_version: str
    occurred_at: datetime


@dataclass(frozen=True)
class IdentityUnlinked:
    account_id: uuid.UUID
    provider: str
    occurred_at: datetime


@dataclass(frozen=True)
class DeviceDisconnected:
    account_id: uuid.UUID
    device_id: uuid.UUID
    reason: str
    occurred_at: datetime


Event = (
    AccountRegistered
    | AccountActivated
    | AccountCreatedForPurchase
    | PasswordChanged
    | SessionRevoked
    | AccountDeleted
    | IdentityLinked
    | IdentityUnlinked
    | DeviceConnected
    | DeviceDisconnected
)
