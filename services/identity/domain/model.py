"""What identity keeps: accounts, links, sessions, throttling state, and what it sends out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"


class AccountStatus(StrEnum):
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    DISABLED = "disabled"


class ClientKind(StrEnum):
    BROWSER = "browser"
    APP = "app"
    UNKNOWN = "unknown"


class LinkPurpose(StrEnum):
    """What a single-use link may do; a link of one purpose never works for another."""

    ACTIVATION = "activation"
    CREATE_PASSWORD = "create_password"  # noqa: S105 (a purpose, not a secret)
    PASSWORD_RESET = "password_reset"  # noqa: S105
    EMAIL_CHANGE = "email_change"


class Notice(StrEnum):
    """Mails sent without a link, counted per account to rate-limit them."""

    ALREADY_REGISTERED = "already_registered"
    EMAIL_IN_USE = "email_in_use"


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    email_key: str
    status: AccountStatus
    password_hash: str | None = field(repr=False)
    language: str
    created_at: datetime
    name: str = ""
    country: str = ""
    roles: tuple[str, ...] = ()

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None


@dataclass(frozen=True)
class Client:
    """Who is calling, as the edge saw it: for throttling and the sessions list."""

    ip: str = ""
    user_agent: str = ""
    kind: ClientKind = ClientKind.UNKNOWN


@dataclass(frozen=True)
class Link:
    """A single-use link as stored: only the token's hash is kept."""

    token_hash: bytes = field(repr=False)
    account_id: uuid.UUID
    purpose: LinkPurpose
    created_at: datetime
    expires_at: datetime
    new_email: str | None = None


@dataclass(frozen=True)
class SpentLink:
    """What spending a link gives back: whose it was and, for an email change, the new address."""

    account_id: uuid.UUID
    new_email: str | None = None


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    account_id: uuid.UUID
    kind: ClientKind
    ip: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    # The OAuth client the session was granted to (None: a portal session) and its scopes.
    client_id: str | None = None
    scopes: tuple[str, ...] = ()

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class RefreshUse:
    """A refresh token found by its hash: its session, and when it was spent (None: never)."""

    session_id: uuid.UUID
    used_at: datetime | None


@dataclass(frozen=True)
class AccountThrottle:
    """Failed sign-ins of one account in the current window, and its lock if any."""

    failures: int
    window_started_at: datetime
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class ClientThrottle:
    """Failed sign-ins from one client address in the current window, and until when it waits."""

    failures: int
    window_started_at: datetime
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class SignInState:
    """What a sign-in reads before checking the password, in one go."""

    account: Account | None
    account_throttle: AccountThrottle | None
    client_throttle: ClientThrottle | None


@dataclass(frozen=True)
class Mail:
    """A message to queue with the change that causes it (rendered by the store's templates)."""

    to: str
    template: str
    language: str
    values: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SignedIn:
    """The result of every sign-in path: the session and its two tokens."""

    account_id: uuid.UUID
    session_id: uuid.UUID
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    # The scopes of a session granted to an OAuth client (a portal session has none).
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidatedToken:
    """A valid access token of a live session."""

    subject: str
    session_id: str
    scope: tuple[str, ...]
    client_id: str | None
    issued_at: int
    expires_at: int
    roles: tuple[str, ...]
