"""Social sign-in and linking: identity as the relying party of Google, Apple, Facebook, Yandex
ID and VK ID.

A flow starts with two fresh secrets: ``state`` (sent to the provider and back) and ``binding``
(kept by the browser in an HttpOnly cookie, never sent to the provider). Only their SHA-256 digests
are stored, with the provider, the purpose, the return path and an expiry; completing a flow
spends it once, and only with both secrets, for the provider it was started for (one redirect URI
per provider: a code from one provider never completes another's flow). The PKCE verifier and the
OpenID nonce are derived from the binding and the state (HMAC-SHA256), so nothing that could
redeem a code is stored, and a stolen callback URL (code and state) is useless without the cookie.

Identities are keyed by (provider, subject). An email only ever *offers* linking: a new subject
whose vouched email belongs to an existing account is told to sign in with the password and set
up quick sign-in (``social.link_required``); linking for a signed-in person needs the provider to
vouch for an email equal to the account's. Every sign-in obeys the account's lock and status (the
session is stored only for an active, unlocked account, in the same statement).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from identity.domain import errors
from identity.domain.account import clean_name
from identity.domain.emails import try_normalise_email
from identity.domain.events import (
    AccountActivated,
    AccountRegistered,
    IdentityLinked,
    IdentityUnlinked,
)
from identity.domain.model import Account, AccountStatus, Client, SignedIn
from identity.domain.ports import Clock, Transaction
from identity.domain.regions import PROVIDERS, RegionDecision, RegionPolicy
from identity.domain.secrets import hash_token
from identity.domain.sessions import SessionService, _parse_uuid
from kabinet.errors import DomainError, ErrorKind
from kabinet.messages import pick_language

log = logging.getLogger(__name__)

MAX_RETURN_TO = 2048  # an OpenID authorization request (state, nonce, PKCE) comes back too
MAX_NAME = 100

PROVIDER_UNKNOWN = "social.provider_unknown"
PROVIDER_NOT_OFFERED = "social.provider_not_offered"
RETURN_TO_INVALID = "social.return_to_invalid"
STATE_INVALID = "social.state_invalid"
CANCELLED = "social.cancelled"
PROVIDER_FAILED = "social.provider_failed"
PROVIDER_UNAVAILABLE = "social.provider_unavailable"
ID_TOKEN_INVALID = "social.id_token_invalid"  # noqa: S105 (an error code)
EMAIL_UNVERIFIED = "social.email_unverified"
LINK_REQUIRED = "social.link_required"
EMAIL_MISMATCH = "social.email_mismatch"
IDENTITY_IN_USE = "social.identity_in_use"
PROVIDER_ALREADY_LINKED = "social.provider_already_linked"
IDENTITY_NOT_FOUND = "social.identity_not_found"
LAST_SIGN_IN_METHOD = "social.last_sign_in_method"

CODES = (
    PROVIDER_UNKNOWN,
    PROVIDER_NOT_OFFERED,
    RETURN_TO_INVALID,
    STATE_INVALID,
    CANCELLED,
    PROVIDER_FAILED,
    PROVIDER_UNAVAILABLE,
    ID_TOKEN_INVALID,
    EMAIL_UNVERIFIED,
    LINK_REQUIRED,
    EMAIL_MISMATCH,
    IDENTITY_IN_USE,
    PROVIDER_ALREADY_LINKED,
    IDENTITY_NOT_FOUND,
    LAST_SIGN_IN_METHOD,
)

_KINDS = {
    PROVIDER_UNKNOWN: ErrorKind.NOT_FOUND,
    PROVIDER_NOT_OFFERED: ErrorKind.PERMISSION_DENIED,
    RETURN_TO_INVALID: ErrorKind.INVALID_ARGUMENT,
    STATE_INVALID: ErrorKind.UNAUTHENTICATED,
    CANCELLED: ErrorKind.UNAUTHENTICATED,
    PROVIDER_FAILED: ErrorKind.UNAUTHENTICATED,
    PROVIDER_UNAVAILABLE: ErrorKind.UNAVAILABLE,
    ID_TOKEN_INVALID: ErrorKind.UNAUTHENTICATED,
    EMAIL_UNVERIFIED: ErrorKind.FAILED_PRECONDITION,
    LINK_REQUIRED: ErrorKind.FAILED_PRECONDITION,
    EMAIL_MISMATCH: ErrorKind.FAILED_PRECONDITION,
    IDENTITY_IN_USE: ErrorKind.ALREADY_EXISTS,
    PROVIDER_ALREADY_LINKED: ErrorKind.ALREADY_EXISTS,
    IDENTITY_NOT_FOUND: ErrorKind.NOT_FOUND,
    LAST_SIGN_IN_METHOD: ErrorKind.FAILED_PRECONDITION,
}


def social_error(code: str, **params: str) -> DomainError:
    return DomainError(_KINDS[code], code, params=params)


class Purpose(StrEnum):
    SIGN_IN = "sign_in"
    LINK = "link"


class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    ACCOUNT_CREATED = "account_created"
    LINKED = "linked"


@dataclass(frozen=True)
class Flow:
    """A started flow as stored: digests of its two secrets, never the secrets."""

    state_hash: bytes = field(repr=False)
    binding_hash: bytes = field(repr=False)
    provider: str
    purpose: Purpose
    account_id: uuid.UUID | None
    return_to: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AuthorizationRequest:
    """What an adapter puts in the authorization URL (and needs again to redeem the code)."""

    state: str
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str

    @property
    def code_challenge(self) -> str:
        """S256 of the verifier (RFC 7636)."""
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Callback:
    """What came back to the redirect URI."""

    code: str = field(repr=False)
    device_id: str = ""
    user_json: str = ""


@dataclass(frozen=True)
class ExternalProfile:
    """Who the provider says the person is; ``email_verified`` is the provider's vouching as this
    adapter decides it (see docs/design-notes.md)."""

    subject: str
    email: str
    email_verified: bool
    name: str = ""


class ProviderError(Exception):
    """A provider refused, failed, or answered something we must not believe. ``code`` is one of
    ``PROVIDER_FAILED``, ``PROVIDER_UNAVAILABLE``, ``ID_TOKEN_INVALID``; ``reason`` is for logs
    (never a token or a secret)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Provider(Protocol):
    """One provider's protocol (``identity.social``)."""

    name: str

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        """Where to send the browser."""
        ...

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        """Exchange the code for tokens and read (and check) who signed in."""
        ...


