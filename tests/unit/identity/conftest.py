"""In-memory fakes of the identity ports, and the use cases wired on them.

The fake store keeps plain dictionaries; a transaction works on a copy that replaces the state
when the block ends normally and is thrown away when it raises, like a rollback. Mail and events
are recorded where a test can read them. The fake hasher is instant and counts its calls.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from identity.config import IdentitySettings, LinkSettings, ThrottleSettings
from identity.domain.events import Event, RevocationReason
from identity.domain.model import (
    Account,
    AccountStatus,
    AccountThrottle,
    ClientThrottle,
    Link,
    LinkPurpose,
    Mail,
    Notice,
    RefreshUse,
    Session,
    SignInState,
    SpentLink,
)
from identity.domain.services import IdentityServices, build_services
from kabinet.auth.keys import SigningKey
from kabinet.errors import Violation
from kabinet.settings import CommonSettings

PUBLIC_URL = "https://portal.kabinet.test"


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakePasswords:
    """The Passwords port without argon2: a hash is the password behind a prefix.

    The policy is a stand-in (at least 8 characters, a digit); the real one has its own tests.
    """

    def __init__(self, version: str = "v1") -> None:
        self.version = version
        self.hashed = 0
        self.verified = 0
        self.dummy_verified = 0

    async def check(self, password: str, *, email: str | None) -> Sequence[Violation]:
        violations = []
        if len(password) < 8:
            violations.append(Violation("password.too_short", "password"))
        if not any(c.isdigit() for c in password):
            violations.append(Violation("password.no_digit", "password"))
        return violations

    async def hash(self, password: str) -> str:
        self.hashed += 1
        return f"fake-{self.version}${password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return password_hash.split("$", 1)[1] == password

    async def verify_dummy(self, password: str) -> None:
        self.dummy_verified += 1

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake-{self.version}$")

    def is_too_long(self, password: str) -> bool:
        return len(password) > 256


@dataclass
class State:
    accounts: dict[uuid.UUID, Account] = field(default_factory=dict)
    links: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    notices: list[tuple[uuid.UUID, Notice, datetime]] = field(default_factory=list)
    account_throttle: dict[uuid.UUID, AccountThrottle] = field(default_factory=dict)
    client_throttle: dict[str, ClientThrottle] = field(default_factory=dict)
    sessions: dict[uuid.UUID, Session] = field(default_factory=dict)
    refresh: dict[bytes, RefreshUse] = field(default_factory=dict)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)


class FakeTransaction:
    """Every port method on one ``State``."""

    def __init__(self, state: State, in_transaction: bool) -> None:
        self.s = state
        self.in_transaction = in_transaction

    # accounts

    async def account_by_email(self, email_key: str) -> Account | None:
        return next((a for a in self.s.accounts.values() if a.email_key == email_key), None)

    async def account_by_id(
        self, account_id: uuid.UUID, *, for_update: bool = False
    ) -> Account | None:
        return self.s.accounts.get(account_id)

    async def insert_account(self, account: Account) -> bool:
        if await self.account_by_email(account.email_key) is not None:
            return False
        self.s.accounts[account.id] = account
        return True

    async def activate_account(self, account_id: uuid.UUID, now: datetime) -> bool:
        account = self.s.accounts.get(account_id)
        if account is None or account.status is not AccountStatus.PENDING_ACTIVATION:
            return False
        self.s.accounts[account_id] = dataclasses.replace(account, status=AccountStatus.ACTIVE)
        return True

    async def set_password_hash(
        self, account_id: uuid.UUID, password_hash: str, now: datetime
    ) -> None:
        account = self.s.accounts[account_id]
        self.s.accounts[account_id] = dataclasses.replace(account, password_hash=password_hash)

    async def change_email(self, account_id: uuid.UUID, email: str, email_key: str) -> bool:
        holder = await self.account_by_email(email_key)
        if holder is not None and holder.id != account_id:
            return False
        account = self.s.accounts[account_id]
        self.s.accounts[account_id] = dataclasses.replace(account, email=email, email_key=email_key)
        return True

    async def update_profile(
        self,
        account_id: uuid.UUID,
        *,
        name: str | None,
        language: str | None,
        country: str | None,
    ) -> Account | None:
        account = self.s.accounts.get(account_id)
        if account is None:
            return None
        changes = {"name": name, "language": language, "country": country}
        account = dataclasses.replace(
            account, **{k: v for k, v in changes.items() if v is not None}
        )
        self.s.accounts[account_id] = account
        return account

    async def delete_account(self, account_id: uuid.UUID) -> None:
        self.s.accounts.pop(account_id, None)
        self.s.links = {h: k for h, k in self.s.links.items() if k["account_id"] != account_id}
        gone = {i for i, s in self.s.sessions.items() if s.account_id == account_id}
        self.s.sessions = {i: s for i, s in self.s.sessions.items() if i not in gone}
        self.s.refresh = {h: r for h, r in self.s.refresh.items() if r.session_id not in gone}
        self.s.account_throttle.pop(account_id, None)
        self.s.notices = [n for n in self.s.notices if n[0] != account_id]

    # links

    async def insert_link(self, link: Link) -> None:
        assert link.token_hash not in self.s.links
        self.s.links[link.token_hash] = {**dataclasses.asdict(link), "used_at": None}

    def _live(self, token_hash: bytes, purpose: LinkPurpose, now: datetime) -> dict | None:
        link = self.s.links.get(token_hash)
        if link is None or link["purpose"] is not purpose or link["used_at"] is not None:
            return None
        return link if link["expires_at"] > now else None

    async def spend_link(
        self, token_hash: bytes, purpose: LinkPurpose, now: datetime
    ) -> SpentLink | None:
        link = self._live(token_hash, purpose, now)
        if link is None:
            return None
        link["used_at"] = now
        return SpentLink(link["account_id"], link["new_email"])

    async def find_live_link(
        self, token_hash: bytes, purpose: LinkPurpose, now: datetime
    ) -> SpentLink | None:
        link = self._live(token_hash, purpose, now)
        return None if link is None else SpentLink(link["account_id"], link["new_email"])

    async def retire_links(
        self, account_id: uuid.UUID, purposes: Sequence[LinkPurpose], now: datetime
    ) -> None:
        for link in self.s.links.values():
            if link["account_id"] == account_id and link["purpose"] in purposes:
                link["used_at"] = link["used_at"] or now

    async def count_links_since(
        self, account_id: uuid.UUID, purpose: LinkPurpose, since: datetime
    ) -> int:
        return sum(
            1
            for link in self.s.links.values()
            if link["account_id"] == account_id
            and link["purpose"] is purpose
            and link["created_at"] > since
        )

    async def has_live_link(
        self, account_id: uuid.UUID, purpose: LinkPurpose, now: datetime
    ) -> bool:
        return any(
            link["account_id"] == account_id and self._live(h, purpose, now) is not None
            for h, link in self.s.links.items()
        )

    # notices

    async def count_notices_since(
        self, account_id: uuid.UUID, notice: Notice, since: datetime
    ) -> int:
        return sum(1 for a, n, t in self.s.notices if a == account_id and n is notice and t > since)

    async def record_notice(self, account_id: uuid.UUID, notice: Notice, now: datetime) -> None:
        self.s.notices.append((account_id, notice, now))

    # throttling

    async def sign_in_state(self, email_key: str | None, client_key: str) -> SignInState:
        account = await self.account_by_email(email_key) if email_key else None
        return SignInState(
            account,
            self.s.account_throttle.get(account.id) if account else None,
            self.s.client_throttle.get(client_key),
        )

    async def account_with_throttle(
        self, account_id: uuid.UUID
    ) -> tuple[Account | None, AccountThrottle | None]:
        return self.s.accounts.get(account_id), self.s.account_throttle.get(account_id)

    async def account_throttle(self, account_id: uuid.UUID) -> AccountThrottle | None:
        return self.s.account_throttle.get(account_id)

    async def lock_account_throttle(self, account_id: uuid.UUID, now: datetime) -> AccountThrottle:
        return self.s.account_throttle.setdefault(account_id, AccountThrottle(0, now))

    async def save_account_throttle(self, account_id: uuid.UUID, state: AccountThrottle) -> None:
        self.s.account_throttle[account_id] = state

    async def clear_account_throttle(self, account_id: uuid.UUID) -> None:
        self.s.account_throttle.pop(account_id, None)

    async def client_throttle(self, client_key: str) -> ClientThrottle | None:
        return self.s.client_throttle.get(client_key)

    async def lock_client_throttle(self, client_key: str, now: datetime) -> ClientThrottle:
        return self.s.client_throttle.setdefault(client_key, ClientThrottle(0, now))

    async def save_client_throttle(self, client_key: str, state: ClientThrottle) -> None:
        self.s.client_throttle[client_key] = state

    # sessions

    async def insert_session(
        self, session: Session, refresh_token_hash: bytes, now: datetime
    ) -> bool:
        account = self.s.accounts.get(session.account_id)
        throttle = self.s.account_throttle.get(session.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            return False
        if throttle is not None and throttle.is_locked(now):
            return False
        self.s.sessions[session.id] = session
        self.s.refresh[refresh_token_hash] = RefreshUse(session.id, None)
        return True

    async def session_by_id(self, session_id: uuid.UUID) -> Session | None:
        return self.s.sessions.get(session_id)

    async def touch_session(
        self, session_id: uuid.UUID, now: datetime, ip: str, user_agent: str
    ) -> None:
        session = self.s.sessions[session_id]
        self.s.sessions[session_id] = dataclasses.replace(
            session, last_seen_at=now, ip=ip, user_agent=user_agent
        )

    async def revoke_session(
        self,
        session_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        account_id: uuid.UUID | None = None,
    ) -> bool:
        session = self.s.sessions.get(session_id)
        if session is None or not session.is_live(now):
            return False
        if account_id is not None and session.account_id != account_id:
            return False
        self.s.sessions[session_id] = dataclasses.replace(session, revoked_at=now)
        return True

    async def revoke_sessions(
        self,
        account_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        revoked = []
        for session in list(self.s.sessions.values()):
            if session.account_id == account_id and session.id != keep and session.is_live(now):
                self.s.sessions[session.id] = dataclasses.replace(session, revoked_at=now)
                revoked.append(session.id)
        return revoked

    async def live_sessions(self, account_id: uuid.UUID, now: datetime) -> list[Session]:
        live = [
            s for s in self.s.sessions.values() if s.account_id == account_id and s.is_live(now)
        ]
        return sorted(live, key=lambda s: s.last_seen_at, reverse=True)

    async def live_session_ids(
        self, session_ids: Sequence[uuid.UUID], now: datetime
    ) -> list[uuid.UUID]:
        return [i for i in session_ids if i in self.s.sessions and self.s.sessions[i].is_live(now)]

    async def is_session_live(
        self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime
    ) -> bool:
        session = self.s.sessions.get(session_id)
        return session is not None and session.account_id == account_id and session.is_live(now)

    async def insert_refresh_token(
        self, token_hash: bytes, session_id: uuid.UUID, now: datetime
    ) -> None:
        self.s.refresh[token_hash] = RefreshUse(session_id, None)

    async def spend_refresh_token(self, token_hash: bytes, now: datetime) -> uuid.UUID | None:
        found = self.s.refresh.get(token_hash)
        if found is None or found.used_at is not None:
            return None
        self.s.refresh[token_hash] = RefreshUse(found.session_id, now)
        return found.session_id

    async def find_refresh_token(self, token_hash: bytes) -> RefreshUse | None:
        return self.s.refresh.get(token_hash)

    # signing keys

    async def lock_signing_keys(self) -> None:
        assert self.in_transaction

    async def signing_keys(self) -> list[SigningKey]:
        return list(self.s.keys.values())

    async def insert_signing_key(self, key: SigningKey) -> None:
        self.s.keys[key.kid] = key

    async def delete_signing_keys(self, kids: Sequence[str]) -> None:
        for kid in kids:
            self.s.keys.pop(kid, None)

    # outbox

    async def publish(self, event: Event) -> None:
        assert self.in_transaction, "events are written with the change they report"
        self.s.events.append(event)

    async def send_mail(self, mail: Mail) -> None:
        assert self.in_transaction, "mail is queued with the change it reports"
        self.s.mails.append(mail)

    # housekeeping

    async def delete_links_expired_before(self, moment: datetime) -> int:
        old = [h for h, link in self.s.links.items() if link["expires_at"] < moment]
        for h in old:
            del self.s.links[h]
        return len(old)

    async def delete_sessions_ended_before(self, moment: datetime) -> int:
        old = [
            i
            for i, s in self.s.sessions.items()
            if s.expires_at < moment or (s.revoked_at is not None and s.revoked_at < moment)
        ]
        for i in old:
            del self.s.sessions[i]
        return len(old)

    async def delete_throttles_idle_since(self, moment: datetime) -> int:
        return 0

    async def delete_notices_before(self, moment: datetime) -> int:
        before = len(self.s.notices)
        self.s.notices = [n for n in self.s.notices if n[2] >= moment]
        return before - len(self.s.notices)


class FakeStore:
    """The Store port on one in-memory ``State`` (transactions roll back on exceptions)."""

    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        # Signing keys hold cryptography objects: share them instead of copying.
        keys = self.state.keys
        self.state.keys = {}
        working = copy.deepcopy(self.state)
        working.keys = dict(keys)
        self.state.keys = keys
        yield FakeTransaction(working, in_transaction=True)
        self.state = working

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[FakeTransaction]:
        yield FakeTransaction(self.state, in_transaction=False)

    async def is_session_live(
        self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime
    ) -> bool:
        async with self.connection() as db:
            return await db.is_session_live(session_id, account_id, now)

    async def close(self) -> None:
        pass

    # What tests look at.

    @property
    def mails(self) -> list[Mail]:
        return self.state.mails

    @property
    def events(self) -> list[Event]:
        return self.state.events

    def account(self, email_key: str) -> Account:
        return next(a for a in self.state.accounts.values() if a.email_key == email_key)


def settings(**overrides: Any) -> IdentitySettings:
    base = IdentitySettings(
        common=CommonSettings(public_url=PUBLIC_URL + "/"),
        links=LinkSettings(anonymous_min_duration=0.0),
        throttle=ThrottleSettings(
            account_max_failures=3, ip_free_failures=5, ip_base_delay=2.0, failure_min_duration=0
        ),
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def passwords() -> FakePasswords:
    return FakePasswords()


@pytest.fixture
async def services(
    store: FakeStore, passwords: FakePasswords, clock: FakeClock
) -> IdentityServices:
    built = build_services(store, passwords, settings(), clock)
    await built.start()
    return built


@pytest.fixture
def make_services(store: FakeStore, passwords: FakePasswords, clock: FakeClock):
    """Build the use cases with other settings groups: ``await make_services(throttle=...)``."""

    async def make(**overrides: Any) -> IdentityServices:
        built = build_services(store, passwords, settings(**overrides), clock)
        await built.start()
        return built

    return make
