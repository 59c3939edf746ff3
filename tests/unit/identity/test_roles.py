"""Role grants: only the assignable roles, by email or id, idempotent; operator-only methods."""

import uuid
from datetime import UTC, datetime

import pytest

from identity.api.grpc import OPERATOR_METHODS, SERVICE_NAME
from identity.domain.roles import ROLE_UNKNOWN, RoleChange, RoleService
from kabinet.errors import DomainError
from kabinet.identity.v1 import identity_pb2
from kabinet.messages import CATALOG

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class FakeRoleStore:
    def __init__(self) -> None:
        self.roles: dict[uuid.UUID, set[str]] = {}
        self.emails: dict[str, uuid.UUID] = {}
        self.events: list[tuple[uuid.UUID, tuple[str, ...]]] = []

    def add(self, email: str) -> uuid.UUID:
        account = uuid.uuid4()
        self.roles[account] = set()
        self.emails[email] = account
        return account

    async def change_role(
        self,
        *,
        account_id: uuid.UUID | None,
        email_key: str | None,
        role: str,
        grant: bool,
        now: datetime,
    ) -> RoleChange | None:
        target = account_id if account_id is not None else self.emails.get(email_key or "")
        if target not in self.roles:
            return None
        before = set(self.roles[target])
        if grant:
            self.roles[target].add(role)
        else:
            self.roles[target].discard(role)
        roles = tuple(sorted(self.roles[target]))
        if before != self.roles[target]:
            self.events.append((target, roles))
        return RoleChange(target, roles, before != self.roles[target])


async def test_grant_and_revoke_by_email_or_id_are_idempotent() -> None:
    store = FakeRoleStore()
    account = store.add("anna@example.com")
    service = RoleService(store, lambda: NOW)
    first = await service.grant(" Support_Agent ", email="Anna@Example.com")
    assert first == RoleChange(account, ("support_agent",), True)
    again = await service.grant("support_agent", account_id=str(account))
    assert not again.changed
    both = await service.grant("operator", email="anna@example.com")
    assert both.roles == ("operator", "support_agent")
    revoked = await service.revoke("support_agent", email="anna@example.com")
    assert revoked.roles == ("operator",)
    assert revoked.changed
    assert len(store.events) == 3  # one event per real change


@pytest.mark.parametrize("role", ["admin", "", "support agent", "customer"])
async def test_only_assignable_roles_are_granted(role: str) -> None:
    store = FakeRoleStore()
    store.add("anna@example.com")
    with pytest.raises(DomainError) as exc:
        await RoleService(store, lambda: NOW).grant(role, email="anna@example.com")
    assert exc.value.code == ROLE_UNKNOWN
    assert store.events == []
    assert CATALOG[ROLE_UNKNOWN][0].format(**exc.value.params).endswith("operator, support_agent.")


async def test_unknown_accounts_are_not_found() -> None:
    service = RoleService(FakeRoleStore(), lambda: NOW)
    for kwargs in (
        {"email": "nobody@example.com"},
        {"account_id": str(uuid.uuid4())},
        {"account_id": "x"},
    ):
        with pytest.raises(DomainError) as exc:
            await service.grant("operator", **kwargs)
        assert exc.value.code == "account.not_found"


def test_role_methods_are_operator_only_and_exist() -> None:
    methods = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].methods_by_name
    assert {f"/{SERVICE_NAME}/GrantRole", f"/{SERVICE_NAME}/RevokeRole"} <= OPERATOR_METHODS
    for full in OPERATOR_METHODS:
        assert full.rsplit("/", 1)[1] in methods
    assert f"/{SERVICE_NAME}/SignIn" not in OPERATOR_METHODS
