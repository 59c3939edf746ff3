"""Accounts through the gateway on real servers: register, activate from the emailed link, sign
in, use the account with the cookie and the bearer token, rotate, replay, sign out."""

import asyncio
import uuid
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.auth import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PASSWORD = "Vesna-Kuku-2024"


def _cookies(reply: httpx.Response) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in reply.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _set_cookie_headers(reply: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in reply.headers.get_list("set-cookie")}


async def _token_from_mail(cluster: Cluster, email: str, page: str) -> str:
    message = await cluster.mailbox.wait_for(
        email, lambda m: any(f"/{page}?" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if f"/{page}?" in link)
    assert link.startswith(cluster.environ["KABINET_PUBLIC_URL"] + f"/{page}?")
    return parse_qs(urlsplit(link).query)["token"][0]


async def _refused(http: httpx.AsyncClient, token: str) -> bool:
    """Revocation reaches the gateway over NATS: allow it a moment."""
    for _ in range(50):
        reply = await http.get("/api/v1/account", headers={"authorization": f"Bearer {token}"})
        if reply.status_code == 401:
            assert reply.json()["code"] == "token.invalid"
            return True
        await asyncio.sleep(0.1)
    return False


async def test_register_activate_sign_in_refresh_replay_sign_out(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"anna-{uuid.uuid4().hex[:8]}@example.com"
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "language": "ru"}
    )
    assert registered.status_code == 202

    early = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert early.status_code == 409
    assert early.json()["code"] == "account.not_activated"

    token = await _token_from_mail(cluster, email, "activate")
    activated = await http.post("/api/v1/auth/activate", json={"token": token})
    assert activated.status_code == 200
    assert activated.headers["referrer-policy"] == "no-referrer"
    again = await http.post("/api/v1/auth/activate", json={"token": token})
    assert again.status_code == 400
    assert again.json()["code"] == "activation.link_invalid"

    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()
    assert tokens["token_type"] == "Bearer"
    set_cookies = _set_cookie_headers(login)
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        assert "HttpOnly" in set_cookies[name]
        assert "Secure" in set_cookies[name]
        assert "SameSite=lax" in set_cookies[name] or "SameSite=Lax" in set_cookies[name]
        assert "Path=/" in set_cookies[name]
    cookies = _cookies(login)

    by_bearer = await http.get(
        "/api/v1/account", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert by_bearer.status_code == 200
    assert by_bearer.json()["email"] == email
    assert by_bearer.json()["status"] == "active"
    whoami = await http.get(
        "/api/v1/auth/session", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert whoami.status_code == 200
    assert whoami.json()["account_id"] == by_bearer.json()["id"]
    by_cookie = await http.get(
        "/api/v1/account", headers={"cookie": f"{ACCESS_COOKIE}={cookies[ACCESS_COOKIE]}"}
    )
    assert by_cookie.status_code == 200
    assert by_cookie.json()["id"] == by_bearer.json()["id"]

    # A state change with the cookie needs the CSRF token.
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    forged = await http.patch(
        "/api/v1/account", json={"name": "Mallory"}, headers={"cookie": cookie_header}
    )
    assert forged.status_code == 403
    assert forged.json()["code"] == "auth.csrf_failed"
    genuine = await http.patch(
        "/api/v1/account",
        json={"name": "Анна"},
        headers={"cookie": cookie_header, "x-csrf-token": cookies[CSRF_COOKIE]},
    )
    assert genuine.status_code == 200
    assert genuine.json()["name"] == "Анна"

    rotated = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status_code == 200
    new_tokens = rotated.json()
    assert new_tokens["refresh_token"] != tokens["refresh_token"]
    ok = await http.get(
        "/api/v1/account", headers={"authorization": f"Bearer {new_tokens['access_token']}"}
    )
    assert ok.status_code == 200

    replay = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert replay.status_code == 401
    # The replay killed the whole session: the newest tokens die with it.
    assert await _refused(http, new_tokens["access_token"])
    dead = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": new_tokens["refresh_token"]}
    )
    assert dead.status_code == 401

    second = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    bearer = {"authorization": f"Bearer {second.json()['access_token']}"}
    sessions = await http.get("/api/v1/account/sessions", headers=bearer)
    assert sessions.status_code == 200
    assert [s["current"] for s in sessions.json()].count(True) == 1
    out = await http.post("/api/v1/auth/logout", headers=bearer)
    assert out.status_code == 204
    after = await http.get("/api/v1/account", headers=bearer)
    assert after.status_code == 401


async def test_registration_does_not_reveal_a_known_email(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"known-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "language": "en"}
    first = await http.post("/api/v1/auth/register", json=body)
    second = await http.post("/api/v1/auth/register", json={**body, "email": email.upper()})
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    # Only the mailbox's owner learns of the second attempt (the account is still inactive,
    # so it is another activation link rather than a "you already have an account" notice).
    for _ in range(150):
        received = cluster.mailbox.find(to=email)
        if len(received) >= 2:
            break
        await asyncio.sleep(0.1)
    assert len(received) == 2


async def test_password_rules_are_reported_each_with_its_code(http: httpx.AsyncClient) -> None:
    reply = await http.post(
        "/api/v1/auth/password/check",
        json={"password": "пароль 1"},
        headers={"accept-language": "ru"},
    )
    assert reply.status_code == 200
    result = reply.json()
    assert result["ok"] is False
    codes = {v["code"] for v in result["violations"]}
    assert {"password.no_upper_latin", "password.no_lower_latin", "password.has_space"} <= codes
    assert all(v["message"] and v["message"] != v["code"] for v in result["violations"])

    refused = await http.post(
        "/api/v1/auth/register",
        json={"email": f"weak-{uuid.uuid4().hex[:8]}@example.com", "password": "Qwerty123"},
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "password.invalid"
    assert "password.too_common" in {v["code"] for v in body["violations"]}


async def test_forged_and_foreign_tokens_are_refused_at_the_edge(http: httpx.AsyncClient) -> None:
    for token in ("not.a.token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "x" * 9000):
        reply = await http.get("/api/v1/account", headers={"authorization": f"Bearer {token}"})
        assert reply.status_code == 401
        assert reply.json()["code"] == "token.invalid"
    missing = await http.get("/api/v1/account")
    assert missing.status_code == 401
    assert missing.json()["code"] == "auth.required"


async def test_jwks_is_published(http: httpx.AsyncClient) -> None:
    reply = await http.get("/.well-known/jwks.json")
    assert reply.status_code == 200
    keys = reply.json()["keys"]
    assert keys
    assert all("d" not in key and key["alg"] == "ES256" for key in keys)


async def test_fields_a_client_must_not_set_have_no_effect(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"mass-{uuid.uuid4().hex[:8]}@example.com"
    reply = await http.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "id": "00000000-0000-0000-0000-000000000001",
            "roles": ["support_agent"],
            "status": "active",
            "email_verified": True,
        },
    )
    assert reply.status_code == 202
    early = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert early.json()["code"] == "account.not_activated"  # "status" was ignored

    await http.post(
        "/api/v1/auth/activate", json={"token": await _token_from_mail(cluster, email, "activate")}
    )
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    bearer = {"authorization": f"Bearer {login.json()['access_token']}"}
    patched = await http.patch(
        "/api/v1/account",
        json={"name": "Eve", "roles": ["operator"], "email": "other@example.com", "id": "x"},
        headers=bearer,
    )
    assert patched.status_code == 200
    account = patched.json()
    assert account["roles"] == []
    assert account["email"] == email
    assert account["id"] != "00000000-0000-0000-0000-000000000001"
    assert account["name"] == "Eve"
