"""A person's own account: password reset and change, email change, profile, deletion.

Operations confirmed by the current password count a wrong one against the account's sign-in
lock (a stolen session must not become a way to guess the password), and a locked account answers
them as if the password were wrong. A password reset works while the account is locked and
unlocks it: the emailed link proves the mailbox.
"""

from __future__ import annotations

import unicodedata
import uuid

from identity.config import LinkSettings
from identity.domain import errors
from identity.domain.countries import is_country_code
from identity.domain.emails import normalise_email
from identity.domain.events import (
    AccountActivated,
    AccountDeleted,
    PasswordChanged,
    PasswordChangeReason,
    RevocationReason,
)
from identity.domain.links import LinkMailer
from identity.domain.model import (
    LANGUAGES,
    Account,
    AccountStatus,
    LinkPurpose,
    Mail,
    Notice,
)
from identity.domain.ports import Clock, Passwords, Store, Transaction
from identity.domain.sessions import SessionService
from identity.domain.signin import SignInService
from identity.domain.timing import at_least

MAX_NAME_LENGTH = 100
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def clean_name(name: str) -> str:
    """The display name trimmed; refuses controls, bidi and zero-width characters, and length."""
    text = unicodedata.normalize("NFC", name.strip())
    if len(text) > MAX_NAME_LENGTH or any(
        unicodedata.category(c) in _FORBIDDEN_NAME_CATEGORIES for c in text
    ):
        raise errors.invalid(errors.NAME_INVALID)
    return text


