"""Sessions and their tokens: opening one at sign-in, refreshing, revoking, and checking tokens.

A session is one sign-in on one device, with an absolute expiry. It owns a chain of refresh tokens:
each refresh spends the presented token and issues the next; presenting a spent one again means
it was copied, so the whole session is revoked. Access tokens are short ES256 JWTs naming the
session (``sid``); a token is valid while its signature and claims are and its session is live,
which is what ``validate`` checks against the database on every call (the outcome of a token's
signature check is remembered, see ``kabinet.auth.verified``; its session's never is). Every
revocation publishes ``identity.session.revoked`` so that the gateway refuses the session's
tokens at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from identity.config import TokenSettings
from identity.domain import errors
from identity.domain.events import RevocationReason, SessionRevoked
from identity.domain.model import (
    Account,
    AccountStatus,
    Client,
    Session,
    SignedIn,
    ValidatedToken,
)
from identity.domain.ports import Clock, Store, Transaction
from identity.domain.secrets import hash_token, is_well_formed_refresh_token, new_refresh_token
from identity.domain.signing import MAX_TOKEN_TTL, SigningKeyManager
from kabinet.auth.tokens import (
    TOKEN_INVALID,
    AccessClaims,
    InvalidToken,
    Reason,
    issue_access_token,
    verify_access_token,
)
from kabinet.auth.verified import VerifiedTokens

log = logging.getLogger(__name__)

MAX_USER_AGENT = 512
ROLES_CLAIM = "roles"
# A token signed by a key this replica has not loaded yet makes it re-read the keys, at most
# this often (a replica that was just rotated elsewhere catches up at once).
KEY_RELOAD_MIN_INTERVAL = timedelta(seconds=5)


def _token_invalid() -> errors.DomainError:
    return errors.DomainError(errors.ErrorKind.UNAUTHENTICATED, TOKEN_INVALID)


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


class SessionService:
    """Opens, refreshes, lists and revokes sessions; issues and validates access tokens."""

    def __init__(
        self,
        store: Store,
        keys: SigningKeyManager,
        clock: Clock,
        settings: TokenSettings,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self._store = store
        self._keys = keys
        self._clock = clock
        self._settings = settings
        self.issuer = issuer
        self.audience = audience
        self._access_ttl = timedelta(seconds=settings.access_ttl)
        if not timedelta(0) < self._access_ttl <= MAX_TOKEN_TTL:
            raise ValueError(
                f"KABINET_IDENTITY_ACCESS_TTL must be between 1 and {MAX_TOKEN_TTL.seconds} seconds"
            )
        self._session_ttl = timedelta(seconds=settings.session_ttl)
        self._last_key_reload: datetime | None = None
        self._verified = VerifiedTokens()

    async def open(
        self,
        tx: Transaction,
        account: Account,
        client: Client,
        now: datetime,
        *,
        client_id: str | None = None,
        scopes: Sequence[str] = (),
    ) -> SignedIn | None:
        """Start a session for ``account`` and issue its first tokens; None when the account is
        no longer active or is locked (both are checked by the statement that stores it).
        ``client_id``: the OAuth client the session is granted to (None: the portal)."""
        session = Session(
            id=uuid.uuid4(),
            account_id=account.id,
            kind=client.kind,
            ip=client.ip,
            user_agent=client.user_agent[:MAX_USER_AGENT],
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._session_ttl,
            client_id=client_id,
            scopes=tuple(scopes),
        )
        refresh = new_refresh_token()
        if not await tx.insert_session(session, refresh.token_hash, now):
            return None
        return SignedIn(
            account_id=account.id,
            session_id=session.id,
            access_token=self._access_token(account, session, now),
            refresh_token=refresh.token,
            expires_in=int(self._access_ttl.total_seconds()),
            scopes=session.scopes,
        )

    def _access_token(self, account: Account, session: Session, now: datetime) -> str:
        return issue_access_token(
            self._keys.ring,
            issuer=self.issuer,
            audience=self.audience,
            subject=str(account.id),
            session_id=str(session.id),
            now=now,
            ttl=self._access_ttl,
            client_id=session.client_id,
            scope=session.scopes,
            extra_claims={ROLES_CLAIM: list(account.roles)},
        )

    async def refresh(
        self, refresh_token: str, client: Client, *, client_id: str | None = None
    ) -> SignedIn:
        """Spend ``refresh_token`` and issue the next pair. A spent token presented again
        revokes its session (it was copied); anything else wrong is ``auth.refresh_invalid``.
        The token must belong to a session granted to ``client_id`` (None: a portal session)."""
        if not is_well_formed_refresh_token(refresh_token):
            raise errors.refresh_invalid()
        token_hash = hash_token(refresh_token)
        now = self._clock()
        replayed = False
        async with self._store.transaction() as tx:
            session_id = await tx.spend_refresh_token(token_hash, now)
            if session_id is None:
                found = await tx.find_refresh_token(token_hash)
                if found is not None and found.used_at is not None:
                    replayed = True
                    session = await tx.session_by_id(found.session_id)
                    if session is not None:
                        await self._revoke(
                            tx, session.account_id, session.id, now, RevocationReason.REPLAY
                        )
            else:
                signed = await self._next_tokens(tx, session_id, client, now, client_id)
                if signed is not None:
                    return signed
                # A dead session or account: raising rolls the spending back, which is harmless.
                raise errors.refresh_invalid()
        if replayed:
            log.warning("spent refresh token presented again: session revoked")
        raise errors.refresh_invalid()

    async def _next_tokens(
        self,
        tx: Transaction,
        session_id: uuid.UUID,
        client: Client,
        now: datetime,
        client_id: str | None = None,
    ) -> SignedIn | None:
        session = await tx.session_by_id(session_id)
        if session is None or not session.is_live(now) or session.client_id != client_id:
            return None
        account = await tx.account_by_id(session.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            return None
        refresh = new_refresh_token()
        await tx.insert_refresh_token(refresh.token_hash, session.id, now)
        await tx.touch_session(
            session.id,
            now,
            client.ip or session.ip,
            client.user_agent[:MAX_USER_AGENT] or session.user_agent,
        )
        return SignedIn(
            account_id=account.id,
            session_id=session.id,
            access_token=self._access_token(account, session, now),
            refresh_token=refresh.token,
            expires_in=int(self._access_ttl.total_seconds()),
            scopes=session.scopes,
        )

    async def _revoke(
        self,
        tx: Transaction,
        account_id: uuid.UUID,
        session_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
    ) -> bool:
        if not await tx.revoke_session(session_id, now, reason, account_id=account_id):
            return False
        await tx.publish(SessionRevoked(account_id, session_id, reason, now))
        return True

    async def revoke_all(
        self,
        tx: Transaction,
        account_id: uuid.UUID,
        now: datetime,
        reason: RevocationReason,
        *,
        keep: uuid.UUID | None = None,
    ) -> int:
        """Revoke every live session of the account but ``keep``, inside ``tx``; how many."""
        revoked = await tx.revoke_sessions(account_id, now, reason, keep=keep)
        for session_id in revoked:
            await tx.publish(SessionRevoked(account_id, session_id, reason, now))
        return len(revoked)

    async def sign_out(self, session_id: str) -> None:
        """Revoke the session; an unknown or already revoked one is fine (signing out twice)."""
        parsed = _parse_uuid(session_id)
        if parsed is None:
            return
        now = self._clock()
        async with self._store.transaction() as tx:
            session = await tx.session_by_id(parsed)
            if session is not None:
                await self._revoke(tx, session.account_id, parsed, now, RevocationReason.SIGN_OUT)

    async def live_sessions(self, account_id: str) -> list[Session]:
        """The account's live sessions, most recently used first."""
        parsed = _parse_uuid(account_id)
        if parsed is None:
            return []
        async with self._store.connection() as db:
            return await db.live_sessions(parsed, self._clock())

    async def revoke(self, account_id: str, session_id: str) -> None:
        """Revoke one of the account's own sessions; someone else's is ``session.not_found``."""
        account, session = _parse_uuid(account_id), _parse_uuid(session_id)
        if account is None or session is None:
            raise errors.session_not_found()
        now = self._clock()
        async with self._store.transaction() as tx:
            if not await self._revoke(tx, account, session, now, RevocationReason.REVOKED_BY_OWNER):
                raise errors.session_not_found()

    async def revoke_others(self, account_id: str, keep_session_id: str) -> int:
        """Revoke every session of the account but ``keep_session_id``; how many were."""
        account = _parse_uuid(account_id)
        if account is None:
            return 0
        now = self._clock()
        async with self._store.transaction() as tx:
            return await self.revoke_all(
                tx,
                account,
                now,
                RevocationReason.REVOKED_BY_OWNER,
                keep=_parse_uuid(keep_session_id),
            )

    async def validate(self, token: str) -> ValidatedToken:
        """The claims of a valid access token whose session is live; ``token.invalid`` else."""
        now = self._clock()
        claims = self._verified.get(token, self._keys.ring, now)
        if claims is None:
            claims = await self._verify(token, now)
            self._verified.remember(token, claims)
        account_id, session_id = _parse_uuid(claims.subject), _parse_uuid(claims.session_id)
        if account_id is None or session_id is None:
            raise _token_invalid()
        if not await self._store.is_session_live(session_id, account_id, now):
            raise _token_invalid()
        roles = claims.extra.get(ROLES_CLAIM, [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise _token_invalid()
        return ValidatedToken(
            subject=claims.subject,
            session_id=claims.session_id,
            scope=claims.scope,
            client_id=claims.client_id,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            roles=tuple(roles),
        )

    async def _verify(self, token: str, now: datetime) -> AccessClaims:
        """Signature and claims; a key this replica has not loaded yet makes it re-read them."""
        try:
            return verify_access_token(
                self._keys.ring, token, issuer=self.issuer, audience=self.audience, now=now
            )
        except InvalidToken as refused:
            if refused.reason is not Reason.KID_UNKNOWN or not await self.reload_keys(now):
                raise
        return verify_access_token(
            self._keys.ring, token, issuer=self.issuer, audience=self.audience, now=now
        )

    async def reload_keys(self, now: datetime) -> bool:
        """Re-read the signing keys for a token that names a kid this replica does not know;
        at most once per ``KEY_RELOAD_MIN_INTERVAL`` (False: too soon, nothing was read), so
        tokens with made-up kids cannot turn every call into a database read."""
        if self._last_key_reload is not None and now - self._last_key_reload < (
            KEY_RELOAD_MIN_INTERVAL
        ):
            return False
        self._last_key_reload = now
        await self._keys.reload()
        return True

    async def introspect(self, token: str) -> ValidatedToken | None:
        """Like ``validate``, but None for anything not valid (RFC 7662: no error, inactive)."""
        try:
            return await self.validate(token)
        except errors.DomainError:
            return None

    async def live_ids(self, session_ids: Sequence[str]) -> list[str]:
        """Which of ``session_ids`` are live, in the order given (unknown and malformed: not)."""
        if len(session_ids) > self._settings.max_session_checks:
            raise errors.invalid(errors.TOO_MANY_SESSION_IDS)
        parsed = {value: _parse_uuid(value) for value in session_ids}
        ids = list({p for p in parsed.values() if p is not None})
        if not ids:
            return []
        async with self._store.connection() as db:
            live = set(await db.live_session_ids(ids, self._clock()))
        return [value for value, p in parsed.items() if p is not None and p in live]
