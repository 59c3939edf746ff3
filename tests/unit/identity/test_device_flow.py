"""The device authorization grant's rules on fakes, with a clock that moves only when told:
polling answers, slow_down growing the interval, expiry, denial, single use, and the limit on
guessing user codes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from identity.domain.devices import (
    SLOW_DOWN_STEP,
    Device,
    DeviceFlow,
    DeviceGrant,
    DeviceGrantStatus,
)
from identity.domain.model import Account, AccountStatus, Client
from identity.domain.oidc import DEVICE_CODE, OAuthClient, OpenIdProvider
from identity.domain.services import IdentityServices
from identity.oidc_config import OidcSettings
from kabinet.errors import DomainError
from tests.unit.identity.conftest import FakeClock, FakeStore, FakeTransaction

APP = OAuthClient(
    client_id="app-1", name="App", grant_types=(DEVICE_CODE,), scopes=("openid", "kabinet.api")
)
SITE = OAuthClient(
    client_id="site-1",
    name="Site",
    redirect_uris=("https://site.example/cb",),
    grant_types=("authorization_code",),
    scopes=("openid",),
)


class Extra:
    def __init__(self) -> None:
        self.clients = {c.client_id: c for c in (APP, SITE)}
        self.grants: dict[bytes, DeviceGrant] = {}
        self.devices: dict[uuid.UUID, Device] = {}
        self.failures: dict[uuid.UUID, tuple[int, datetime]] = {}


class DeviceTx(FakeTransaction):
    """The device ports on dictionaries (shared, not rolled back: enough for these rules)."""

    def __init__(self, inner: FakeTransaction, extra: Extra) -> None:
        super().__init__(inner.s, inner.in_transaction)
        self.x = extra

    async def client_by_id(self, client_id: str) -> OAuthClient | None:
        return self.x.clients.get(client_id)

    async def insert_device_grant(self, grant: DeviceGrant) -> bool:
        self.x.grants[grant.device_code_hash] = grant
        return True

    async def grant_by_device_code(self, device_code_hash: bytes, **_: Any) -> DeviceGrant | None:
        return self.x.grants.get(device_code_hash)

    async def grant_by_user_code(
        self, user_code_hash: bytes, now: datetime, **_: Any
    ) -> DeviceGrant | None:
        return next(
            (
                g
                for g in self.x.grants.values()
                if g.user_code_hash == user_code_hash
                and g.status is DeviceGrantStatus.PENDING
                and g.expires_at > now
            ),
            None,
        )

    async def update_device_grant(self, device_code_hash: bytes, **changes: Any) -> None:
        grant = self.x.grants[device_code_hash]
        self.x.grants[device_code_hash] = replace(grant, **changes)

    async def count_user_code_failure(
        self, account_id: uuid.UUID, now: datetime, window_start: datetime
    ) -> int:
        count, started = self.x.failures.get(account_id, (0, now))
        if started < window_start:
            count, started = 0, now
        self.x.failures[account_id] = (count + 1, started)
        return count + 1

    async def user_code_failures(self, account_id: uuid.UUID, window_start: datetime) -> int:
        count, started = self.x.failures.get(account_id, (0, window_start))
        return count if started >= window_start else 0

    async def insert_device(self, device: Device) -> None:
        self.x.devices[device.id] = device


class DeviceStore:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.extra = Extra()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DeviceTx]:
        async with self.store.transaction() as tx:
            yield DeviceTx(tx, self.extra)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[DeviceTx]:
        async with self.store.connection() as db:
            yield DeviceTx(db, self.extra)


@pytest.fixture
def devices(store: FakeStore) -> DeviceStore:
    return DeviceStore(store)


@pytest.fixture
def flow(devices: DeviceStore, services: IdentityServices, clock: FakeClock) -> DeviceFlow:
    settings = OidcSettings(device_interval=5, device_code_ttl=600, user_code_max_failures=3)
    return DeviceFlow(devices, services.sessions, clock, settings)


@pytest.fixture
def account(store: FakeStore, clock: FakeClock) -> Account:
    person = Account(
        id=uuid.uuid4(),
        email="anna@example.com",
        email_key="anna@example.com",
        status=AccountStatus.ACTIVE,
        password_hash="x",
        language="en",
        created_at=clock(),
    )
    store.state.accounts[person.id] = person
    return person


async def _error(call: Any) -> str:
    with pytest.raises(DomainError) as failed:
        await call
    return failed.value.code


async def test_polling_slow_down_approval_and_single_use(
    flow: DeviceFlow, account: Account, clock: FakeClock, devices: DeviceStore
) -> None:
    started = await flow.authorize(
        "app-1", "", "openid kabinet.api", device_name="Laptop", platform="Windows", app_version="1"
    )
    poll = lambda: flow.poll("app-1", "", started.device_code, Client())  # noqa: E731
    assert await _error(poll()) == "oauth.authorization_pending"
    clock.advance(seconds=1)
    assert await _error(poll()) == "oauth.slow_down"
    (grant,) = devices.extra.grants.values()
    assert grant.interval == 5 + SLOW_DOWN_STEP
    clock.advance(seconds=6)  # more than the old interval, less than the new one
    assert await _error(poll()) == "oauth.slow_down"
    assert next(iter(devices.extra.grants.values())).interval == 5 + 2 * SLOW_DOWN_STEP
    pending = await flow.lookup(started.user_code.lower(), str(account.id))
    assert (pending.client_name, pending.device_name, pending.platform) == (
        "App",
        "Laptop",
        "windows",
    )
    await flow.decide(started.user_code, str(account.id), approve=True)
    clock.advance(seconds=15)
    tokens = await poll()
    assert tokens.refresh_token
    assert tokens.scope == ("openid", "kabinet.api")
    (device,) = devices.extra.devices.values()
    assert (device.account_id, device.name) == (account.id, "Laptop")
    clock.advance(seconds=15)
    assert await _error(poll()) == "oauth.invalid_grant"
    # The code is spent: it no longer names a pending request.
    assert await _error(flow.lookup(started.user_code, str(account.id))) == (
        "device.user_code_invalid"
    )


async def test_denied_and_expired(flow: DeviceFlow, account: Account, clock: FakeClock) -> None:
    denied = await flow.authorize("app-1", "", "", device_name="", platform="", app_version="")
    await flow.decide(denied.user_code, str(account.id), approve=False)
    assert await _error(flow.poll("app-1", "", denied.device_code, Client())) == (
        "oauth.access_denied"
    )
    late = await flow.authorize("app-1", "", "", device_name="", platform="", app_version="")
    clock.advance(seconds=601)
    assert await _error(flow.poll("app-1", "", late.device_code, Client())) == (
        "oauth.expired_token"
    )
    assert await _error(flow.decide(late.user_code, str(account.id), approve=True)) == (
        "device.user_code_invalid"
    )


async def test_another_client_cannot_poll_and_bad_requests_are_refused(flow: DeviceFlow) -> None:
    started = await flow.authorize("app-1", "", "", device_name="", platform="", app_version="")
    assert await _error(flow.poll("site-1", "", started.device_code, Client())) == (
        "oauth.unauthorized_client"
    )
    assert await _error(
        flow.authorize("site-1", "", "", device_name="", platform="", app_version="")
    ) == ("oauth.unauthorized_client")
    assert await _error(
        flow.authorize("app-1", "", "admin", device_name="", platform="", app_version="")
    ) == ("oauth.invalid_scope")
    assert await _error(
        flow.authorize("app-1", "", "", device_name="x" * 101, platform="", app_version="")
    ) == ("oauth.invalid_request")
    assert await _error(
        flow.authorize("nobody", "", "", device_name="", platform="", app_version="")
    ) == ("oauth.invalid_client")


async def test_guessing_user_codes_is_limited_per_account(
    flow: DeviceFlow, account: Account, clock: FakeClock
) -> None:
    started = await flow.authorize("app-1", "", "", device_name="", platform="", app_version="")
    for guess in ("BBBB-BBBB", "nonsense", "CCCC-CCCC"):
        assert await _error(flow.lookup(guess, str(account.id))) == "device.user_code_invalid"
    # Even the right code waits now.
    assert await _error(flow.lookup(started.user_code, str(account.id))) == (
        "device.too_many_attempts"
    )
    clock.advance(seconds=901)  # the window has passed (and the first request expired)
    fresh = await flow.authorize("app-1", "", "", device_name="", platform="", app_version="")
    assert (await flow.lookup(fresh.user_code, str(account.id))).user_code == fresh.user_code


def test_settings_that_make_no_sense_stop_start_up(
    devices: DeviceStore, services: IdentityServices, clock: FakeClock
) -> None:
    with pytest.raises(ValueError, match="KABINET_IDENTITY_DEVICE_INTERVAL"):
        DeviceFlow(devices, services.sessions, clock, OidcSettings(device_interval=0))
    for ttl in (0, 601):
        with pytest.raises(ValueError, match="KABINET_IDENTITY_CODE_TTL"):
            OpenIdProvider(
                devices, services.sessions, services.keys, clock, code_ttl=ttl, access_ttl=600
            )