@dataclass(frozen=True)
class LinkedIdentity:
    provider: str
    subject: str
    account_id: uuid.UUID
    email: str
    linked_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Started:
    authorization_url: str
    binding: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True)
class Completed:
    outcome: Outcome
    account_id: uuid.UUID
    return_to: str
    signed_in: SignedIn | None = None


@dataclass(frozen=True)
class StartRequest:
    provider: str
    purpose: Purpose
    account_id: str = ""
    return_to: str = ""
    region_hint: str = ""


@dataclass(frozen=True)
class CompleteRequest:
    provider: str
    state: str = field(repr=False)
    binding: str = field(repr=False)
    callback: Callback
    error: str = ""
    region_hint: str = ""
    language: str = ""


class FederationTransaction(Transaction, Protocol):
    """Identity's transaction plus what social sign-in stores."""

    async def insert_social_flow(self, flow: Flow) -> None: ...

    async def spend_social_flow(
        self, state_hash: bytes, binding_hash: bytes, provider: str, now: datetime
    ) -> Flow | None:
        """Mark the unspent, unexpired flow with both digests and this provider spent; None
        when there is none. Two concurrent calls: exactly one gets the flow."""
        ...

    async def identity_by_subject(self, provider: str, subject: str) -> LinkedIdentity | None: ...

    async def identities_of(self, account_id: uuid.UUID) -> list[LinkedIdentity]: ...

    async def insert_identity(self, identity: LinkedIdentity) -> bool:
        """Link; False (nothing written) when the (provider, subject) or the account's provider
        is taken."""
        ...

    async def touch_identity(self, provider: str, subject: str, now: datetime) -> None: ...

    async def delete_identity(self, account_id: uuid.UUID, provider: str) -> bool: ...

    async def delete_social_flows_expired_before(self, moment: datetime) -> int: ...


class FederationStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[FederationTransaction]: ...

    def connection(self) -> AbstractAsyncContextManager[FederationTransaction]: ...


def derive(binding: str, label: str, state: str) -> str:
    """A value only the holder of the binding can compute (PKCE verifier, nonce): 43 base64url
    characters of HMAC-SHA256(binding, label:state)."""
    mac = hmac.new(binding.encode(), f"{label}:{state}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def check_return_to(value: str) -> str:
    """A same-origin absolute path, or ``social.return_to_invalid``; "" means "/"."""
    if not value:
        return "/"
    if (
        len(value) > MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or "\\" in value
        or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    ):
        raise social_error(RETURN_TO_INVALID)
    return value


class FederationService:
    """Starts and completes social flows; lists and removes linked sign-ins."""

    def __init__(
        self,
        store: FederationStore,
        providers: Mapping[str, Provider],
        regions: RegionPolicy,
        sessions: SessionService,
        clock: Clock,
        *,
        public_url: str,
        flow_ttl: int,
    ) -> None:
        self._store = store
        self._providers = dict(providers)
        self._regions = regions
        self._sessions = sessions
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._flow_ttl = timedelta(seconds=flow_ttl)

    def redirect_uri(self, provider: str) -> str:
        """The one redirect URI of ``provider`` (mix-up defence: one per provider)."""
        return f"{self._public_url}/api/v1/auth/social/{provider}/callback"

    async def offered(self, region_hint: str, account_id: str = "") -> RegionDecision:
        """The providers the caller may use, logged with the region's source."""
        country = await self._account_country(_parse_uuid(account_id))
        decision = self._regions.decide(region_hint, country)
        self._log_decision("list", "", decision)
        return decision

    async def _account_country(self, account_id: uuid.UUID | None) -> str:
        if account_id is None:
            return ""
        async with self._store.connection() as db:
            account = await db.account_by_id(account_id)
        return account.country if account is not None else ""

    def _log_decision(self, action: str, provider: str, decision: RegionDecision) -> None:
        log.info(
            "social provider region decision",
            extra={
                "action": action,
                "provider": provider,
                "region": decision.region or "*",
                "region_source": decision.source.value,
                "offered": ",".join(decision.offered),
                "allowed": provider in decision.offered if provider else None,
            },
        )

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name) if name in PROVIDERS else None
        if provider is None:
            raise social_error(PROVIDER_UNKNOWN)
        return provider

    def _check_offered(self, action: str, provider: str, decision: RegionDecision) -> None:
        self._log_decision(action, provider, decision)
        if not decision.offers(provider):
            raise social_error(PROVIDER_NOT_OFFERED)

    async def start(self, request: StartRequest) -> Started:
        """Record a flow and answer where to send the browser, with the binding secret."""
        provider = self._provider(request.provider)
        return_to = check_return_to(request.return_to)
        account: Account | None = None
        if request.purpose is Purpose.LINK:
            account = await self._active_account(_parse_uuid(request.account_id))
        decision = self._regions.decide(request.region_hint, account.country if account else "")
        self._check_offered(f"start:{request.purpose.value}", provider.name, decision)
        state, binding = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        flow = Flow(
            state_hash=hash_token(state),
            binding_hash=hash_token(binding),
            provider=provider.name,
            purpose=request.purpose,
            account_id=account.id if account else None,
            return_to=return_to,
            created_at=now,
            expires_at=now + self._flow_ttl,
        )
        try:
            url = await provider.authorization_url(
                self._authorization(provider.name, state, binding)
            )
        except ProviderError as failed:  # e.g. Google's discovery document unreachable
            self._log_refusal(provider.name, failed)
            raise social_error(failed.code) from None
        async with self._store.connection() as db:
            await db.insert_social_flow(flow)
        return Started(url, binding, int(self._flow_ttl.total_seconds()))

    @staticmethod
    def _log_refusal(provider: str, failed: ProviderError) -> None:
        log.warning(
            "social sign-in refused by checks",
            extra={"provider": provider, "code": failed.code, "reason": failed.reason},
        )

    def _authorization(self, provider: str, state: str, binding: str) -> AuthorizationRequest:
        return AuthorizationRequest(
            state=state,
            nonce=derive(binding, "nonce", state),
            code_verifier=derive(binding, "pkce", state),
            redirect_uri=self.redirect_uri(provider),
        )

    async def _active_account(self, account_id: uuid.UUID | None) -> Account:
        account = None
        if account_id is not None:
            async with self._store.connection() as db:
                account = await db.account_by_id(account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise errors.DomainError(errors.ErrorKind.NOT_FOUND, errors.ACCOUNT_NOT_FOUND)
        return account

    async def complete(self, request: CompleteRequest, client: Client) -> Completed:
        """Spend the flow, redeem the code, and sign in, create the account, or link."""
        provider = self._provider(request.provider)
        if not request.state or not request.binding:
            raise social_error(STATE_INVALID)
        now = self._clock()
        async with self._store.connection() as db:
            flow = await db.spend_social_flow(
                hash_token(request.state), hash_token(request.binding), provider.name, now
            )
        if flow is None:
            log.info("social flow refused: state", extra={"provider": provider.name})
            raise social_error(STATE_INVALID)
        if request.error or not request.callback.code:
            raise social_error(CANCELLED)
        account_country = ""
        if flow.account_id is not None:
            account_country = await self._account_country(flow.account_id)
        decision = self._regions.decide(request.region_hint, account_country)
        self._check_offered(f"complete:{flow.purpose.value}", provider.name, decision)
        auth = self._authorization(provider.name, request.state, request.binding)
        try:
            profile = await provider.redeem(request.callback, auth)
        except ProviderError as failed:
            self._log_refusal(provider.name, failed)
            raise social_error(failed.code) from None
        if flow.purpose is Purpose.LINK:
            assert flow.account_id is not None  # a link flow is always started for an account
            await self._link(flow.account_id, provider.name, profile)
            return Completed(Outcome.LINKED, flow.account_id, flow.return_to)
        return await self._sign_in(provider.name, profile, flow, client, request)

    async def _sign_in(
        self,
        provider: str,
        profile: ExternalProfile,
        flow: Flow,
        client: Client,
        request: CompleteRequest,
    ) -> Completed:
        for _ in range(2):  # a second round only when a concurrent first sign-in won the race
            now = self._clock()
            try:
                async with self._store.transaction() as tx:
                    known = await tx.identity_by_subject(provider, profile.subject)
                    if known is not None:
                        account = await tx.account_by_id(known.account_id)
                        if account is not None and account.country:
                            # Now that the account is known, its country stands in for a
                            # region the edge did not tell.
                            decision = self._regions.decide(request.region_hint, account.country)
                            self._check_offered("complete:sign_in", provider, decision)
                        signed = await self._open(tx, account, client, now)
                        await tx.touch_identity(provider, profile.subject, now)
                        return Completed(
                            Outcome.SIGNED_IN, signed.account_id, flow.return_to, signed
                        )
                    created = await self._create(
                        tx, provider, profile, client, request.language, now
                    )
                    return Completed(
                        Outcome.ACCOUNT_CREATED, created.account_id, flow.return_to, created
                    )
            except _LostRace:
                continue
        raise social_error(STATE_INVALID)  # pragma: no cover - needs two lost races in a row

    async def _open(
        self, tx: FederationTransaction, account: Account | None, client: Client, now: datetime
    ) -> SignedIn:
        """A session for the account, unless it is locked, disabled or not active (the same
        generic answer as a password sign-in then)."""
        if account is None:
            raise errors.invalid_credentials()
        signed = await self._sessions.open(tx, account, client, now)
        if signed is None:
            log.info("social sign-in refused: account locked or not active")
            raise errors.invalid_credentials()
        return signed

    async def _create(
        self,
        tx: FederationTransaction,
        provider: str,
        profile: ExternalProfile,
        client: Client,
        language: str,
        now: datetime,
    ) -> SignedIn:
        """A new active account for a vouched, unused email, linked and signed in (``_LostRace``
        when a concurrent sign-in linked this subject first)."""
        address = try_normalise_email(profile.email) if profile.email else None
        if address is None or not profile.email_verified:
            raise social_error(EMAIL_UNVERIFIED)
        if await tx.account_by_email(address.key) is not None:
            raise social_error(LINK_REQUIRED)
        account = Account(
            id=uuid.uuid4(),
            email=address.address,
            email_key=address.key,
            status=AccountStatus.ACTIVE,
            password_hash=None,
            language=pick_language(None, language),
            created_at=now,
            name=_provider_name(profile.name),
        )
        if not await tx.insert_account(account):
            raise social_error(LINK_REQUIRED)  # the email was taken meanwhile
        identity = LinkedIdentity(provider, profile.subject, account.id, account.email, now, now)
        if not await tx.insert_identity(identity):
            raise _LostRace()
        await tx.publish(AccountRegistered(account.id, account.email, account.language, now))
        await tx.publish(AccountActivated(account.id, account.email, now))
        await tx.publish(IdentityLinked(account.id, provider, now))
        return await self._open(tx, account, client, now)

    async def _link(self, account_id: uuid.UUID, provider: str, profile: ExternalProfile) -> None:
        now = self._clock()
        async with self._store.transaction() as tx:
            account = await tx.account_by_id(account_id, for_update=True)
            if account is None or account.status is not AccountStatus.ACTIVE:
                raise errors.DomainError(errors.ErrorKind.NOT_FOUND, errors.ACCOUNT_NOT_FOUND)
            known = await tx.identity_by_subject(provider, profile.subject)
            if known is not None:
                if known.account_id == account.id:
                    return  # linked already: linking again changes nothing
                raise social_error(IDENTITY_IN_USE)
            address = try_normalise_email(profile.email) if profile.email else None
            if address is None or not profile.email_verified:
                raise social_error(EMAIL_UNVERIFIED)
            if address.key != account.email_key:
                raise social_error(EMAIL_MISMATCH)
            identity = LinkedIdentity(provider, profile.subject, account.id, address.address, now)
            if not await tx.insert_identity(identity):
                raise social_error(PROVIDER_ALREADY_LINKED)
            await tx.publish(IdentityLinked(account.id, provider, now))
        log.info("social identity linked", extra={"provider": provider, "account": str(account_id)})

    async def linked(self, account_id: str) -> list[LinkedIdentity]:
        """The account's linked social sign-ins."""
        parsed = _parse_uuid(account_id)
        if parsed is None:
            return []
        async with self._store.connection() as db:
            return await db.identities_of(parsed)

    async def unlink(self, account_id: str, provider: str) -> None:
        """Remove the account's link to ``provider``, unless it is the last way to sign in."""
        parsed = _parse_uuid(account_id)
        if parsed is None:
            raise social_error(IDENTITY_NOT_FOUND)
        now = self._clock()
        async with self._store.transaction() as tx:
            account = await tx.account_by_id(parsed, for_update=True)  # serialises unlinks
            identities = await tx.identities_of(parsed) if account is not None else []
            if account is None or provider not in {i.provider for i in identities}:
                raise social_error(IDENTITY_NOT_FOUND)
            if not account.has_password and len(identities) <= 1:
                raise social_error(LAST_SIGN_IN_METHOD)
            await tx.delete_identity(parsed, provider)
            await tx.publish(IdentityUnlinked(parsed, provider, now))
        log.info("social identity unlinked", extra={"provider": provider, "account": account_id})

    async def purge(self, before: datetime) -> int:
        """Delete flows that expired before ``before``."""
        async with self._store.connection() as db:
            return await db.delete_social_flows_expired_before(before)


def _provider_name(name: str) -> str:
    """The provider's display name if it is one we would accept from the person; else none
    (a provider's odd name must not stop the sign-in)."""
    try:
        return clean_name(name[: MAX_NAME * 2])
    except DomainError:
        return ""


class _LostRace(Exception):
    """A concurrent first sign-in of the same subject linked it first (rolls back)."""
