"""Single-use emailed links: making, mailing, checking and spending them, and rate-limited notices.

A link is ``<public origin>/<page>?token=<token>``: the origin comes from configuration, never
from a request. The token is 256 random bits; only its SHA-256 is stored, with the account, the
purpose and an expiry. Issuing a link retires the unused ones of the same purpose, so only the
newest works. Each account gets at most ``per_account_limit`` links of a purpose (and notices of a
kind) per window; past that the request is dropped quietly, since answering differently would
tell whether the email has an account.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from identity.config import LinkSettings
from identity.domain import errors
from identity.domain.model import Account, Link, LinkPurpose, Mail, Notice, SpentLink
from identity.domain.ports import Transaction
from identity.domain.secrets import hash_token, is_well_formed_link_token, new_link_token

PAGES = {
    LinkPurpose.ACTIVATION: "activate",
    LinkPurpose.CREATE_PASSWORD: "create-password",
    LinkPurpose.PASSWORD_RESET: "reset-password",
    LinkPurpose.EMAIL_CHANGE: "confirm-email",
}
TEMPLATES = {
    LinkPurpose.ACTIVATION: "activation",
    LinkPurpose.CREATE_PASSWORD: "create_password",
    LinkPurpose.PASSWORD_RESET: "password_reset",
    LinkPurpose.EMAIL_CHANGE: "email_change_confirm",
}
INVALID = {
    LinkPurpose.ACTIVATION: errors.ACTIVATION_LINK_INVALID,
    LinkPurpose.CREATE_PASSWORD: errors.PASSWORD_SETUP_LINK_INVALID,
    LinkPurpose.PASSWORD_RESET: errors.PASSWORD_RESET_LINK_INVALID,
    LinkPurpose.EMAIL_CHANGE: errors.EMAIL_CHANGE_LINK_INVALID,
}


class LinkMailer:
    """Issues links and notices inside the caller's transaction, and checks tokens."""

    def __init__(self, settings: LinkSettings, public_url: str) -> None:
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        self._ttl = {
            LinkPurpose.ACTIVATION: timedelta(seconds=settings.activation_ttl),
            LinkPurpose.CREATE_PASSWORD: timedelta(seconds=settings.create_password_ttl),
            LinkPurpose.PASSWORD_RESET: timedelta(seconds=settings.reset_ttl),
            LinkPurpose.EMAIL_CHANGE: timedelta(seconds=settings.email_change_ttl),
        }
        self._window = timedelta(seconds=settings.per_account_window)

    def url(self, purpose: LinkPurpose, token: str) -> str:
        """The address of the page that spends a link of ``purpose``."""
        return f"{self.public_url}/{PAGES[purpose]}?token={token}"

    def base_values(self, account: Account) -> dict[str, str]:
        """Values every identity mail may use."""
        return {"email": account.email, "portal": self.public_url}

    async def send_link(
        self,
        tx: Transaction,
        account: Account,
        purpose: LinkPurpose,
        now: datetime,
        *,
        to: str | None = None,
        new_email: str | None = None,
    ) -> bool:
        """Retire older links of ``purpose``, store a new one and queue its mail (to ``to``, else
        the account's address). False, and nothing done, when the account had its share."""
        since = now - self._window
        if (
            await tx.count_links_since(account.id, purpose, since)
            >= self.settings.per_account_limit
        ):
            return False
        ttl = self._ttl[purpose]
        await tx.retire_links(account.id, [purpose], now)
        secret = new_link_token()
        await tx.insert_link(
            Link(
                token_hash=secret.token_hash,
                account_id=account.id,
                purpose=purpose,
                created_at=now,
                expires_at=now + ttl,
                new_email=new_email,
            )
        )
        values = self.base_values(account) | {
            "link": self.url(purpose, secret.token),
            "hours": str(max(1, math.ceil(ttl.total_seconds() / 3600))),
        }
        if new_email is not None:
            values["new_email"] = new_email
        await tx.send_mail(
            Mail(
                to=to or account.email,
                template=TEMPLATES[purpose],
                language=account.language,
                values=values,
            )
        )
        return True

    async def send_notice(
        self, tx: Transaction, account: Account, notice: Notice, now: datetime, mail: Mail
    ) -> bool:
        """Queue ``mail`` unless the account had its share of ``notice`` in the window."""
        since = now - self._window
        if (
            await tx.count_notices_since(account.id, notice, since)
            >= self.settings.per_account_limit
        ):
            return False
        await tx.record_notice(account.id, notice, now)
        await tx.send_mail(mail)
        return True

    @staticmethod
    def token_hash(token: str, purpose: LinkPurpose) -> bytes:
        """The stored hash of a well-formed token; the purpose's one error for anything else."""
        if not is_well_formed_link_token(token):
            raise errors.invalid(INVALID[purpose])
        return hash_token(token)

    async def peek(
        self, tx: Transaction, token: str, purpose: LinkPurpose, now: datetime
    ) -> SpentLink:
        """The live link behind ``token`` without spending it (to check a password first)."""
        found = await tx.find_live_link(self.token_hash(token, purpose), purpose, now)
        if found is None:
            raise errors.invalid(INVALID[purpose])
        return found

    async def spend(
        self, tx: Transaction, token: str, purpose: LinkPurpose, now: datetime
    ) -> SpentLink:
        """Spend the link behind ``token``: works once, even for two calls at the same time."""
        spent = await tx.spend_link(self.token_hash(token, purpose), purpose, now)
        if spent is None:
            raise errors.invalid(INVALID[purpose])
        return spent
