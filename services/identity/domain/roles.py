"""Roles: operators grant and revoke them; access tokens carry them.

An account's roles live on its row (``accounts.roles``); a session's access token names the roles
the account had when the token was issued, so a change reaches the account's tokens at its next
sign-in or refresh (both read the account again). Only the roles in ``ASSIGNABLE_ROLES`` can be
given. Each change that changes something publishes ``identity.account.roles_changed`` in its
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from identity.domain import errors
from identity.domain.emails import normalise_email
from kabinet.errors import DomainError, ErrorKind

SUPPORT_AGENT = "support_agent"
OPERATOR = "operator"
ASSIGNABLE_ROLES = frozenset({SUPPORT_AGENT, OPERATOR})

ROLE_UNKNOWN = "role.unknown"
CODES = (ROLE_UNKNOWN,)


@dataclass(frozen=True)
class RoleChange:
    """The account's roles after a grant or revoke, and whether they changed."""

    account_id: uuid.UUID
    roles: tuple[str, ...]
    changed: bool


class RoleStore(Protocol):
    async def change_role(
        self,
        *,
        account_id: uuid.UUID | None,
        email_key: str | None,
        role: str,
        grant: bool,
        now: datetime,
    ) -> RoleChange | None:
        """Add (``grant``) or remove ``role`` on the account named by id or email key, and when
        that changed its roles, publish ``AccountRolesChanged`` in the same transaction; None
        when there is no such account."""
        ...


def parse_role(role: str) -> str:
    """A role an operator may grant, or ``role.unknown``."""
    name = role.strip().lower() if isinstance(role, str) else ""
    if name not in ASSIGNABLE_ROLES:
        raise DomainError(
            ErrorKind.INVALID_ARGUMENT,
            ROLE_UNKNOWN,
            params={"roles": ", ".join(sorted(ASSIGNABLE_ROLES))},
        )
    return name


class RoleService:
    """Grant and revoke roles, by email or account id (idempotent)."""

    def __init__(self, store: RoleStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def grant(self, role: str, *, email: str = "", account_id: str = "") -> RoleChange:
        return await self._change(role, email, account_id, grant=True)

    async def revoke(self, role: str, *, email: str = "", account_id: str = "") -> RoleChange:
        return await self._change(role, email, account_id, grant=False)

    async def _change(self, role: str, email: str, account_id: str, *, grant: bool) -> RoleChange:
        name = parse_role(role)
        target_id: uuid.UUID | None = None
        email_key: str | None = None
        if account_id:
            try:
                target_id = uuid.UUID(account_id)
            except ValueError:
                raise errors.account_not_found() from None
        else:
            email_key = normalise_email(email).key
        change = await self._store.change_role(
            account_id=target_id, email_key=email_key, role=name, grant=grant, now=self._clock()
        )
        if change is None:
            raise errors.account_not_found()
        return change
