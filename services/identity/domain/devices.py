"""Connecting a device (RFC 8628 device authorization grant) and the account's device registry.

An app on a device asks for a device code and a user code; the person enters (or confirms) the
user code on the portal's device page, sees which app and device asks, and approves or denies.
The app polls the token endpoint meanwhile: ``authorization_pending`` until decided,
``slow_down`` when it polls faster than its interval (which then grows by five seconds),
``expired_token`` after the code's lifetime, ``access_denied`` when denied; on approval it gets
its tokens once. The device joins the registry with a session of its own, so disconnecting it
revokes exactly its tokens (``identity.session.revoked``, which the gateway follows).

User codes are 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L, no vowels to
avoid words), about 38 bits; guessing is bounded per account (wrong codes per window). Device
codes are 256 random bits, stored as SHA-256.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from identity.domain.events import (
    DeviceConnected,
    DeviceDisconnected,
    RevocationReason,
    SessionRevoked,
)
from identity.domain.model import AccountStatus, Client, ClientKind
from identity.domain.oidc import (
    DEVICE_CODE,
    OidcTransaction,
    Tokens,
    authenticate_client,
    oauth_error,
    parse_scope,
)
from identity.domain.ports import Clock
from identity.domain.secrets import hash_token
from identity.domain.sessions import SessionService
from identity.oidc_config import OidcSettings
from kabinet.errors import DomainError, ErrorKind

log = logging.getLogger(__name__)

USER_CODE_ALPHABET = "BCDFGHJKMNPQRSTVWXZ23456789"
USER_CODE_LENGTH = 8
SLOW_DOWN_STEP = 5
MAX_DEVICE_FIELD = {"device_name": 100, "platform": 32, "app_version": 32}

USER_CODE_INVALID = "device.user_code_invalid"
USER_CODE_TOO_MANY = "device.too_many_attempts"
DEVICE_NOT_FOUND = "device.not_found"
CODES = (USER_CODE_INVALID, USER_CODE_TOO_MANY, DEVICE_NOT_FOUND)


class DeviceGrantStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CONSUMED = "consumed"


@dataclass(frozen=True)
class DeviceGrant:
    device_code_hash: bytes = field(repr=False)
    user_code_hash: bytes = field(repr=False)
    client_id: str
    scopes: tuple[str, ...]
    device_name: str
    platform: str
    app_version: str
    created_at: datetime
    expires_at: datetime
    interval: int
    status: DeviceGrantStatus
    last_polled_at: datetime | None = None
    account_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Device:
    id: uuid.UUID
    account_id: uuid.UUID
    session_id: uuid.UUID
    client_id: str
    app_name: str
    name: str
    platform: str
    app_version: str
    connected_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str = field(repr=False)
    user_code: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class PendingRequest:
    """What the approval page shows about the request behind a user code."""

    user_code: str
    client_name: str
    device_name: str
    platform: str
    app_version: str
    scopes: tuple[str, ...]


class DeviceTransaction(OidcTransaction, Protocol):
    async def insert_device_grant(self, grant: DeviceGrant) -> bool:
        """False when a pending grant already has this user code."""
        ...

    async def grant_by_device_code(
        self, device_code_hash: bytes, *, for_update: bool = False
    ) -> DeviceGrant | None: ...

    async def grant_by_user_code(
        self, user_code_hash: bytes, now: datetime, *, for_update: bool = False
    ) -> DeviceGrant | None:
        """The pending, unexpired grant whose user code has this hash."""
        ...

    async def update_device_grant(
        self,
        device_code_hash: bytes,
        *,
        status: DeviceGrantStatus,
        last_polled_at: datetime | None,
        interval: int,
        account_id: uuid.UUID | None,
        session_id: uuid.UUID | None,
    ) -> None: ...

    async def count_user_code_failure(
        self, account_id: uuid.UUID, now: datetime, window_start: datetime
    ) -> int:
        """Count one wrong user code; the failures in the current window."""
        ...

    async def user_code_failures(self, account_id: uuid.UUID, window_start: datetime) -> int: ...

    async def insert_device(self, device: Device) -> None: ...

    async def connected_devices(self, account_id: uuid.UUID, now: datetime) -> list[Device]: ...

    async def disconnect_device(
        self, account_id: uuid.UUID, device_id: uuid.UUID, now: datetime
    ) -> uuid.UUID | None:
        """Mark the device disconnected; its session id, or None when it was not connected."""
        ...


class DeviceStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[DeviceTransaction]: ...

    def connection(self) -> AbstractAsyncContextManager[DeviceTransaction]: ...


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalise_user_code(value: str) -> str | None:
    """The stored form of a typed code (case, dashes and blanks ignored); None when it cannot be
    one of ours."""
    code = "".join(c for c in value.upper() if c not in "- \t")
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        return None
    return code


def display_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


class DeviceFlow:
    """The device authorization grant and the device registry."""

    def __init__(
        self, store: DeviceStore, sessions: SessionService, clock: Clock, settings: OidcSettings
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        for name, value, least in (
            ("KABINET_IDENTITY_DEVICE_INTERVAL", settings.device_interval, 1),
            ("KABINET_IDENTITY_DEVICE_CODE_TTL", settings.device_code_ttl, 60),
            ("KABINET_IDENTITY_USER_CODE_MAX_FAILURES", settings.user_code_max_failures, 1),
            ("KABINET_IDENTITY_USER_CODE_WINDOW", settings.user_code_window, 1),
        ):
            if value < least:
                raise ValueError(f"{name} must be at least {least}")

    async def authorize(
        self,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        device_name: str,
        platform: str,
        app_version: str,
    ) -> DeviceAuthorization:
        """Start a grant: a device code for the app, a user code for the person."""
        fields = {"device_name": device_name, "platform": platform, "app_version": app_version}
        for name, value in fields.items():
            if len(value) > MAX_DEVICE_FIELD[name] or not value.isprintable():
                raise oauth_error("invalid_request")
        now = self._clock()
        async with self._store.transaction() as tx:
            client = await authenticate_client(tx, client_id, client_secret)
            if DEVICE_CODE not in client.grant_types:
                raise oauth_error("unauthorized_client")
            scopes = parse_scope(scope)
            if not set(scopes) <= set(client.scopes):
                raise oauth_error("invalid_scope")
            device_code = secrets.token_urlsafe(32)
            for _ in range(5):  # a pending user code taken: draw again
                user_code = new_user_code()
                grant = DeviceGrant(
                    device_code_hash=hash_token(device_code),
                    user_code_hash=hash_token(user_code),
                    client_id=client.client_id,
                    scopes=scopes,
                    device_name=device_name.strip(),
                    platform=platform.strip().lower(),
                    app_version=app_version.strip(),
                    created_at=now,
                    expires_at=now + timedelta(seconds=self._settings.device_code_ttl),
                    interval=self._settings.device_interval,
                    status=DeviceGrantStatus.PENDING,
                )
                if await tx.insert_device_grant(grant):
                    break
            else:  # pragma: no cover - 27^8 codes
                raise DomainError(ErrorKind.UNAVAILABLE, "service.unavailable")
        return DeviceAuthorization(
            device_code=device_code,
            user_code=display_user_code(user_code),
            expires_in=self._settings.device_code_ttl,
            interval=self._settings.device_interval,
        )

    async def _pending(
        self, tx: DeviceTransaction, user_code: str, account_id: str, now: datetime
    ) -> tuple[uuid.UUID, DeviceGrant, str]:
        """The account, the pending grant behind ``user_code`` and the code normalised."""
        account = _parse_uuid(account_id)
        if account is None:
            raise DomainError(ErrorKind.UNAUTHENTICATED, "auth.required")
        window_start = now - timedelta(seconds=self._settings.user_code_window)
        if await tx.user_code_failures(account, window_start) >= (
            self._settings.user_code_max_failures
        ):
            raise DomainError(ErrorKind.RESOURCE_EXHAUSTED, USER_CODE_TOO_MANY)
        code = normalise_user_code(user_code)
        grant = (
            await tx.grant_by_user_code(hash_token(code), now, for_update=True) if code else None
        )
        if grant is None or code is None:
            failures = await tx.count_user_code_failure(account, now, window_start)
            log.info("wrong user code entered", extra={"failures": failures})
            raise DomainError(ErrorKind.INVALID_ARGUMENT, USER_CODE_INVALID)
        return account, grant, code

    async def lookup(self, user_code: str, account_id: str) -> PendingRequest:
        """The request behind a user code, for the approval page; a wrong code counts towards
        the account's limit (the count commits even though the call fails)."""
        now = self._clock()
        failure: DomainError | None = None
        async with self._store.transaction() as tx:
            try:
                _, grant, code = await self._pending(tx, user_code, account_id, now)
            except DomainError as err:
                failure = err
            else:
                client = await tx.client_by_id(grant.client_id)
                return PendingRequest(
                    user_code=display_user_code(code),
                    client_name=client.name if client else grant.client_id,
                    device_name=grant.device_name,
                    platform=grant.platform,
                    app_version=grant.app_version,
                    scopes=grant.scopes,
                )
        raise failure

    async def decide(self, user_code: str, account_id: str, approve: bool) -> None:
        """Approve or deny the request behind a user code (the person confirmed the code)."""
        now = self._clock()
        failure: DomainError | None = None
        async with self._store.transaction() as tx:
            try:
                account, grant, _ = await self._pending(tx, user_code, account_id, now)
            except DomainError as err:
                failure = err
            else:
                log.info(
                    "device request decided",
                    extra={"client_id": grant.client_id, "approved": approve},
                )
                await tx.update_device_grant(
                    grant.device_code_hash,
                    status=DeviceGrantStatus.APPROVED if approve else DeviceGrantStatus.DENIED,
                    last_polled_at=grant.last_polled_at,
                    interval=grant.interval,
                    account_id=account,
                    session_id=None,
                )
                return
        raise failure

    async def poll(
        self, client_id: str, client_secret: str, device_code: str, caller: Client
    ) -> Tokens:
        """The token endpoint's device_code grant: pending, slow_down, expired, denied, or the
        tokens (once), with the device added to the registry."""
        now = self._clock()
        failure: DomainError | None = None
        async with self._store.transaction() as tx:
            client = await authenticate_client(tx, client_id, client_secret)
            if DEVICE_CODE not in client.grant_types:
                raise oauth_error("unauthorized_client")
            grant = await tx.grant_by_device_code(hash_token(device_code), for_update=True)
            if grant is None or grant.client_id != client.client_id:
                raise oauth_error("invalid_grant")
            if grant.status is DeviceGrantStatus.CONSUMED:
                raise oauth_error("invalid_grant")
            if now >= grant.expires_at:
                raise oauth_error("expired_token")
            if grant.status is DeviceGrantStatus.DENIED:
                raise oauth_error("access_denied")
            too_fast = grant.last_polled_at is not None and now < grant.last_polled_at + timedelta(
                seconds=grant.interval
            )
            interval = grant.interval + SLOW_DOWN_STEP if too_fast else grant.interval
            if grant.status is DeviceGrantStatus.PENDING or too_fast:
                await tx.update_device_grant(
                    grant.device_code_hash,
                    status=grant.status,
                    last_polled_at=now,
                    interval=interval,
                    account_id=grant.account_id,
                    session_id=grant.session_id,
                )
                failure = oauth_error("slow_down" if too_fast else "authorization_pending")
            else:
                return await self._connect(tx, grant, caller, now)
        raise failure

    async def _connect(
        self, tx: DeviceTransaction, grant: DeviceGrant, caller: Client, now: datetime
    ) -> Tokens:
        account = await tx.account_by_id(grant.account_id) if grant.account_id else None
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise oauth_error("access_denied")
        device_client = Client(ip=caller.ip, user_agent=caller.user_agent, kind=ClientKind.APP)
        signed = await self._sessions.open(
            tx, account, device_client, now, client_id=grant.client_id, scopes=grant.scopes
        )
        if signed is None:
            raise oauth_error("access_denied")
        device = Device(
            id=uuid.uuid4(),
            account_id=account.id,
            session_id=signed.session_id,
            client_id=grant.client_id,
            app_name=grant.client_id,
            name=grant.device_name,
            platform=grant.platform,
            app_version=grant.app_version,
            connected_at=now,
            last_seen_at=now,
        )
        await tx.insert_device(device)
        await tx.update_device_grant(
            grant.device_code_hash,
            status=DeviceGrantStatus.CONSUMED,
            last_polled_at=now,
            interval=grant.interval,
            account_id=account.id,
            session_id=signed.session_id,
        )
        await tx.publish(
            DeviceConnected(
                account.id,
                device.id,
                device.name,
                device.platform,
                device.client_id,
                device.app_version,
                now,
            )
        )
        return Tokens(
            access_token=signed.access_token,
            expires_in=signed.expires_in,
            refresh_token=signed.refresh_token,
            scope=grant.scopes,
        )

    async def devices(self, account_id: str) -> Sequence[Device]:
        account = _parse_uuid(account_id)
        if account is None:
            return []
        async with self._store.connection() as db:
            return await db.connected_devices(account, self._clock())

    async def disconnect(self, account_id: str, device_id: str) -> uuid.UUID:
        """Remove one of the account's devices and revoke its session at once; the session id."""
        account, device = _parse_uuid(account_id), _parse_uuid(device_id)
        if account is None or device is None:
            raise DomainError(ErrorKind.NOT_FOUND, DEVICE_NOT_FOUND)
        now = self._clock()
        async with self._store.transaction() as tx:
            session_id = await tx.disconnect_device(account, device, now)
            if session_id is None:
                raise DomainError(ErrorKind.NOT_FOUND, DEVICE_NOT_FOUND)
            reason = RevocationReason.DEVICE_DISCONNECTED
            if await tx.revoke_session(session_id, now, reason, account_id=account):
                await tx.publish(SessionRevoked(account, session_id, reason, now))
            await tx.publish(DeviceDisconnected(account, device, "by_owner", now))
            log.info("device disconnected", extra={"device_id": str(device)})
        return session_id
