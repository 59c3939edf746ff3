"""What the use cases need from the outside, as small protocols (the store implements them with
asyncpg, the unit tests with dictionaries).

Every method of a ``Transaction`` runs inside one PostgreSQL transaction: the state change, the
event and the mail it causes commit together or not at all. Times are passed in by the use case
(its clock), so that every rule is testable without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from identity.domain.events import Event, RevocationReason
from identity.domain.model import (
    Account,
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
from kabinet.auth.keys import SigningKey
from kabinet.errors import Violation

Clock = Callable[[], datetime]


class Accounts(Protocol):
    async def account_by_email(self, email_key: str) -> Account | None:
        """The account whose normalised email key is ``email_key``."""
        ...

    async def account_by_id(
        self, account_id: uuid.UUID, *, for_update: bool = False
    ) -> Account | None:
        """The account with this id; ``for_update`` locks its row until the transaction ends."""
        ...

    async def insert_account(self, account: Account) -> bool:
        """Create the account; False (and nothing written) when its email key is taken."""
        ...

    async def activate_account(self, account_id: uuid.UUID, now: datetime) -> bool:
        """Move a pending account to active; False when it was not pending."""
        ...

    async def set_password_hash(
        self, account_id: uuid.UUID, password_hash: str, now: datetime
    ) -> None: ...

    async def change_email(self, account_id: uuid.UUID, email: str, email_key: str) -> bool:
        """Move the account to a new address; False when another account has it."""
        ...

    async def update_profile(
        self,
        account_id: uuid.UUID,
        *,
        name: str | None,
        language: str | None,
        country: str | None,
    ) -> Account | None:
        """Set the given fields (None: unchanged); the account after, or None when unknown."""
        ...

    async def delete_account(self, account_id: uuid.UUID) -> None:
        """Erase the account with everything hanging off it (links, sessions, throttling)."""
        ...


class Links(Protocol):
    async def insert_link(self, link: Link) -> None: ...

    async def spend_link(
        self, token_hash: bytes, purpose: LinkPurpose, now: datetime
    ) -> SpentLink | None:
        """Mark an unused, unexpired link of ``purpose`` used; None when there is none. Two
        concurrent calls with one token: exactly one gets the link."""
        ...

    async def find_live_link(
        self, token_hash: bytes, purpose: LinkPurpose, now: datetime
    ) -> SpentLink | None:
        """The unused, unexpired link of ``purpose`` with this hash, without spending it."""
        ...

    async def retire_links(
        self, account_id: uuid.UUID, purposes: Sequence[LinkPurpose], now: datetime
    ) -> None:
        """Make every unused link of these purposes unusable (a newer one replaces them)."""
        ...

    async def count_links_since(
        self, account_id: uuid.UUID, purpose: LinkPurpose, since: datetime
    ) -> int: ...

    async def has_live_link(
        self, account_id: uuid.UUID, purpose: LinkPurpose, now: datetime
    ) -> bool: ...


class Notices(Protocol):
    async def count_notices_since(
        self, account_id: uuid.UUID, notice: Notice, since: datetime
    ) -> int: ...

    async def record_notice(self, account_id: uuid.UUID, notice: Notice, now: datetime) -> None: ...


class Throttles(Protocol):
    async def sign_in_state(self, email_key: str | None, client_key: str) -> SignInState:
        """The account with this email key (if any), its throttling state and the client
        address's, read together."""
        ...

    async def account_with_throttle(
        self, account_id: uuid.UUID
    ) -> tuple[Account | None, AccountThrottle | None]:
        """The account and its throttling state, read together."""
        ...

    async def account_throttle(self, account_id: uuid.UUID) -> AccountThrottle | None: ...

    async def lock_account_throttle(self, account_id: uuid.UUID, now: datetime) -> AccountThrottle:
        """The account's throttling row, created empty if missing, locked until commit (so that
        concurrent failures count one by one)."""
        ...

    async def save_account_throttle(
        self, account_id: uuid.UUID, state: AccountThrottle
    ) -> None: ...

    async def clear_account_throttle(self, account_id: uuid.UUID) -> None: ...

    async def client_throttle(self, client_key: str) -> ClientThrottle | None: ...

    async def lock_client_throttle(self, client_key: str, now: datetime) -> ClientThrottle:
        """Like ``lock_account_throttle``, for one client address."""
        ...

    async def save_client_throttle(self, client_key: str, state: ClientThrottle) -> None: ...


