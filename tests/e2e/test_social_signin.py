"""Social sign-in through the gateway on the real cluster, against the stand-in providers
(``kabinet.devstack.providers``) that speak Google's, Apple's, Facebook's, Yandex ID's and VK
ID's protocols: first sign-in, the next one, no silent linking, linking and unlinking, bad state,
nonce, iss and aud, Apple's form_post, and the region policy behind a trusted proxy."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import uuid
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from gateway.auth import ACCESS_COOKIE
from kabinet.db import create_pool
from kabinet.identity.v1 import events_pb2
from kabinet.testing.accounts import PASSWORD, activated_account
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PROVIDERS = ("google", "apple", "facebook", "yandex", "vk")
OIDC = ("google", "apple")
BINDING = "__Host-kabinet_sf_{provider}"


def _set_cookies(reply: httpx.Response) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in reply.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Started:
    provider: str
    authorize_url: str
    binding: str


@dataclass
class Returned:
    """Where the provider sent the browser back: the callback URL and, for Apple, the form."""

    url: str
    method: str
    fields: dict[str, str]


async def _start(
    http: httpx.AsyncClient, provider: str, *, headers: dict[str, str] | None = None
) -> Started:
    reply = await http.get(
        f"/api/v1/auth/social/{provider}/start", params={"return_to": "/welcome"}, headers=headers
    )
    assert reply.status_code == 302, reply.text
    binding_header = next(
        h
        for h in reply.headers.get_list("set-cookie")
        if h.startswith(BINDING.format(provider=provider))
    )
    for attribute in ("HttpOnly", "Secure", "Path=/"):
        assert attribute in binding_header
    assert "samesite=none" in binding_header.lower()  # Apple's form_post is a cross-site POST
    binding = _set_cookies(reply)[BINDING.format(provider=provider)]
    return Started(provider, reply.headers["location"], binding)


async def _authorize(started: Started, person: dict[str, str]) -> Returned:
    """The person signs in at the stand-in; where it sends the browser back."""
    async with httpx.AsyncClient(timeout=30) as browser:
        reply = await browser.get(started.authorize_url + "&" + urlencode(person))
    if started.provider == "apple":
        assert reply.status_code == 200, reply.text
        action = re.search(r'<form method="post" action="([^"]+)"', reply.text)
        assert action is not None
        fields = {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(
                r'<input type="hidden" name="([^"]*)" value="([^"]*)"', reply.text
            )
        }
        return Returned(html.unescape(action.group(1)), "POST", fields)
    assert reply.status_code == 302, reply.text
    location = reply.headers["location"]
    fields = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return Returned(location.split("?", 1)[0], "GET", fields)


async def _callback(
    http: httpx.AsyncClient,
    started: Started,
    returned: Returned,
    *,
    binding: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    cookie = f"{BINDING.format(provider=started.provider)}={binding or started.binding}"
    all_headers = {"cookie": cookie, **(headers or {})}
    path = urlsplit(returned.url).path
    assert path == f"/api/v1/auth/social/{started.provider}/callback"  # one URI per provider
    if returned.method == "POST":
        # Apple's page posts the form from appleid.apple.com: a cross-site POST.
        all_headers["origin"] = "https://appleid.apple.com"
        return await http.post(path, data=returned.fields, headers=all_headers)
    return await http.get(path, params=returned.fields, headers=all_headers)


async def _social(http: httpx.AsyncClient, provider: str, person: dict[str, str]) -> httpx.Response:
    started = await _start(http, provider)
    return await _callback(http, started, await _authorize(started, person))


def _person(subject: str, email: str, **extra: str) -> dict[str, str]:
    return {"login_as": subject, "login_email": email, "login_name": "Anna Petrova", **extra}


async def _account(http: httpx.AsyncClient, access_token: str) -> dict[str, object]:
    reply = await http.get("/api/v1/account", headers={"authorization": f"Bearer {access_token}"})
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


async def _password_account(cluster: Cluster, http: httpx.AsyncClient, email: str) -> str:
    """An activated password account; its access token."""
    return await activated_account(http, cluster.mailbox, email, PASSWORD)


async def _start_link(http: httpx.AsyncClient, provider: str, access_token: str) -> Started:
    reply = await http.post(
        f"/api/v1/account/identities/{provider}",
        json={"return_to": "/connect-device"},
        headers={"authorization": f"Bearer {access_token}"},
    )
    assert reply.status_code == 200, reply.text
    binding = _set_cookies(reply)[BINDING.format(provider=provider)]
    return Started(provider, reply.json()["authorization_url"], binding)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_first_sign_in_creates_the_account_and_the_next_finds_it(
    cluster: Cluster, http: httpx.AsyncClient, provider: str
) -> None:
    subject, email = f"sub-{uuid.uuid4().hex}", _email(provider)
    first = await _social(http, provider, _person(subject, email))
    assert first.status_code == 303, first.text
    assert first.headers["location"] == cluster.environ["KABINET_PUBLIC_URL"] + "/welcome"
    cookies = _set_cookies(first)
    assert cookies[BINDING.format(provider=provider)] == ""  # the binding is spent and cleared
    account = await _account(http, cookies[ACCESS_COOKIE])
    assert account["email"] == email
    assert account["status"] == "active"
    assert account["has_password"] is False
    assert account["name"] == "Anna Petrova"

    second = await _social(http, provider, _person(subject, email))
    assert second.status_code == 303, second.text
    again = await _account(http, _set_cookies(second)[ACCESS_COOKIE])
    assert again["id"] == account["id"]

    linked = await http.get(
        "/api/v1/account/identities",
        headers={"authorization": f"Bearer {_set_cookies(second)[ACCESS_COOKIE]}"},
    )
    assert [i["provider"] for i in linked.json()] == [provider]
    assert linked.json()[0]["last_used_at"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_existing_password_accounts_email_is_not_linked_without_the_password(
    cluster: Cluster, http: httpx.AsyncClient, provider: str
) -> None:
    email = _email(f"owner-{provider}")
    access = await _password_account(cluster, http, email)
    subject = f"sub-{uuid.uuid4().hex}"

    refused = await _social(http, provider, _person(subject, email.upper()))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "social.link_required"
    assert ACCESS_COOKIE not in _set_cookies(refused)
    listed = await http.get(
        "/api/v1/account/identities", headers={"authorization": f"Bearer {access}"}
    )
    assert listed.json() == []

    # Signed in with the password, the person links it (the device-connection window's call).
    started = await _start_link(http, provider, access)
    linked = await _callback(http, started, await _authorize(started, _person(subject, email)))
    assert linked.status_code == 303, linked.text
    assert linked.headers["location"].endswith("/connect-device")
    assert ACCESS_COOKIE not in _set_cookies(linked)  # linking opens no new session
    listed = await http.get(
        "/api/v1/account/identities", headers={"authorization": f"Bearer {access}"}
    )
    assert [(i["provider"], i["email"]) for i in listed.json()] == [(provider, email)]

    # From now on the social account signs in to the same account.
    signed = await _social(http, provider, _person(subject, email))
    assert signed.status_code == 303, signed.text
    mine = await _account(http, access)
    assert (await _account(http, _set_cookies(signed)[ACCESS_COOKIE]))["id"] == mine["id"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_linking_is_refused_when_the_emails_differ(
    cluster: Cluster, http: httpx.AsyncClient, provider: str
) -> None:
    access = await _password_account(cluster, http, _email(f"differs-{provider}"))
    started = await _start_link(http, provider, access)
    person = _person(f"sub-{uuid.uuid4().hex}", _email("someone-else"))
    refused = await _callback(http, started, await _authorize(started, person))
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "social.email_mismatch"
    listed = await http.get(
        "/api/v1/account/identities", headers={"authorization": f"Bearer {access}"}
    )
    assert listed.json() == []


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_unverified_email_neither_creates_nor_links(
    cluster: Cluster, http: httpx.AsyncClient, provider: str
) -> None:
    email = _email(f"unverified-{provider}")
    person = _person(f"sub-{uuid.uuid4().hex}", email, login_verified="false")
    refused = await _social(http, provider, person)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "social.email_unverified"

    access = await _password_account(cluster, http, email)
    started = await _start_link(http, provider, access)
    not_linked = await _callback(http, started, await _authorize(started, person))
    assert not_linked.status_code == 409
    assert not_linked.json()["code"] == "social.email_unverified"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_bad_state_or_a_missing_binding_fails_the_sign_in(
    http: httpx.AsyncClient, provider: str
) -> None:
    person = _person(f"sub-{uuid.uuid4().hex}", _email("state"))

    started = await _start(http, provider)
    returned = await _authorize(started, person)
    returned.fields["state"] = returned.fields["state"][:-2] + "xx"
    tampered = await _callback(http, started, returned)
    assert tampered.status_code == 401
    assert tampered.json()["code"] == "social.state_invalid"

    # The state of a flow started in another browser (without its binding cookie) fails too.
    started = await _start(http, provider)
    returned = await _authorize(started, person)
    other_browser = await _callback(http, started, returned, binding="x" * 43)
    assert other_browser.status_code == 401
    assert other_browser.json()["code"] == "social.state_invalid"
    # ... and it was not spent by that attempt: the right browser still completes it once.
    assert (await _callback(http, started, returned)).status_code == 303
    replayed = await _callback(http, started, returned)
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "social.state_invalid"

    # A provider that answers with another state than it was given.
    started = await _start(http, provider)
    wrong = await _callback(
        http, started, await _authorize(started, {**person, "misbehave": "state"})
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "social.state_invalid"


@pytest.mark.parametrize("misbehave", ["iss", "aud", "nonce"])
@pytest.mark.parametrize("provider", OIDC)
async def test_an_id_token_with_a_wrong_iss_aud_or_nonce_fails_the_sign_in(
    http: httpx.AsyncClient, provider: str, misbehave: str
) -> None:
    email = _email(f"{misbehave}-{provider}")
    person = _person(f"sub-{uuid.uuid4().hex}", email, misbehave=misbehave)
    refused = await _social(http, provider, person)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "social.id_token_invalid"
    assert ACCESS_COOKIE not in _set_cookies(refused)
    # Nothing was created: the same email registers normally afterwards... or signs in socially.
    fine = await _social(http, provider, {**person, "misbehave": ""})
    assert fine.status_code == 303


async def test_a_facebook_token_issued_to_another_app_fails_the_sign_in(
    http: httpx.AsyncClient,
) -> None:
    person = _person(f"sub-{uuid.uuid4().hex}", _email("fb-aud"), misbehave="aud")
    refused = await _social(http, "facebook", person)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "social.provider_failed"
    assert ACCESS_COOKIE not in _set_cookies(refused)


async def test_apples_form_post_callback_carries_the_name_only_the_first_time(
    http: httpx.AsyncClient,
) -> None:
    subject, email = f"apple-{uuid.uuid4().hex}", _email("apple-relay")
    started = await _start(http, "apple")
    returned = await _authorize(started, _person(subject, email))
    assert returned.method == "POST"
    assert "Anna" in returned.fields["user"]
    created = await _callback(http, started, returned)
    assert created.status_code == 303
    assert (await _account(http, _set_cookies(created)[ACCESS_COOKIE]))["name"] == "Anna Petrova"

    started = await _start(http, "apple")
    returned = await _authorize(started, _person(subject, email))
    assert "user" not in returned.fields  # Apple sends the name on the first authorization only
    assert (await _callback(http, started, returned)).status_code == 303


async def test_a_caller_in_russia_is_not_offered_facebook_and_cannot_start_it(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    header = {"x-client-region": "RU"}
    listed = await http.get("/api/v1/auth/providers", headers=header)
    assert listed.status_code == 200
    assert listed.json()["region"] == "RU"
    names = [p["name"] for p in listed.json()["providers"]]
    assert names == ["google", "apple", "yandex", "vk"]
    start_url = listed.json()["providers"][0]["start_url"]
    assert start_url == cluster.environ["KABINET_PUBLIC_URL"] + "/api/v1/auth/social/google/start"

    refused = await http.get("/api/v1/auth/social/facebook/start", headers=header)
    assert refused.status_code == 403
    assert refused.json()["code"] == "social.provider_not_offered"

    elsewhere = await http.get("/api/v1/auth/providers", headers={"x-client-region": "DE"})
    assert [p["name"] for p in elsewhere.json()["providers"]] == list(PROVIDERS)
    await _start(http, "facebook", headers={"x-client-region": "DE"})

    # A flow started elsewhere cannot be completed from Russia either.
    started = await _start(http, "facebook")
    returned = await _authorize(started, _person(f"sub-{uuid.uuid4().hex}", _email("fb")))
    completed = await _callback(http, started, returned, headers=header)
    assert completed.status_code == 403
    assert completed.json()["code"] == "social.provider_not_offered"


async def test_the_region_header_of_an_untrusted_hop_is_ignored(cluster: Cluster) -> None:
    # Only 127.0.0.1 is a trusted proxy; this client connects from 127.0.0.2.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(
        base_url=cluster.gateway_url, transport=transport, timeout=30
    ) as untrusted:
        listed = await untrusted.get("/api/v1/auth/providers", headers={"x-client-region": "RU"})
        assert listed.status_code == 200
        assert listed.json()["region"] == ""
        assert "facebook" in [p["name"] for p in listed.json()["providers"]]
        started = await untrusted.get(
            "/api/v1/auth/social/facebook/start", headers={"x-client-region": "RU"}
        )
        assert started.status_code == 302


async def test_an_account_from_russia_is_not_offered_facebook_without_a_header(
    http: httpx.AsyncClient,
) -> None:
    signed = await _social(http, "google", _person(f"sub-{uuid.uuid4().hex}", _email("ru")))
    access = _set_cookies(signed)[ACCESS_COOKIE]
    auth = {"authorization": f"Bearer {access}"}
    assert (await http.patch("/api/v1/account", json={"country": "RU"}, headers=auth)).is_success
    listed = await http.get("/api/v1/auth/providers", headers=auth)
    assert listed.json()["region"] == "RU"
    assert "facebook" not in [p["name"] for p in listed.json()["providers"]]
    linking = await http.post("/api/v1/account/identities/facebook", json={}, headers=auth)
    assert linking.status_code == 403
    assert linking.json()["code"] == "social.provider_not_offered"


async def test_unlink_keeps_a_way_to_sign_in(cluster: Cluster, http: httpx.AsyncClient) -> None:
    # A social-only account cannot drop its only sign-in...
    subject, email = f"sub-{uuid.uuid4().hex}", _email("only")
    signed = await _social(http, "yandex", _person(subject, email))
    auth = {"authorization": f"Bearer {_set_cookies(signed)[ACCESS_COOKIE]}"}
    refused = await http.delete("/api/v1/account/identities/yandex", headers=auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "social.last_sign_in_method"
    # ... but may once a second one is linked.
    started = await _start_link(http, "vk", _set_cookies(signed)[ACCESS_COOKIE])
    returned = await _authorize(started, _person(f"vk-{uuid.uuid4().hex}", email))
    assert (await _callback(http, started, returned)).status_code == 303
    assert (await http.delete("/api/v1/account/identities/yandex", headers=auth)).status_code == 204
    listed = await http.get("/api/v1/account/identities", headers=auth)
    assert [i["provider"] for i in listed.json()] == ["vk"]
    missing = await http.delete("/api/v1/account/identities/yandex", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "social.identity_not_found"

    # A password account may unlink its only social sign-in.
    access = await _password_account(cluster, http, _email("pw-unlink"))
    started = await _start_link(http, "google", access)
    me = await _account(http, access)
    returned = await _authorize(started, _person(f"g-{uuid.uuid4().hex}", str(me["email"])))
    assert (await _callback(http, started, returned)).status_code == 303
    gone = await http.delete(
        "/api/v1/account/identities/google", headers={"authorization": f"Bearer {access}"}
    )
    assert gone.status_code == 204


async def test_start_refuses_unknown_providers_and_foreign_return_paths(
    http: httpx.AsyncClient,
) -> None:
    unknown = await http.get("/api/v1/auth/social/myspace/start")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "social.provider_unknown"
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "welcome"):
        reply = await http.get("/api/v1/auth/social/google/start", params={"return_to": target})
        assert reply.status_code == 400, target
        assert reply.json()["code"] == "social.return_to_invalid"


async def test_two_parallel_callbacks_of_one_flow_sign_in_once(http: httpx.AsyncClient) -> None:
    started = await _start(http, "google")
    returned = await _authorize(started, _person(f"sub-{uuid.uuid4().hex}", _email("twice")))
    first, second = await asyncio.gather(
        _callback(http, started, returned), _callback(http, started, returned)
    )
    assert sorted([first.status_code, second.status_code]) == [303, 401]


async def test_flow_secrets_are_stored_hashed_and_links_publish_events(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    pool = await create_pool(cluster.environ["KABINET_DATABASE_URL"], "identity", min_size=1)
    try:
        started = await _start(http, "yandex")
        state = parse_qs(urlsplit(started.authorize_url).query)["state"][0]
        row = await pool.fetchrow(
            "SELECT * FROM social_flows WHERE state_hash = $1",
            hashlib.sha256(state.encode()).digest(),
        )
        assert row is not None
        assert row["binding_hash"] == hashlib.sha256(started.binding.encode()).digest()
        stored = " ".join(str(value) for value in row.values())
        assert state not in stored
        assert started.binding not in stored

        email = _email("events")
        returned = await _authorize(started, _person(f"sub-{uuid.uuid4().hex}", email))
        signed = await _callback(http, started, returned)
        access = _set_cookies(signed)[ACCESS_COOKIE]
        account_id = str((await _account(http, access))["id"])
        link = await _start_link(http, "google", access)
        await _callback(http, link, await _authorize(link, _person(f"g-{uuid.uuid4().hex}", email)))
        unlinked = await http.delete(
            "/api/v1/account/identities/yandex", headers={"authorization": f"Bearer {access}"}
        )
        assert unlinked.status_code == 204

        rows = await pool.fetch(
            "SELECT subject, payload FROM outbox WHERE subject LIKE 'identity.identity.%'"
            " ORDER BY created_at, seq"
        )
        mine = []
        for r in rows:
            message = (
                events_pb2.IdentityLinked()
                if r["subject"].endswith(".linked")
                else events_pb2.IdentityUnlinked()
            )
            message.ParseFromString(bytes(r["payload"]))
            if message.account_id == account_id:
                mine.append((r["subject"], message.provider))
        assert mine == [
            ("identity.identity.linked", "yandex"),
            ("identity.identity.linked", "google"),
            ("identity.identity.unlinked", "yandex"),
        ]
    finally:
        await pool.close()


async def test_a_locked_account_cannot_sign_in_socially_either(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = _email("locked")
    access = await _password_account(cluster, http, email)
    subject = f"sub-{uuid.uuid4().hex}"
    started = await _start_link(http, "google", access)
    assert (
        await _callback(http, started, await _authorize(started, _person(subject, email)))
    ).status_code == 303

    # Ten wrong passwords lock the account (from an address of their own, so that only the
    # account's counter is what refuses below).
    edge = {"x-forwarded-for": f"198.51.100.{uuid.uuid4().int % 250 + 1}"}
    for _ in range(10):
        wrong = await http.post(
            "/api/v1/auth/login", json={"email": email, "password": "Wrong-pass-1"}, headers=edge
        )
        assert wrong.status_code == 401

    refused = await _social(http, "google", _person(subject, email))
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.invalid_credentials"
    assert ACCESS_COOKIE not in _set_cookies(refused)
