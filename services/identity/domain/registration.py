"""Creating accounts: registration with activation, and accounts made for a purchase.

Registration answers the same whether or not the email has an account: a new email gets an
inactive account and an activation link; a known one gets a notice to its owner instead (or a
fresh activation link when that account is still waiting for activation). Both paths check the
password and hash it, and take at least ``anonymous_min_duration``, so neither the answer nor
its timing tells them apart. Under concurrent registrations of ``A@x`` and ``a@x`` the UNIQUE
email key lets one insert win; the other takes the known-email path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from identity.config import LinkSettings
from identity.domain import errors
from identity.domain.emails import Email, normalise_email, try_normalise_email
from identity.domain.events import (
    AccountActivated,
    AccountCreatedForPurchase,
    AccountRegistered,
    PasswordChanged,
    PasswordChangeReason,
)
from identity.domain.links import LinkMailer
from identity.domain.model import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Account,
    AccountStatus,
    Client,
    LinkPurpose,
    Mail,
    Notice,
    SignedIn,
)
from identity.domain.ports import Clock, Passwords, Store, Transaction
from identity.domain.sessions import SessionService
from identity.domain.timing import at_least
from kabinet.errors import Violation


def pick_language(language: str) -> str:
    """``ru`` or ``en`` from whatever the edge sent (``ru-RU`` is ``ru``); English otherwise."""
    primary = language.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Ensured:
    account_id: uuid.UUID
    created: bool


class RegistrationService:
    """Register, activate, resend activation, and the account-from-a-purchase flow."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        links: LinkMailer,
        sessions: SessionService,
        clock: Clock,
        settings: LinkSettings,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._links = links
        self._sessions = sessions
        self._clock = clock
        self._settings = settings

    async def check_password(self, password: str, email: str = "") -> list[Violation]:
        """Every rule the password breaks (for live feedback); the email is context only."""
        address = try_normalise_email(email) if email else None
        return list(
            await self._passwords.check(password, email=address.address if address else None)
        )

    async def _new_password_hash(self, password: str, email: Email) -> str:
        violations = await self._passwords.check(password, email=email.address)
        if violations:
            raise errors.password_invalid(violations)
        return await self._passwords.hash(password)

    async def register(self, email: str, password: str, language: str, client: Client) -> None:
        """Create an inactive account and mail its activation link; see the module's note."""
        address = normalise_email(email)
        async with at_least(self._settings.anonymous_min_duration):
            password_hash = await self._new_password_hash(password, address)
            now = self._clock()
            account = Account(
                id=uuid.uuid4(),
                email=address.address,
                email_key=address.key,
                status=AccountStatus.PENDING_ACTIVATION,
                password_hash=password_hash,
                language=pick_language(language),
                created_at=now,
            )
            async with self._store.transaction() as tx:
                if await tx.insert_account(account):
                    await self._links.send_link(tx, account, LinkPurpose.ACTIVATION, now)
                    await tx.publish(
                        AccountRegistered(account.id, account.email, account.language, now)
                    )
                    return
                existing = await tx.account_by_email(address.key)
                if existing is not None:
                    await self._tell_owner(tx, existing)

    async def _tell_owner(self, tx: Transaction, account: Account) -> None:
        """Someone registered a known email: help the owner instead of creating anything."""
        now = self._clock()
        if account.status is AccountStatus.PENDING_ACTIVATION and account.has_password:
            await self._links.send_link(tx, account, LinkPurpose.ACTIVATION, now)
            return
        await self._links.send_notice(
            tx,
            account,
            Notice.ALREADY_REGISTERED,
            now,
            Mail(
                to=account.email,
                template="already_registered",
                language=account.language,
                values=self._links.base_values(account),
            ),
        )

    async def activate(self, token: str) -> uuid.UUID:
        """Spend an activation link and activate its account; the account's id."""
        now = self._clock()
        async with self._store.transaction() as tx:
            spent = await self._links.spend(tx, token, LinkPurpose.ACTIVATION, now)
            account = await tx.account_by_id(spent.account_id, for_update=True)
            if account is None:
                raise errors.invalid(errors.ACTIVATION_LINK_INVALID)
            if await tx.activate_account(account.id, now):
                await tx.publish(AccountActivated(account.id, account.email, now))
            return account.id

    async def resend_activation(self, email: str, client: Client) -> None:
        """Mail a fresh activation link (or "create your password" link, for an account made
        for a purchase) to an account still waiting; the same answer for any other email."""
        address = normalise_email(email)
        async with at_least(self._settings.anonymous_min_duration):
            now = self._clock()
            async with self._store.transaction() as tx:
                account = await tx.account_by_email(address.key)
                if account is None or account.status is not AccountStatus.PENDING_ACTIVATION:
                    return
                purpose = (
                    LinkPurpose.ACTIVATION if account.has_password else LinkPurpose.CREATE_PASSWORD
                )
                await self._links.send_link(tx, account, purpose, now)

    async def ensure_account_for_purchase(
        self, email: str, language: str, order_id: str
    ) -> Ensured:
        """The buyer's account, created (without a password, with a "create your password"
        link) when the email has none. Idempotent: a second call finds the account and sends
        nothing while its link is still valid."""
        address = normalise_email(email)
        now = self._clock()
        async with self._store.transaction() as tx:
            account = await tx.account_by_email(address.key)
            if account is None:
                account = Account(
                    id=uuid.uuid4(),
                    email=address.address,
                    email_key=address.key,
                    status=AccountStatus.PENDING_ACTIVATION,
                    password_hash=None,
                    language=pick_language(language),
                    created_at=now,
                )
                if await tx.insert_account(account):
                    await self._links.send_link(tx, account, LinkPurpose.CREATE_PASSWORD, now)
                    await tx.publish(
                        AccountCreatedForPurchase(account.id, account.email, order_id, now)
                    )
                    return Ensured(account.id, created=True)
                # Another call created it meanwhile; its row is visible to the next statement.
                account = await tx.account_by_email(address.key)
                if account is None:  # created and deleted in between: let the caller retry
                    raise errors.DomainError(errors.ErrorKind.UNAVAILABLE, "service.unavailable")
            if account.status is AccountStatus.PENDING_ACTIVATION:
                purpose = (
                    LinkPurpose.ACTIVATION if account.has_password else LinkPurpose.CREATE_PASSWORD
                )
                if not await tx.has_live_link(account.id, purpose, now):
                    await self._links.send_link(tx, account, purpose, now)
            return Ensured(account.id, created=False)

    async def set_initial_password(self, token: str, password: str, client: Client) -> SignedIn:
        """Spend a "create your password" link: set the password, activate, sign in."""
        now = self._clock()
        async with self._store.connection() as db:
            link = await self._links.peek(db, token, LinkPurpose.CREATE_PASSWORD, now)
            account = await db.account_by_id(link.account_id)
        if account is None:
            raise errors.invalid(errors.PASSWORD_SETUP_LINK_INVALID)
        # The policy first, so that a refused password leaves the link usable.
        password_hash = await self._new_password_hash(
            password, Email(account.email, account.email_key)
        )
        now = self._clock()
        async with self._store.transaction() as tx:
            await self._links.spend(tx, token, LinkPurpose.CREATE_PASSWORD, now)
            account = await tx.account_by_id(account.id, for_update=True)
            if account is None or account.status is AccountStatus.DISABLED:
                raise errors.invalid(errors.PASSWORD_SETUP_LINK_INVALID)
            await tx.set_password_hash(account.id, password_hash, now)
            await tx.retire_links(
                account.id, [LinkPurpose.CREATE_PASSWORD, LinkPurpose.ACTIVATION], now
            )
            await tx.clear_account_throttle(account.id)
            if await tx.activate_account(account.id, now):
                await tx.publish(AccountActivated(account.id, account.email, now))
            await tx.publish(PasswordChanged(account.id, PasswordChangeReason.INITIAL, now))
            activated = await tx.account_by_id(account.id)
            assert activated is not None
            signed = await self._sessions.open(tx, activated, client, now)
            # Just activated and unlocked in this transaction: it can't be refused.
            assert signed is not None
            return signed
