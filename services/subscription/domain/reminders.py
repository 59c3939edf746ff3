"""Reminder mail for every subscription's owner, wherever the subscription came from.

The scheduler records a reminder (``reminders_sent``) and its ``subscription.subscription.expiring``
event in its pass; the mail is resolved afterwards, outside that transaction: the owner's address
and language are asked from identity (``GetAccount``, with a deadline), never read from identity's
tables, and the mail is queued in a transaction that marks the reminder mailed with a conditional
update, so two replicas mailing at once still queue one message. Identity unreachable: the
reminder stays unmailed and the next pass tries again. A reminder that is no longer true when it
is resolved (renewed, stopped, ended, or a nearer reminder recorded since) is closed without mail.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

REMINDER_DAYS = (1, 7, 30)


def due_days(left: timedelta) -> int | None:
    """The nearest reminder due with ``left`` until the end (None: none, or the end has passed)."""
    if left <= timedelta(0):
        return None
    return next((d for d in REMINDER_DAYS if left <= timedelta(days=d)), None)


@dataclass(frozen=True)
class Contact:
    """Where the owner's mail goes, in which language."""

    email: str
    language: str


class AccountsUnavailableError(Exception):
    """Identity could not answer in time; the caller tries again later."""


class Accounts(Protocol):
    async def contacts(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Contact | None]:
        """Each account's address and language (None: no such account, deleted). Raises
        ``AccountsUnavailableError`` when identity does not answer in time."""
        ...


class MailOutcome(StrEnum):
    SENT = "sent"
    # The owner's account is gone: nobody to write to.
    NO_ACCOUNT = "no_account"
    # Renewed, stopped or overtaken by a nearer reminder before it could be mailed.
    STALE = "stale"


@dataclass(frozen=True)
class PendingReminder:
    """A recorded reminder whose mail is not resolved yet, with its subscription's state now."""

    subscription_id: uuid.UUID
    account_id: uuid.UUID
    ends_at: datetime
    days_before: int
    # The subscription is still active and still ends at ``ends_at``.
    current: bool
    # A nearer reminder of the same end has been recorded since.
    overtaken: bool

    def still_due(self, now: datetime) -> bool:
        """Worth mailing: decided by what is recorded (not by how much time is left, so a
        replica whose clock differs a little agrees), and never once the end has passed."""
        return self.current and not self.overtaken and now < self.ends_at