class AccountService:
    """Self-service operations on one's own account."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        links: LinkMailer,
        sessions: SessionService,
        signin: SignInService,
        clock: Clock,
        settings: LinkSettings,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._links = links
        self._sessions = sessions
        self._signin = signin
        self._clock = clock
        self._settings = settings

    async def get(self, account_id: str) -> Account:
        """The account, or ``account.not_found``."""
        parsed = _parse_uuid(account_id)
        if parsed is not None:
            async with self._store.connection() as db:
                account = await db.account_by_id(parsed)
            if account is not None:
                return account
        raise errors.account_not_found()

    async def _confirm_password(self, account: Account, password: str) -> None:
        """The account's current password, throttled like a sign-in; ``account.wrong_password``
        for a wrong one and for any while the account is locked."""
        if account.password_hash is None:
            raise errors.no_password()
        if self._passwords.is_too_long(password):
            raise errors.wrong_password()
        matches = await self._passwords.verify(account.password_hash, password)
        locked = await self._signin.is_locked(account.id)
        if not matches:
            await self._signin.record_failure(None, None if locked else account)
        if not matches or locked:
            raise errors.wrong_password()

    async def _new_password_hash(self, password: str, account: Account) -> str:
        violations = await self._passwords.check(password, email=account.email)
        if violations:
            raise errors.password_invalid(violations)
        return await self._passwords.hash(password)

    async def forgot_password(self, email: str) -> None:
        """Mail a reset link when the email has an account; the same answer, in about the same
        time, when it has none. Rate-limited per account."""
        address = normalise_email(email)
        async with at_least(self._settings.anonymous_min_duration):
            now = self._clock()
            async with self._store.transaction() as tx:
                account = await tx.account_by_email(address.key)
                if account is not None and account.status is not AccountStatus.DISABLED:
                    await self._links.send_link(tx, account, LinkPurpose.PASSWORD_RESET, now)

    async def reset_password(self, token: str, password: str) -> None:
        """Spend a reset link: set the password, revoke every session, lift any lock."""
        now = self._clock()
        async with self._store.connection() as db:
            link = await self._links.peek(db, token, LinkPurpose.PASSWORD_RESET, now)
            account = await db.account_by_id(link.account_id)
        if account is None:
            raise errors.invalid(errors.PASSWORD_RESET_LINK_INVALID)
        password_hash = await self._new_password_hash(password, account)
        now = self._clock()
        async with self._store.transaction() as tx:
            await self._links.spend(tx, token, LinkPurpose.PASSWORD_RESET, now)
            account = await tx.account_by_id(account.id, for_update=True)
            if account is None or account.status is AccountStatus.DISABLED:
                raise errors.invalid(errors.PASSWORD_RESET_LINK_INVALID)
            await self._store_new_password(tx, account, password_hash, PasswordChangeReason.RESET)
            await tx.retire_links(
                account.id,
                [LinkPurpose.PASSWORD_RESET, LinkPurpose.CREATE_PASSWORD, LinkPurpose.ACTIVATION],
                now,
            )
            await tx.clear_account_throttle(account.id)
            await self._sessions.revoke_all(tx, account.id, now, RevocationReason.RESET)
            # The link proved the mailbox, as an activation link would have.
            if await tx.activate_account(account.id, now):
                await tx.publish(AccountActivated(account.id, account.email, now))

    async def _store_new_password(
        self,
        tx: Transaction,
        account: Account,
        password_hash: str,
        reason: PasswordChangeReason,
    ) -> None:
        now = self._clock()
        await tx.set_password_hash(account.id, password_hash, now)
        await tx.publish(PasswordChanged(account.id, reason, now))
        await tx.send_mail(
            Mail(
                to=account.email,
                template="password_changed",
                language=account.language,
                values=self._links.base_values(account),
            )
        )

    async def change_password(
        self, account_id: str, session_id: str, current: str, new: str
    ) -> None:
        """Replace the password (the current one confirms it); every other session ends."""
        account = await self.get(account_id)
        await self._confirm_password(account, current)
        password_hash = await self._new_password_hash(new, account)
        now = self._clock()
        async with self._store.transaction() as tx:
            locked = await tx.account_by_id(account.id, for_update=True)
            if locked is None:
                raise errors.account_not_found()
            await self._store_new_password(tx, locked, password_hash, PasswordChangeReason.CHANGE)
            await self._sessions.revoke_all(
                tx,
                account.id,
                now,
                RevocationReason.PASSWORD_CHANGE,
                keep=_parse_uuid(session_id),
            )

    async def request_email_change(self, account_id: str, password: str, new_email: str) -> None:
        """Mail a confirmation link to the new address. An address that has an account gets a
        notice instead, and the answer is the same, so that this can't probe for accounts."""
        account = await self.get(account_id)
        address = normalise_email(new_email)
        if address.key == account.email_key:
            raise errors.same_email()
        await self._confirm_password(account, password)
        async with at_least(self._settings.anonymous_min_duration):
            now = self._clock()
            async with self._store.transaction() as tx:
                holder = await tx.account_by_email(address.key)
                if holder is None:
                    await self._links.send_link(
                        tx,
                        account,
                        LinkPurpose.EMAIL_CHANGE,
                        now,
                        to=address.address,
                        new_email=address.address,
                    )
                    return
                await self._links.send_notice(
                    tx,
                    holder,
                    Notice.EMAIL_IN_USE,
                    now,
                    Mail(
                        to=holder.email,
                        template="email_in_use",
                        language=holder.language,
                        values=self._links.base_values(holder),
                    ),
                )

    async def confirm_email_change(self, token: str) -> None:
        """Spend an email change link: the account moves to the new address, the old one is
        told. An address taken in the meantime makes the link invalid."""
        now = self._clock()
        async with self._store.transaction() as tx:
            spent = await self._links.spend(tx, token, LinkPurpose.EMAIL_CHANGE, now)
            account = await tx.account_by_id(spent.account_id, for_update=True)
            if account is None or spent.new_email is None:
                raise errors.invalid(errors.EMAIL_CHANGE_LINK_INVALID)
            new = normalise_email(spent.new_email)
            if not await tx.change_email(account.id, new.address, new.key):
                raise errors.invalid(errors.EMAIL_CHANGE_LINK_INVALID)
            await tx.send_mail(
                Mail(
                    to=account.email,
                    template="email_changed_notice",
                    language=account.language,
                    values=self._links.base_values(account) | {"new_email": new.address},
                )
            )

    async def update_profile(
        self,
        account_id: str,
        *,
        name: str | None = None,
        language: str | None = None,
        country: str | None = None,
    ) -> Account:
        """Set name, language (ru or en) and country (ISO 3166-1 alpha-2, or empty)."""
        parsed = _parse_uuid(account_id)
        if parsed is None:
            raise errors.account_not_found()
        if name is not None:
            name = clean_name(name)
        if language is not None:
            language = language.strip().lower()
            if language not in LANGUAGES:
                raise errors.invalid(errors.LANGUAGE_INVALID)
        if country is not None:
            country = country.strip().upper()
            if country and not is_country_code(country):
                raise errors.invalid(errors.COUNTRY_INVALID)
        async with self._store.transaction() as tx:
            account = await tx.update_profile(parsed, name=name, language=language, country=country)
        if account is None:
            raise errors.account_not_found()
        return account

    async def delete(self, account_id: str, password: str) -> None:
        """Erase the account, confirmed by its password; the other services follow the event."""
        account = await self.get(account_id)
        await self._confirm_password(account, password)
        now = self._clock()
        async with self._store.transaction() as tx:
            if await tx.account_by_id(account.id, for_update=True) is None:
                raise errors.account_not_found()
            await self._sessions.revoke_all(tx, account.id, now, RevocationReason.ACCOUNT_DELETED)
            await tx.publish(AccountDeleted(account.id, now))
            await tx.delete_account(account.id)