class Sessions(Protocol):
    async def insert_session(
        self, session: Session, refresh_token_hash: bytes, now: datetime
    ) -> bool:
        """Store a new session with its first refresh token, in one statement, provided its
        account is active and not locked at ``now``; False (nothing stored) otherwise."""
        ...

    async def session_by_id(self, session_id: uuid.UUID) -> Session | None: ...

    async def touch_session(
        self, session_id: uuid.UUID, now: datetime, ip: str, user_agent: str
    ) -> None:
        """Record that the session was used now, from this address and agent."""
        ...

    async def revoke_session(
        self,
        session_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        account_id: uuid.UUID | None = None,
    ) -> bool:
        """Revoke one live session (of ``account_id`` when given); False when there was none."""
        ...

    async def revoke_sessions(
        self,
        account_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Revoke every live session of the account except ``keep``; the ids revoked."""
        ...

    async def live_sessions(self, account_id: uuid.UUID, now: datetime) -> list[Session]:
        """The account's live sessions, most recently used first."""
        ...

    async def live_session_ids(
        self, session_ids: Sequence[uuid.UUID], now: datetime
    ) -> list[uuid.UUID]: ...

    async def is_session_live(
        self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime
    ) -> bool: ...

    async def insert_refresh_token(
        self, token_hash: bytes, session_id: uuid.UUID, now: datetime
    ) -> None: ...

    async def spend_refresh_token(self, token_hash: bytes, now: datetime) -> uuid.UUID | None:
        """Mark an unspent refresh token spent; its session id, or None when there was none."""
        ...

    async def find_refresh_token(self, token_hash: bytes) -> RefreshUse | None: ...


class SigningKeys(Protocol):
    async def lock_signing_keys(self) -> None:
        """Serialise key creation across replicas until the transaction ends."""
        ...

    async def signing_keys(self) -> list[SigningKey]: ...

    async def insert_signing_key(self, key: SigningKey) -> None: ...

    async def delete_signing_keys(self, kids: Sequence[str]) -> None: ...


class Outbox(Protocol):
    async def publish(self, event: Event) -> None:
        """Queue the event with the transaction's change."""
        ...

    async def send_mail(self, mail: Mail) -> None:
        """Queue the mail with the transaction's change."""
        ...


class Housekeeping(Protocol):
    async def delete_links_expired_before(self, moment: datetime) -> int: ...

    async def delete_sessions_ended_before(self, moment: datetime) -> int: ...

    async def delete_throttles_idle_since(self, moment: datetime) -> int: ...

    async def delete_notices_before(self, moment: datetime) -> int: ...


class Transaction(
    Accounts, Links, Notices, Throttles, Sessions, SigningKeys, Outbox, Housekeeping, Protocol
):
    """Everything the use cases may do inside one database transaction."""


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A unit of work: commits when the block ends normally, rolls back on an exception."""
        ...

    def connection(self) -> AbstractAsyncContextManager[Transaction]:
        """A connection outside any transaction: each statement commits on its own (reads, and
        writes that stand alone)."""
        ...

    async def is_session_live(
        self, session_id: uuid.UUID, account_id: uuid.UUID, now: datetime
    ) -> bool:
        """Whether the session of an access token is live: the hottest read, which the store
        may answer for many concurrent callers with one query."""
        ...

    async def close(self) -> None:
        """Release what the store holds beyond single calls."""
        ...


class Passwords(Protocol):
    """The password policy and the argon2id hasher (which works off the event loop)."""

    async def check(self, password: str, *, email: str | None) -> Sequence[Violation]:
        """Every rule a new password breaks (empty: accepted)."""
        ...

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for callers with no account to check against."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""
        ...

    def is_too_long(self, password: str) -> bool:
        """Whether the password is over the length limit (refused before any hashing)."""
        ...
