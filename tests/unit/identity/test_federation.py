"""Social sign-in rules on fakes of the ports: flows (hashed, bound, single use, expiring),
outcomes (sign in, create, never link silently), linking, unlinking, and the region policy."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest

from identity.domain.events import (
    AccountActivated,
    AccountRegistered,
    IdentityLinked,
    IdentityUnlinked,
)
from identity.domain.federation import (
    AuthorizationRequest,
    Callback,
    CompleteRequest,
    ExternalProfile,
    FederationService,
    Flow,
    LinkedIdentity,
    Outcome,
    ProviderError,
    Purpose,
    StartRequest,
    check_return_to,
)
from identity.domain.model import Account, AccountStatus, AccountThrottle, Client
from identity.domain.regions import RegionPolicy, RegionSource, parse_table
from identity.domain.secrets import hash_token
from identity.domain.services import build_services
from kabinet.errors import DomainError
from tests.unit.identity.conftest import (
    FakeClock,
    FakePasswords,
    FakeStore,
    FakeTransaction,
    settings,
)

PROVIDERS = ("google", "apple", "facebook", "yandex", "vk")
DEFAULT_TABLE = parse_table(("RU=google|apple|yandex|vk", "*=google|apple|facebook|yandex|vk"))
CLIENT = Client(ip="203.0.113.5", user_agent="test")


class FederationFakeTransaction(FakeTransaction):
    async def insert_social_flow(self, flow: Flow) -> None:
        self.s.flows[flow.state_hash] = [flow, False]

    async def spend_social_flow(
        self, state_hash: bytes, binding_hash: bytes, provider: str, now: datetime
    ) -> Flow | None:
        entry = self.s.flows.get(state_hash)
        if entry is None:
            return None
        flow, used = entry
        if used or flow.binding_hash != binding_hash or flow.provider != provider:
            return None
        if flow.expires_at <= now:
            return None
        entry[1] = True
        return flow

    async def identity_by_subject(self, provider: str, subject: str) -> LinkedIdentity | None:
        return self.s.identities.get((provider, subject))

    async def identities_of(self, account_id: uuid.UUID) -> list[LinkedIdentity]:
        found = [i for i in self.s.identities.values() if i.account_id == account_id]
        return sorted(found, key=lambda i: i.linked_at)

    async def insert_identity(self, identity: LinkedIdentity) -> bool:
        key = (identity.provider, identity.subject)
        taken = any(
            i.account_id == identity.account_id and i.provider == identity.provider
            for i in self.s.identities.values()
        )
        if key in self.s.identities or taken:
            return False
        self.s.identities[key] = identity
        return True

    async def touch_identity(self, provider: str, subject: str, now: datetime) -> None:
        found = self.s.identities[(provider, subject)]
        self.s.identities[(provider, subject)] = dataclasses.replace(found, last_used_at=now)

    async def delete_identity(self, account_id: uuid.UUID, provider: str) -> bool:
        for key, identity in list(self.s.identities.items()):
            if identity.account_id == account_id and identity.provider == provider:
                del self.s.identities[key]
                return True
        return False

    async def delete_social_flows_expired_before(self, moment: datetime) -> int:
        expired = [k for k, (f, _) in self.s.flows.items() if f.expires_at < moment]
        for key in expired:
            del self.s.flows[key]
        return len(expired)


class FederationFakeStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.state.flows = {}
        self.state.identities = {}

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FederationFakeTransaction]:
        async with super().transaction() as tx:
            yield FederationFakeTransaction(tx.s, in_transaction=True)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[FederationFakeTransaction]:
        yield FederationFakeTransaction(self.state, in_transaction=False)


class FakeProvider:
    """Records what it was asked; answers ``profile`` (or raises it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.profile: ExternalProfile | ProviderError | None = None
        self.authorized: list[AuthorizationRequest] = []
        self.redeemed: list[tuple[Callback, AuthorizationRequest]] = []

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        self.authorized.append(request)
        return f"https://{self.name}.example/authorize?state={request.state}"

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        self.redeemed.append((callback, request))
        if isinstance(self.profile, ProviderError):
            raise self.profile
        assert self.profile is not None
        return self.profile


@dataclasses.dataclass
class World:
    store: FederationFakeStore
    clock: FakeClock
    providers: dict[str, FakeProvider]
    federation: FederationService

    async def start(self, provider: str, **kwargs: Any) -> tuple[str, str]:
        """A started flow's (state, binding)."""
        request = StartRequest(
            provider=provider, purpose=kwargs.pop("purpose", Purpose.SIGN_IN), **kwargs
        )
        started = await self.federation.start(request)
        state = self.providers[provider].authorized[-1].state
        return state, started.binding

    async def complete(
        self, provider: str, state: str, binding: str, profile: ExternalProfile, **kwargs: Any
    ) -> Any:
        self.providers[provider].profile = profile
        request = CompleteRequest(
            provider=provider,
            state=state,
            binding=binding,
            callback=Callback(code="code-1"),
            **kwargs,
        )
        return await self.federation.complete(request, CLIENT)

    async def sign_in(self, provider: str, profile: ExternalProfile, **kwargs: Any) -> Any:
        state, binding = await self.start(provider)
        return await self.complete(provider, state, binding, profile, **kwargs)

    def add_account(self, email: str, *, password: bool = True, **fields: Any) -> Account:
        account = Account(
            id=uuid.uuid4(),
            email=email,
            email_key=email.lower(),
            status=fields.pop("status", AccountStatus.ACTIVE),
            password_hash="hash" if password else None,
            language="en",
            created_at=self.clock(),
            **fields,
        )
        self.store.state.accounts[account.id] = account
        return account


@pytest.fixture
async def world() -> World:
    store, clock = FederationFakeStore(), FakeClock()
    services = build_services(store, FakePasswords(), settings(), clock)
    await services.start()
    providers = {name: FakeProvider(name) for name in PROVIDERS}
    federation = FederationService(
        store,
        providers,
        RegionPolicy(DEFAULT_TABLE, "", PROVIDERS),
        services.sessions,
        clock,
        public_url="https://kabinet.example/",
        flow_ttl=600,
    )
    return World(store, clock, providers, federation)


def _profile(subject: str = "s-1", email: str = "anna@example.com", **kw: Any) -> ExternalProfile:
    return ExternalProfile(
        subject=subject, email=email, email_verified=kw.pop("verified", True), **kw
    )


async def _refused(code: str, call: Any) -> None:
    with pytest.raises(DomainError) as caught:
        await call
    assert caught.value.code == code


class TestFlows:
    async def test_only_digests_are_stored_and_the_redirect_uri_is_the_providers_own(
        self, world: World
    ) -> None:
        state, binding = await world.start("google", return_to="/welcome")
        ((flow, used),) = world.store.state.flows.values()
        assert flow.state_hash == hash_token(state)
        assert flow.binding_hash == hash_token(binding)
        assert state.encode() not in repr(flow).encode()
        assert binding not in repr(flow)
        assert not used
        assert flow.return_to == "/welcome"
        sent = world.providers["google"].authorized[-1]
        assert sent.redirect_uri == "https://kabinet.example/api/v1/auth/social/google/callback"
        assert len(sent.code_verifier) == 43
        assert sent.code_challenge != sent.code_verifier
        assert sent.nonce != sent.code_verifier

    async def test_pkce_verifier_and_nonce_come_back_only_with_the_binding(
        self, world: World
    ) -> None:
        state, binding = await world.start("vk")
        sent = world.providers["vk"].authorized[-1]
        await world.complete("vk", state, binding, _profile())
        _, redeemed = world.providers["vk"].redeemed[-1]
        assert (redeemed.code_verifier, redeemed.nonce) == (sent.code_verifier, sent.nonce)

    async def test_a_wrong_binding_refuses_without_spending_and_a_flow_is_spent_once(
        self, world: World
    ) -> None:
        state, binding = await world.start("google")
        await _refused(
            "social.state_invalid", world.complete("google", state, "x" * 43, _profile())
        )
        await _refused("social.state_invalid", world.complete("google", state, "", _profile()))
        assert world.providers["google"].redeemed == []  # no code was redeemed
        done = await world.complete("google", state, binding, _profile())
        assert done.outcome is Outcome.ACCOUNT_CREATED
        await _refused("social.state_invalid", world.complete("google", state, binding, _profile()))

    async def test_a_flow_completes_only_for_its_own_provider(self, world: World) -> None:
        state, binding = await world.start("google")
        await _refused("social.state_invalid", world.complete("yandex", state, binding, _profile()))

    async def test_an_expired_flow_is_refused(self, world: World) -> None:
        state, binding = await world.start("apple")
        world.clock.advance(seconds=601)
        await _refused("social.state_invalid", world.complete("apple", state, binding, _profile()))

    async def test_a_declined_authorization_is_cancelled(self, world: World) -> None:
        state, binding = await world.start("facebook")
        await _refused(
            "social.cancelled",
            world.complete("facebook", state, binding, _profile(), error="access_denied"),
        )

    async def test_a_provider_refusal_keeps_its_code(self, world: World) -> None:
        state, binding = await world.start("google")
        world.providers["google"].profile = ProviderError("social.id_token_invalid", "nonce")
        request = CompleteRequest("google", state, binding, Callback(code="c"))
        await _refused("social.id_token_invalid", world.federation.complete(request, CLIENT))
        assert world.store.state.accounts == {}

    @pytest.mark.parametrize(
        "target", ["https://evil.example/", "//evil.example", "/\\evil", "evil", "/a b", "/x\x00"]
    )
    def test_return_to_is_a_same_origin_path(self, target: str) -> None:
        with pytest.raises(DomainError) as caught:
            check_return_to(target)
        assert caught.value.code == "social.return_to_invalid"

    def test_return_to_defaults_to_the_front_page(self) -> None:
        assert check_return_to("") == "/"
        assert check_return_to("/connect?code=AB") == "/connect?code=AB"

    async def test_a_provider_failing_at_start_leaves_no_flow(self, world: World) -> None:
        failing = world.providers["google"]

        async def unreachable(request: AuthorizationRequest) -> str:
            raise ProviderError("social.provider_unavailable", "discovery: ConnectError")

        failing.authorization_url = unreachable  # type: ignore[method-assign]
        await _refused("social.provider_unavailable", world.start("google"))
        assert world.store.state.flows == {}

    async def test_unknown_providers_are_refused(self, world: World) -> None:
        await _refused("social.provider_unknown", world.start("myspace"))

    async def test_expired_flows_are_purged(self, world: World) -> None:
        await world.start("google")
        world.clock.advance(seconds=700)
        assert await world.federation.purge(world.clock()) == 1


class TestOutcomes:
    async def test_a_new_subject_with_a_vouched_email_gets_an_active_linked_account(
        self, world: World
    ) -> None:
        done = await world.sign_in("google", _profile(name="Anna"), language="ru")
        assert done.outcome is Outcome.ACCOUNT_CREATED
        assert done.signed_in is not None
        account = world.store.account("anna@example.com")
        assert account.status is AccountStatus.ACTIVE
        assert not account.has_password
        assert (account.name, account.language) == ("Anna", "ru")
        kinds = [type(e) for e in world.store.events]
        assert kinds == [AccountRegistered, AccountActivated, IdentityLinked]

    async def test_a_known_subject_signs_in_to_its_account(self, world: World) -> None:
        first = await world.sign_in("yandex", _profile())
        again = await world.sign_in("yandex", _profile(email="changed@example.com"))
        assert again.outcome is Outcome.SIGNED_IN
        assert again.account_id == first.account_id
        assert len(world.store.state.accounts) == 1

    async def test_a_matching_email_is_never_linked_silently(self, world: World) -> None:
        owner = world.add_account("Anna@Example.com")
        await _refused(
            "social.link_required", world.sign_in("vk", _profile(email="anna@EXAMPLE.com"))
        )
        assert world.store.state.identities == {}
        assert list(world.store.state.accounts) == [owner.id]
        assert world.store.events == []

    async def test_an_unvouched_or_missing_email_creates_nothing(self, world: World) -> None:
        await _refused("social.email_unverified", world.sign_in("google", _profile(verified=False)))
        await _refused("social.email_unverified", world.sign_in("facebook", _profile(email="")))
        assert world.store.state.accounts == {}

    @pytest.mark.parametrize("status", [AccountStatus.DISABLED, AccountStatus.PENDING_ACTIVATION])
    async def test_an_account_that_is_not_active_does_not_sign_in(
        self, world: World, status: AccountStatus
    ) -> None:
        done = await world.sign_in("google", _profile())
        account = world.store.state.accounts[done.account_id]
        world.store.state.accounts[done.account_id] = dataclasses.replace(account, status=status)
        await _refused("auth.invalid_credentials", world.sign_in("google", _profile()))

    async def test_a_locked_account_does_not_sign_in_socially(self, world: World) -> None:
        done = await world.sign_in("apple", _profile())
        world.store.state.account_throttle[done.account_id] = AccountThrottle(
            10, world.clock(), locked_until=world.clock().replace(year=2100)
        )
        await _refused("auth.invalid_credentials", world.sign_in("apple", _profile()))


class TestLinking:
    async def _link(
        self, world: World, account: Account, provider: str, profile: ExternalProfile
    ) -> Any:
        state, binding = await world.start(
            provider, purpose=Purpose.LINK, account_id=str(account.id)
        )
        return await world.complete(provider, state, binding, profile)

    async def test_links_when_the_vouched_email_equals_the_accounts(self, world: World) -> None:
        account = world.add_account("anna@example.com")
        done = await self._link(world, account, "google", _profile(email="ANNA@example.com"))
        assert done.outcome is Outcome.LINKED
        assert done.signed_in is None
        assert [i.provider for i in await world.federation.linked(str(account.id))] == ["google"]
        assert world.store.events == [IdentityLinked(account.id, "google", world.clock())]
        signed = await world.sign_in("google", _profile())
        assert signed.account_id == account.id

    async def test_refuses_another_email_or_an_unvouched_one(self, world: World) -> None:
        account = world.add_account("anna@example.com")
        await _refused(
            "social.email_mismatch",
            self._link(world, account, "google", _profile(email="boris@example.com")),
        )
        await _refused(
            "social.email_unverified",
            self._link(world, account, "yandex", _profile(verified=False)),
        )
        assert await world.federation.linked(str(account.id)) == []

    async def test_a_subject_linked_elsewhere_is_refused(self, world: World) -> None:
        await world.sign_in("vk", _profile(email="boris@example.com"))
        account = world.add_account("anna@example.com")
        await _refused("social.identity_in_use", self._link(world, account, "vk", _profile()))

    async def test_a_second_account_of_the_same_provider_is_refused(self, world: World) -> None:
        account = world.add_account("anna@example.com")
        await self._link(world, account, "google", _profile("g-1"))
        await _refused(
            "social.provider_already_linked", self._link(world, account, "google", _profile("g-2"))
        )
        again = await self._link(world, account, "google", _profile("g-1"))  # no change
        assert again.outcome is Outcome.LINKED

    async def test_linking_needs_an_active_account(self, world: World) -> None:
        await _refused(
            "account.not_found",
            world.start("google", purpose=Purpose.LINK, account_id=str(uuid.uuid4())),
        )

    async def test_unlink_keeps_a_way_to_sign_in(self, world: World) -> None:
        done = await world.sign_in("google", _profile())
        account_id = str(done.account_id)
        await _refused("social.last_sign_in_method", world.federation.unlink(account_id, "google"))
        account = world.store.state.accounts[done.account_id]
        await self._link(world, account, "yandex", _profile("y-1"))
        await world.federation.unlink(account_id, "google")
        assert [i.provider for i in await world.federation.linked(account_id)] == ["yandex"]
        assert world.store.events[-1] == IdentityUnlinked(done.account_id, "google", world.clock())
        await _refused("social.identity_not_found", world.federation.unlink(account_id, "google"))

    async def test_a_password_account_may_unlink_its_only_identity(self, world: World) -> None:
        account = world.add_account("anna@example.com")
        await self._link(world, account, "google", _profile())
        await world.federation.unlink(str(account.id), "google")
        assert await world.federation.linked(str(account.id)) == []


class TestRegions:
    def test_russia_is_not_offered_facebook_by_default(self) -> None:
        policy = RegionPolicy(DEFAULT_TABLE, "", PROVIDERS)
        assert policy.decide("RU").offered == ("google", "apple", "yandex", "vk")
        assert policy.decide("de").offered == PROVIDERS

    def test_the_edge_wins_then_the_account_then_the_default(self) -> None:
        policy = RegionPolicy(DEFAULT_TABLE, "RU", PROVIDERS)
        edge = policy.decide("DE", "RU")
        assert (edge.region, edge.source) == ("DE", RegionSource.EDGE)
        account = policy.decide("", "US")
        assert (account.region, account.source) == ("US", RegionSource.ACCOUNT)
        default = policy.decide("", "")
        assert (default.region, default.source) == ("RU", RegionSource.DEFAULT)
        assert not default.offers("facebook")

    def test_a_malformed_hint_is_ignored(self) -> None:
        policy = RegionPolicy(DEFAULT_TABLE, "", PROVIDERS)
        assert policy.decide("R U", "RU").source is RegionSource.ACCOUNT
        assert policy.decide("XX").source is RegionSource.DEFAULT

    def test_only_configured_providers_are_offered(self) -> None:
        policy = RegionPolicy(DEFAULT_TABLE, "", ["vk", "google"])
        assert policy.decide("DE").offered == ("google", "vk")

    @pytest.mark.parametrize("entry", ["RU", "ZZ=google", "RU=google|myspace", "=google"])
    def test_a_bad_table_is_refused_at_start(self, entry: str) -> None:
        with pytest.raises(ValueError, match="KABINET_IDENTITY_SOCIAL_REGIONS"):
            parse_table([entry])

    async def test_a_provider_not_offered_cannot_start_or_complete(self, world: World) -> None:
        await _refused("social.provider_not_offered", world.start("facebook", region_hint="RU"))
        state, binding = await world.start("facebook", region_hint="DE")
        await _refused(
            "social.provider_not_offered",
            world.complete("facebook", state, binding, _profile(), region_hint="RU"),
        )
        assert world.providers["facebook"].redeemed == []

    async def test_the_account_country_applies_when_linking(self, world: World) -> None:
        account = world.add_account("anna@example.com", country="RU")
        await _refused(
            "social.provider_not_offered",
            world.start("facebook", purpose=Purpose.LINK, account_id=str(account.id)),
        )
        decision = await world.federation.offered("", str(account.id))
        assert "facebook" not in decision.offered


class TestLogging:
    async def test_each_region_decision_is_logged_without_secrets(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level("INFO", logger="identity.domain.federation")
        await _refused("social.provider_not_offered", world.start("facebook", region_hint="RU"))
        state, binding = await world.start("google", region_hint="DE")
        world.providers["google"].profile = ProviderError("social.id_token_invalid", "ID token aud")
        request = CompleteRequest("google", state, binding, Callback(code="the-code"))
        await _refused("social.id_token_invalid", world.federation.complete(request, CLIENT))

        decisions = [
            r for r in caplog.records if r.getMessage() == "social provider region decision"
        ]
        assert [(r.action, r.provider, r.region, r.allowed) for r in decisions] == [
            ("start:sign_in", "facebook", "RU", False),
            ("start:sign_in", "google", "DE", True),
            ("complete:sign_in", "google", "*", True),
        ]
        refusal = next(
            r for r in caplog.records if r.getMessage().startswith("social sign-in refused")
        )
        assert refusal.reason == "ID token aud"
        for record in caplog.records:
            text = repr(record.__dict__)
            assert state not in text
            assert binding not in text
            assert "the-code" not in text


async def test_a_known_account_from_russia_cannot_complete_facebook_without_an_edge_region(
    world: World,
) -> None:
    done = await world.sign_in("facebook", _profile())
    account = world.store.state.accounts[done.account_id]
    world.store.state.accounts[done.account_id] = dataclasses.replace(account, country="RU")
    await _refused("social.provider_not_offered", world.sign_in("facebook", _profile()))
    # The edge's region, when it tells one, wins over the account's country.
    again = await world.sign_in("facebook", _profile(), region_hint="DE")
    assert again.outcome is Outcome.SIGNED_IN


@pytest.mark.parametrize(
    ("given", "kept"),
    [("  Анна Петрова ", "Анна Петрова"), ("Ann\x00a", ""), ("Anna\u202e", ""), ("A" * 150, "")],
)
async def test_a_providers_name_is_kept_only_when_it_is_a_clean_one(
    world: World, given: str, kept: str
) -> None:
    done = await world.sign_in("google", _profile(name=given))
    assert world.store.state.accounts[done.account_id].name == kept
