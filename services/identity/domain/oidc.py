"""Kabinet as OpenID provider: the client registry and the protocol rules of each endpoint.

The gateway only translates HTTP to these calls; every rule lives here:

- redirect URIs match exactly (no prefix, no case change); http only for loopback addresses;
- only ``response_type=code``; PKCE with S256 is required for public clients, ``plain`` is
  refused, and a verifier without a challenge (a downgrade) is refused;
- an authorization code is single use, short-lived (at most ten minutes) and bound to its client,
  redirect URI and PKCE challenge; presenting it again revokes the session its exchange opened;
- a grant opens a session of its own, bound to the client (``Session.client_id``), so refresh
  tokens rotate with the session machinery and work only for that client;
- client_credentials is for confidential clients only; its tokens name the client as ``sub``
  and belong to no session;
- the password grant and the implicit and hybrid response types are refused.

Client secrets are 256 random bits made here and stored as SHA-256 (like every token: a fast
digest is right for a secret nobody can guess); a seed file may name a secret by its digest.
Failures carry ``oauth.<error>`` codes, which the gateway turns into RFC 6749 answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any, Protocol
from urllib.parse import urlsplit

from identity.domain.events import RevocationReason, SessionRevoked
from identity.domain.model import Account, AccountStatus, Client, SignedIn
from identity.domain.ports import Clock, Transaction
from identity.domain.secrets import constant_time_equal, hash_token, is_well_formed_refresh_token
from identity.domain.sessions import SessionService
from identity.domain.signing import SigningKeyManager
from kabinet.auth.tokens import (
    TOKEN_INVALID,
    issue_access_token,
    issue_id_token,
    verify_access_token,
    verify_id_token,
)
from kabinet.errors import DomainError, ErrorKind

log = logging.getLogger(__name__)

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 (a grant type)
CLIENT_CREDENTIALS = "client_credentials"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = frozenset({AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS, DEVICE_CODE})
# Claim that marks a client_credentials access token (it names a client, not a person).
GRANT_CLAIM = "gty"
MAX_CODE_TTL = timedelta(minutes=10)
ID_TOKEN_HINT_LEEWAY = timedelta(days=1)

# The codes raised here; their messages: kabinet.catalog.oidc.
CLIENT_UNKNOWN = "oidc.client_unknown"
REDIRECT_URI_MISMATCH = "oidc.redirect_uri_mismatch"
CLIENT_INVALID = "oidc.client_invalid"
CONSENT_REQUIRED = "oidc.consent_required"
CODES = (CLIENT_UNKNOWN, REDIRECT_URI_MISMATCH, CLIENT_INVALID, CONSENT_REQUIRED)
OAUTH_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "invalid_scope",
    "access_denied",
    "authorization_pending",
    "slow_down",
    "expired_token",
)

_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{3,64}")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}")
_PKCE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")
_LOOPBACK_NAMES = frozenset({"localhost"})
MAX_NONCE = 256
MAX_STATE = 512


def oauth_error(error: str, kind: ErrorKind = ErrorKind.INVALID_ARGUMENT) -> DomainError:
    """A failure the gateway answers as the RFC 6749 ``error`` named ``error``."""
    return DomainError(kind, f"oauth.{error}")


def _invalid_client() -> DomainError:
    return oauth_error("invalid_client", ErrorKind.UNAUTHENTICATED)


@dataclass(frozen=True)
class OAuthClient:
    """A registered client. ``secret_hash`` None: a public client."""

    client_id: str
    name: str
    secret_hash: bytes | None = field(default=None, repr=False)
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    first_party: bool = False
    post_logout_redirect_uris: tuple[str, ...] = ()
    disabled: bool = False

    @property
    def confidential(self) -> bool:
        return self.secret_hash is not None


@dataclass(frozen=True)
class AuthorizationCode:
    """An issued code as stored (only the code's hash is kept)."""

    code_hash: bytes = field(repr=False)
    client_id: str
    account_id: uuid.UUID
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    auth_time: datetime
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class AuthorizationParams:
    client_id: str
    redirect_uri: str
    response_type: str
    scope: str = ""
    state: str = ""
    nonce: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""


@dataclass(frozen=True)
class AuthorizationCheck:
    """What the authorization endpoint shows: an error (and where it may go) or the consent."""

    client_name: str = ""
    scopes: tuple[str, ...] = ()
    consent_required: bool = False
    redirect_allowed: bool = False
    error: str = ""
    error_code: str = ""


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(default="", repr=False)
    id_token: str = field(default="", repr=False)
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndSession:
    confirmed: bool
    redirect_uri: str = ""
    client_name: str = ""


class OidcTransaction(Transaction, Protocol):
    """The identity transaction plus what the provider keeps."""

    async def client_by_id(self, client_id: str) -> OAuthClient | None: ...

    async def upsert_client(self, client: OAuthClient, now: datetime, *, keep_secret: bool) -> None:
        """Insert or replace a client; ``keep_secret`` leaves a stored secret as it is."""
        ...

    async def insert_client(self, client: OAuthClient, now: datetime) -> bool:
        """Insert a new client; False when the id is taken."""
        ...

    async def list_clients(self) -> list[OAuthClient]: ...

    async def disable_client(self, client_id: str, now: datetime) -> bool: ...

    async def lock_clients(self) -> None:
        """Serialise seeding between replicas starting together."""
        ...

    async def consented_scopes(self, account_id: uuid.UUID, client_id: str) -> tuple[str, ...]: ...

    async def add_consent(
        self, account_id: uuid.UUID, client_id: str, scopes: Sequence[str], now: datetime
    ) -> None: ...

    async def insert_code(self, code: AuthorizationCode) -> None: ...

    async def spend_code(self, code_hash: bytes, now: datetime) -> AuthorizationCode | None:
        """Mark an unspent, unexpired code used; the code, or None when there was none."""
        ...

    async def find_code(self, code_hash: bytes) -> AuthorizationCode | None: ...

    async def set_code_session(self, code_hash: bytes, session_id: uuid.UUID) -> None: ...

    async def delete_grants_expired_before(self, moment: datetime) -> int:
        """Forget codes and device grants that expired before ``moment``; how many."""
        ...


class OidcStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[OidcTransaction]: ...

    def connection(self) -> AbstractAsyncContextManager[OidcTransaction]: ...


def new_client_secret() -> tuple[str, bytes]:
    """A client secret (256 bits, base64url) and the digest to store."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_token(secret)


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str) -> None:
    """An absolute https URI without a fragment, or http on a loopback address (native apps)."""
    parts = urlsplit(uri)
    bad = (
        not parts.netloc
        or parts.fragment
        or "#" in uri
        or len(uri) > 512
        or any(c.isspace() for c in uri)
        or parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not is_loopback(parts.hostname or ""))
    )
    if bad:
        raise DomainError(
            ErrorKind.INVALID_ARGUMENT, CLIENT_INVALID, params={"field": "redirect_uris"}
        )


def validate_client(client: OAuthClient) -> OAuthClient:
    """The client as registered, or ``oidc.client_invalid`` naming the bad field."""

    def bad(name: str) -> DomainError:
        return DomainError(ErrorKind.INVALID_ARGUMENT, CLIENT_INVALID, params={"field": name})

    if not _CLIENT_ID.fullmatch(client.client_id):
        raise bad("client_id")
    if not 1 <= len(client.name.strip()) <= 100:
        raise bad("name")
    for uri in (*client.redirect_uris, *client.post_logout_redirect_uris):
        check_redirect_uri(uri)
    if not set(client.grant_types) <= GRANT_TYPES or not client.grant_types:
        raise bad("grant_types")
    if CLIENT_CREDENTIALS in client.grant_types and not client.confidential:
        raise bad("grant_types")
    if AUTHORIZATION_CODE in client.grant_types and not client.redirect_uris:
        raise bad("redirect_uris")
    if not all(_SCOPE.fullmatch(s) for s in client.scopes):
        raise bad("scopes")
    return replace(
        client,
        name=client.name.strip(),
        grant_types=tuple(dict.fromkeys(client.grant_types)),
        scopes=tuple(dict.fromkeys(client.scopes)),
    )


def parse_scope(scope: str) -> tuple[str, ...]:
    words = tuple(dict.fromkeys(scope.split()))
    if not all(_SCOPE.fullmatch(s) for s in words):
        raise oauth_error("invalid_scope")
    return words


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def load_seed(text: str) -> list[OAuthClient]:
    """The clients of a seed file (JSON: ``{"clients": [...]}``); a bad entry names itself."""
    document = json.loads(text)
    entries = document.get("clients") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('the clients seed must be an object with a "clients" list')
    clients = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"clients[{index}] is not an object")
        digest = entry.get("secret_sha256")
        try:
            client = validate_client(
                OAuthClient(
                    client_id=str(entry["client_id"]),
                    name=str(entry.get("name", entry["client_id"])),
                    secret_hash=bytes.fromhex(digest) if digest else None,
                    redirect_uris=tuple(entry.get("redirect_uris", ())),
                    grant_types=tuple(entry.get("grant_types", ())),
                    scopes=tuple(entry.get("scopes", ())),
                    first_party=bool(entry.get("first_party", False)),
                    post_logout_redirect_uris=tuple(entry.get("post_logout_redirect_uris", ())),
                    disabled=bool(entry.get("disabled", False)),
                )
            )
        except (KeyError, ValueError, DomainError) as err:
            raise ValueError(f"clients[{index}] is invalid: {err!r}") from err
        if client.secret_hash is not None and len(client.secret_hash) != 32:
            raise ValueError(f"clients[{index}].secret_sha256 must be 64 hex digits")
        clients.append(client)
    return clients


class ClientRegistry:
    """The operators' registry of OAuth clients."""

    def __init__(self, store: OidcStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def seed(self, clients: Iterable[OAuthClient]) -> None:
        """Upsert the seed file's clients (idempotent; a secret set by an operator is kept when
        the file names none)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.lock_clients()
            for client in clients:
                await tx.upsert_client(client, now, keep_secret=client.secret_hash is None)

    async def register(self, client: OAuthClient, confidential: bool) -> tuple[OAuthClient, str]:
        """Add a client; a confidential one gets a new secret (returned once)."""
        secret, digest = new_client_secret() if confidential else ("", None)
        client = validate_client(replace(client, secret_hash=digest, disabled=False))
        async with self._store.transaction() as tx:
            if not await tx.insert_client(client, self._clock()):
                raise DomainError(
                    ErrorKind.ALREADY_EXISTS, CLIENT_INVALID, params={"field": "client_id"}
                )
        return client, secret

    async def update(self, client: OAuthClient) -> OAuthClient:
        """Replace a client's settings; its secret (or being public) stays."""
        async with self._store.transaction() as tx:
            current = await tx.client_by_id(client.client_id)
            if current is None:
                raise DomainError(ErrorKind.NOT_FOUND, CLIENT_UNKNOWN)
            updated = validate_client(replace(client, secret_hash=current.secret_hash))
            await tx.upsert_client(updated, self._clock(), keep_secret=True)
        return updated

    async def list(self) -> list[OAuthClient]:
        async with self._store.connection() as db:
            return await db.list_clients()

    async def disable(self, client_id: str) -> None:
        async with self._store.transaction() as tx:
            if not await tx.disable_client(client_id, self._clock()):
                raise DomainError(ErrorKind.NOT_FOUND, CLIENT_UNKNOWN)


async def authenticate_client(
    tx: OidcTransaction, client_id: str, client_secret: str, *, require_secret: bool = False
) -> OAuthClient:
    """The calling client: a confidential one must prove its secret, a public one must send none.
    Anything wrong is ``oauth.invalid_client``."""
    client = await tx.client_by_id(client_id) if _CLIENT_ID.fullmatch(client_id) else None
    if client is None or client.disabled:
        raise _invalid_client()
    if client.secret_hash is None:
        if client_secret or require_secret:
            raise _invalid_client()
        return client
    if not _SECRET.fullmatch(client_secret) or not constant_time_equal(
        hash_token(client_secret), client.secret_hash
    ):
        raise _invalid_client()
    return client


class OpenIdProvider:
    """Authorization, token, userinfo, revocation, introspection and end-session rules."""

    def __init__(
        self,
        store: OidcStore,
        sessions: SessionService,
        keys: SigningKeyManager,
        clock: Clock,
        *,
        code_ttl: int,
        access_ttl: int,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._keys = keys
        self._clock = clock
        self._code_ttl = timedelta(seconds=code_ttl)
        if not timedelta(0) < self._code_ttl <= MAX_CODE_TTL:
            raise ValueError("KABINET_IDENTITY_CODE_TTL must be between 1 and 600 seconds")
        self._access_ttl = timedelta(seconds=access_ttl)
        self.issuer = sessions.issuer
        self.audience = sessions.audience

    async def purge(self, retention: timedelta) -> int:
        """Delete codes and device grants expired longer than ``retention`` ago."""
        async with self._store.transaction() as tx:
            return await tx.delete_grants_expired_before(self._clock() - retention)

    # authorization endpoint

    async def check_authorization(
        self, params: AuthorizationParams, account_id: str
    ) -> AuthorizationCheck:
        """Validate a request; an error either may go back to the client (``redirect_allowed``)
        or must be shown (unknown client, wrong redirect URI)."""
        async with self._store.connection() as db:
            client = await db.client_by_id(params.client_id)
            if client is None or client.disabled:
                return AuthorizationCheck(error="invalid_request", error_code=CLIENT_UNKNOWN)
            if params.redirect_uri not in client.redirect_uris:
                return AuthorizationCheck(
                    client_name=client.name,
                    error="invalid_request",
                    error_code=REDIRECT_URI_MISMATCH,
                )
            try:
                scopes = self._check_params(client, params)
            except DomainError as err:
                return AuthorizationCheck(
                    client_name=client.name,
                    redirect_allowed=True,
                    error=err.code.removeprefix("oauth."),
                    error_code=err.code,
                )
            consent = False
            account = _parse_uuid(account_id)
            if account is not None and not client.first_party:
                granted = set(await db.consented_scopes(account, client.client_id))
                consent = not set(scopes) <= granted
        return AuthorizationCheck(
            client_name=client.name,
            scopes=scopes,
            consent_required=consent,
            redirect_allowed=True,
        )

    def _check_params(self, client: OAuthClient, params: AuthorizationParams) -> tuple[str, ...]:
        if params.response_type != "code":
            raise oauth_error("unsupported_response_type")
        if AUTHORIZATION_CODE not in client.grant_types:
            raise oauth_error("unauthorized_client")
        scopes = parse_scope(params.scope)
        if not set(scopes) <= set(client.scopes):
            raise oauth_error("invalid_scope")
        if len(params.nonce) > MAX_NONCE or len(params.state) > MAX_STATE:
            raise oauth_error("invalid_request")
        if params.code_challenge or params.code_challenge_method:
            if params.code_challenge_method != "S256":
                raise oauth_error("invalid_request")  # plain (or none) is refused
            if not _CHALLENGE.fullmatch(params.code_challenge):
                raise oauth_error("invalid_request")
        elif not client.confidential:
            raise oauth_error("invalid_request")  # public clients must use PKCE
        return scopes

    async def issue_code(
        self, params: AuthorizationParams, account_id: str, session_id: str, consent_given: bool
    ) -> str:
        """A code for the signed-in account; records consent when the person just gave it."""
        account_uuid, session_uuid = _parse_uuid(account_id), _parse_uuid(session_id)
        if account_uuid is None or session_uuid is None:
            raise oauth_error("access_denied", ErrorKind.UNAUTHENTICATED)
        now = self._clock()
        code = secrets.token_urlsafe(32)
        async with self._store.transaction() as tx:
            client = await tx.client_by_id(params.client_id)
            if client is None or client.disabled:
                raise DomainError(ErrorKind.INVALID_ARGUMENT, CLIENT_UNKNOWN)
            if params.redirect_uri not in client.redirect_uris:
                raise DomainError(ErrorKind.INVALID_ARGUMENT, REDIRECT_URI_MISMATCH)
            scopes = self._check_params(client, params)
            session = await tx.session_by_id(session_uuid)
            if session is None or session.account_id != account_uuid or not session.is_live(now):
                raise oauth_error("access_denied", ErrorKind.UNAUTHENTICATED)
            if not client.first_party:
                granted = set(await tx.consented_scopes(account_uuid, client.client_id))
                if not set(scopes) <= granted:
                    if not consent_given:
                        raise DomainError(ErrorKind.FAILED_PRECONDITION, CONSENT_REQUIRED)
                    await tx.add_consent(
                        account_uuid, client.client_id, sorted(granted | set(scopes)), now
                    )
            await tx.insert_code(
                AuthorizationCode(
                    code_hash=hash_token(code),
                    client_id=client.client_id,
                    account_id=account_uuid,
                    redirect_uri=params.redirect_uri,
                    scopes=scopes,
                    nonce=params.nonce or None,
                    code_challenge=params.code_challenge or None,
                    auth_time=session.created_at,
                    created_at=now,
                    expires_at=now + self._code_ttl,
                )
            )
        return code

    # token endpoint

    async def token(
        self,
        grant_type: str,
        client_id: str,
        client_secret: str,
        *,
        code: str = "",
        redirect_uri: str = "",
        code_verifier: str = "",
        refresh_token: str = "",
        scope: str = "",
        client: Client | None = None,
    ) -> Tokens:
        """The token endpoint for authorization_code, refresh_token and client_credentials."""
        if grant_type not in GRANT_TYPES or grant_type == DEVICE_CODE:
            raise oauth_error("unsupported_grant_type")
        async with self._store.connection() as db:
            oauth_client = await authenticate_client(db, client_id, client_secret)
        if grant_type not in oauth_client.grant_types:
            raise oauth_error("unauthorized_client")
        caller = client or Client()
        if grant_type == AUTHORIZATION_CODE:
            return await self._exchange_code(
                oauth_client, code, redirect_uri, code_verifier, caller
            )
        if grant_type == REFRESH_TOKEN:
            return await self._refresh(oauth_client, refresh_token, caller)
        return self.client_credentials(oauth_client, scope)

    async def _exchange_code(
        self, client: OAuthClient, code: str, redirect_uri: str, verifier: str, caller: Client
    ) -> Tokens:
        if not _SECRET.fullmatch(code):
            raise oauth_error("invalid_grant")
        code_hash = hash_token(code)
        now = self._clock()
        reused: AuthorizationCode | None = None
        async with self._store.transaction() as tx:
            issued = await tx.spend_code(code_hash, now)
            if issued is None:
                reused = await tx.find_code(code_hash)
                if reused is not None and reused.used_at is not None and reused.session_id:
                    await self._revoke(tx, reused.session_id, now, RevocationReason.CODE_REUSED)
            else:
                self._check_binding(issued, client, redirect_uri, verifier)
                account = await tx.account_by_id(issued.account_id)
                if account is None or account.status is not AccountStatus.ACTIVE:
                    raise oauth_error("invalid_grant")
                signed = await self._sessions.open(
                    tx, account, caller, now, client_id=client.client_id, scopes=issued.scopes
                )
                if signed is None:
                    raise oauth_error("invalid_grant")
                await tx.set_code_session(code_hash, signed.session_id)
                id_token = ""
                if "openid" in issued.scopes:
                    id_token = self._id_token(account, client, issued, signed, now)
                return Tokens(
                    access_token=signed.access_token,
                    expires_in=signed.expires_in,
                    refresh_token=(
                        signed.refresh_token if REFRESH_TOKEN in client.grant_types else ""
                    ),
                    id_token=id_token,
                    scope=issued.scopes,
                )
        if reused is not None and reused.used_at is not None:
            log.warning("authorization code presented again: its session revoked")
        raise oauth_error("invalid_grant")

    @staticmethod
    def _check_binding(
        code: AuthorizationCode, client: OAuthClient, redirect_uri: str, verifier: str
    ) -> None:
        if code.client_id != client.client_id or code.redirect_uri != redirect_uri:
            raise oauth_error("invalid_grant")
        if code.code_challenge is None:
            if verifier:
                raise oauth_error("invalid_grant")  # a verifier for a code without PKCE
            return
        if not _PKCE.fullmatch(verifier) or not constant_time_equal(
            s256(verifier), code.code_challenge
        ):
            raise oauth_error("invalid_grant")

    def _id_token(
        self,
        account: Account,
        client: OAuthClient,
        code: AuthorizationCode,
        signed: SignedIn,
        now: datetime,
    ) -> str:
        extra: dict[str, Any] = {"sid": str(signed.session_id)}
        if "email" in code.scopes:
            extra["email"] = account.email
            extra["email_verified"] = True
        if "profile" in code.scopes:
            extra["name"] = account.name
            extra["locale"] = account.language
        return issue_id_token(
            self._keys.ring,
            issuer=self.issuer,
            audience=client.client_id,
            subject=str(account.id),
            now=now,
            auth_time=code.auth_time,
            nonce=code.nonce,
            azp=client.client_id,
            ttl=self._access_ttl,
            extra_claims=extra,
        )

    async def _refresh(self, client: OAuthClient, refresh_token: str, caller: Client) -> Tokens:
        try:
            signed = await self._sessions.refresh(refresh_token, caller, client_id=client.client_id)
        except DomainError as err:
            if err.kind is ErrorKind.UNAUTHENTICATED:
                raise oauth_error("invalid_grant") from None
            raise
        return Tokens(
            access_token=signed.access_token,
            expires_in=signed.expires_in,
            refresh_token=signed.refresh_token,
            scope=signed.scopes,
        )

    def client_credentials(self, client: OAuthClient, scope: str) -> Tokens:
        """A token naming the client itself, with the asked scopes (all it may have if none)."""
        if not client.confidential:
            raise oauth_error("unauthorized_client")
        wanted = parse_scope(scope) or client.scopes
        if not set(wanted) <= set(client.scopes):
            raise oauth_error("invalid_scope")
        token = issue_access_token(
            self._keys.ring,
            issuer=self.issuer,
            audience=self.audience,
            subject=client.client_id,
            # No session: a random id, so that revocation lists and logs can still name it.
            session_id=str(uuid.uuid4()),
            now=self._clock(),
            scope=wanted,
            ttl=self._access_ttl,
            client_id=client.client_id,
            extra_claims={GRANT_CLAIM: CLIENT_CREDENTIALS},
        )
        return Tokens(
            access_token=token, expires_in=int(self._access_ttl.total_seconds()), scope=wanted
        )

    async def _revoke(
        self, tx: OidcTransaction, session_id: uuid.UUID, now: datetime, reason: RevocationReason
    ) -> None:
        session = await tx.session_by_id(session_id)
        if session is None:
            return
        if await tx.revoke_session(session_id, now, reason, account_id=session.account_id):
            await tx.publish(SessionRevoked(session.account_id, session_id, reason, now))

    # userinfo, revocation, introspection

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The claims of the token's account that its scopes allow (a portal token: all)."""
        token = await self._sessions.validate(access_token)
        account_id = _parse_uuid(token.subject)
        async with self._store.connection() as db:
            account = await db.account_by_id(account_id) if account_id else None
        if account is None:
            raise DomainError(ErrorKind.UNAUTHENTICATED, TOKEN_INVALID)
        scopes = set(token.scope) if token.client_id else {"email", "profile"}
        claims: dict[str, Any] = {"sub": str(account.id)}
        if "email" in scopes:
            claims["email"] = account.email
            claims["email_verified"] = True
        if "profile" in scopes:
            claims["name"] = account.name
            claims["locale"] = account.language
        return claims

    async def revoke(self, token: str, client_id: str, client_secret: str) -> None:
        """RFC 7009: revoke the session behind a refresh or access token of this client; unknown
        tokens and other clients' tokens are ignored (the answer is the same)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            client = await authenticate_client(tx, client_id, client_secret)
            session_id = await self._session_of(tx, token, now)
            if session_id is None:
                return
            session = await tx.session_by_id(session_id)
            if session is None or session.client_id != client.client_id:
                return
            await self._revoke(tx, session_id, now, RevocationReason.REVOKED_BY_CLIENT)

    async def _session_of(self, tx: OidcTransaction, token: str, now: datetime) -> uuid.UUID | None:
        if is_well_formed_refresh_token(token):
            found = await tx.find_refresh_token(hash_token(token))
            return None if found is None else found.session_id
        try:
            claims = verify_access_token(
                self._keys.ring, token, issuer=self.issuer, audience=self.audience, now=now
            )
        except DomainError:
            return None
        return _parse_uuid(claims.session_id)

    async def introspect(self, token: str, client_id: str, client_secret: str) -> dict[str, Any]:
        """RFC 7662 for confidential clients: ``{"active": false}`` for anything not valid."""
        now = self._clock()
        async with self._store.connection() as db:
            await authenticate_client(db, client_id, client_secret, require_secret=True)
            if is_well_formed_refresh_token(token):
                found = await db.find_refresh_token(hash_token(token))
                session = await db.session_by_id(found.session_id) if found else None
                if found is None or found.used_at is not None or session is None:
                    return {"active": False}
                if not session.is_live(now):
                    return {"active": False}
                answer: dict[str, Any] = {
                    "active": True,
                    "token_type": "refresh_token",
                    "sub": str(session.account_id),
                    "exp": int(session.expires_at.timestamp()),
                }
                if session.client_id:
                    answer["client_id"] = session.client_id
                if session.scopes:
                    answer["scope"] = " ".join(session.scopes)
                return answer
            try:
                claims = verify_access_token(
                    self._keys.ring, token, issuer=self.issuer, audience=self.audience, now=now
                )
            except DomainError:
                return {"active": False}
            if claims.extra.get(GRANT_CLAIM) == CLIENT_CREDENTIALS:
                owner = await db.client_by_id(claims.subject)
                if owner is None or owner.disabled:
                    return {"active": False}
            else:
                account, sid = _parse_uuid(claims.subject), _parse_uuid(claims.session_id)
                if account is None or sid is None:
                    return {"active": False}
                if not await db.is_session_live(sid, account, now):
                    return {"active": False}
        answer = {
            "active": True,
            "token_type": "access_token",
            "sub": claims.subject,
            "iss": claims.issuer,
            "aud": list(claims.audience),
            "exp": claims.expires_at,
            "iat": claims.issued_at,
            "jti": claims.token_id,
        }
        if claims.scope:
            answer["scope"] = " ".join(claims.scope)
        if claims.client_id:
            answer["client_id"] = claims.client_id
        return answer

    # end session

    async def end_session(
        self, id_token_hint: str, post_logout_redirect_uri: str, client_id: str
    ) -> EndSession:
        """With a valid ``id_token_hint``: end the client's session, and allow the redirect when
        it is one the client registered. Without one: nothing happens, the person must confirm."""
        now = self._clock()
        audience = client_id or _unverified_audience(id_token_hint)
        if not id_token_hint or not audience:
            return EndSession(confirmed=False)
        try:
            claims = verify_id_token(
                self._keys.ring,
                id_token_hint,
                issuer=self.issuer,
                audience=audience,
                now=now,
                leeway=ID_TOKEN_HINT_LEEWAY,
            )
        except DomainError:
            return EndSession(confirmed=False)
        async with self._store.transaction() as tx:
            client = await tx.client_by_id(audience)
            if client is None:
                return EndSession(confirmed=False)
            sid = _parse_uuid(str(claims.extra.get("sid", "")))
            if sid is not None:
                session = await tx.session_by_id(sid)
                if session is not None and str(session.account_id) == claims.subject:
                    await self._revoke(tx, sid, now, RevocationReason.SIGN_OUT)
        redirect = (
            post_logout_redirect_uri
            if post_logout_redirect_uri in client.post_logout_redirect_uris
            else ""
        )
        return EndSession(confirmed=True, redirect_uri=redirect, client_name=client.name)


def _unverified_audience(token: str) -> str:
    """The ``aud`` an ID token claims, read before verification only to pick the audience to
    verify it against (the signature check that follows decides)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    aud = claims.get("aud") if isinstance(claims, dict) else None
    return aud if isinstance(aud, str) else ""
