"""Connecting a device (RFC 8628) end to end: the app polls, the person approves or denies on
the portal page, the device joins the registry and leaves it, and its tokens die with it."""

import asyncio
import uuid
from typing import Any

import httpx
import nats
import nats.errors
import pytest

from kabinet.identity.v1 import events_pb2, oidc_pb2
from kabinet.testing.cluster import Cluster
from tests.e2e.oidc_support import (
    Browser,
    active_account,
    database,
    operator_token,
    register_client,
)

pytestmark = pytest.mark.e2e

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
async def app_id(cluster: Cluster) -> str:
    async with httpx.AsyncClient(base_url=cluster.gateway_url, timeout=30) as http:
        operator = await operator_token(cluster, http)
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    await register_client(
        cluster,
        operator,
        oidc_pb2.OAuthClient(
            client_id=client_id,
            name="Kabinet Security",
            grant_types=[DEVICE_GRANT, "refresh_token"],
            scopes=["openid", "kabinet.api"],
        ),
    )
    return client_id


async def _start(http: httpx.AsyncClient, app_id: str, name: str = "Anna's laptop") -> dict:
    reply = await http.post(
        "/oauth2/device_authorization",
        data={
            "client_id": app_id,
            "scope": "openid kabinet.api",
            "device_name": name,
            "platform": "windows",
            "app_version": "24.1.7",
        },
    )
    assert reply.status_code == 200, reply.text
    started: dict = reply.json()
    return started


async def _poll(http: httpx.AsyncClient, app_id: str, device_code: str) -> httpx.Response:
    return await http.post(
        "/oauth2/token",
        data={"grant_type": DEVICE_GRANT, "client_id": app_id, "device_code": device_code},
    )


async def _decide(browser: Browser, email: str, link: str, decision: str) -> str:
    """Open the verification link as the person, sign in, confirm the code, decide."""
    page = await browser.get(link)
    if 'action="/oauth2/signin"' in page.text:
        signed = await browser.sign_in(link.removeprefix(str(browser.http.base_url)), email)
        page = await browser.get(signed.headers["location"])
    assert page.status_code == 200
    csrf = browser.cookies["__Host-kabinet_csrf"]
    code = link.split("user_code=")[1]
    # Even pre-filled, the code is confirmed on a page naming the app and the device.
    assert f'value="{code}"' in page.text
    confirm = await browser.post("/device/confirm", {"user_code": code, "csrf": csrf})
    assert confirm.status_code == 200, confirm.text
    assert "Kabinet Security" in confirm.text
    assert "Anna&#39;s laptop" in confirm.text  # escaped
    assert "windows" in confirm.text
    decided = await browser.post(
        "/device/decide", {"user_code": code, "csrf": csrf, "decision": decision}
    )
    assert decided.status_code == 200
    return decided.text


async def test_device_connects_polls_and_is_disconnected(
    cluster: Cluster, http: httpx.AsyncClient, app_id: str
) -> None:
    email = await active_account(cluster, http)
    started = await _start(http, app_id)
    assert len(started["user_code"]) == 9
    assert started["user_code"][4] == "-"
    assert started["verification_uri"] == cluster.gateway_url + "/device"
    assert started["verification_uri_complete"].endswith(started["user_code"])
    assert started["interval"] == 1

    pending = await _poll(http, app_id, started["device_code"])
    assert pending.status_code == 400
    assert pending.json()["error"] == "authorization_pending"
    too_fast = await _poll(http, app_id, started["device_code"])
    assert too_fast.json()["error"] == "slow_down"

    browser = Browser(http)
    await _decide(browser, email, started["verification_uri_complete"], "approve")
    await asyncio.sleep(6.1)  # the interval grew by five seconds after slow_down
    issued = await _poll(http, app_id, started["device_code"])
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    again = await _poll(http, app_id, started["device_code"])
    assert again.json()["error"] == "invalid_grant"  # single use

    device_bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/api/v1/auth/session", headers=device_bearer)).status_code == 200
    person = await http.post(
        "/api/v1/auth/login", json={"email": email, "password": "Vesna-Kuku-2024"}
    )
    owner = {"authorization": f"Bearer {person.json()['access_token']}"}
    listed = (await http.get("/api/v1/account/devices", headers=owner)).json()["devices"]
    assert [(d["name"], d["platform"], d["app_version"], d["app_name"]) for d in listed] == [
        ("Anna's laptop", "windows", "24.1.7", "Kabinet Security")
    ]

    stranger = await http.post(
        "/api/v1/auth/login",
        json={"email": await active_account(cluster, http), "password": "Vesna-Kuku-2024"},
    )
    foreign = await http.delete(
        f"/api/v1/account/devices/{listed[0]['id']}",
        headers={"authorization": f"Bearer {stranger.json()['access_token']}"},
    )
    assert foreign.status_code == 404

    gone = await http.delete(f"/api/v1/account/devices/{listed[0]['id']}", headers=owner)
    assert gone.status_code == 204
    # Refused at once, by the replica that disconnected it.
    refused = await http.get("/api/v1/auth/session", headers=device_bearer)
    assert refused.status_code == 401
    refresh = await http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": app_id,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert (await http.get("/api/v1/account/devices", headers=owner)).json()["devices"] == []

    # Both changes were told to the other services.
    connected = await _event(cluster, "identity.device.connected", events_pb2.DeviceConnected)
    assert listed[0]["id"] in {e.device_id for e in connected}
    mine = next(e for e in connected if e.device_id == listed[0]["id"])
    assert (mine.name, mine.platform, mine.client_id, mine.app_version) == (
        "Anna's laptop",
        "windows",
        app_id,
        "24.1.7",
    )
    left = await _event(cluster, "identity.device.disconnected", events_pb2.DeviceDisconnected)
    assert (listed[0]["id"], "by_owner") in {(e.device_id, e.reason) for e in left}


async def _event(cluster: Cluster, subject: str, message: type[Any]) -> list[Any]:
    """Every event on ``subject`` in the IDENTITY stream so far (waiting for the relay)."""
    connection = await nats.connect(cluster.environ["KABINET_NATS_URL"])
    try:
        js = connection.jetstream()
        found: list[Any] = []
        for _ in range(50):
            sub = await js.subscribe(subject, ordered_consumer=True)
            try:
                while True:
                    try:
                        msg = await sub.next_msg(timeout=0.2)
                    except nats.errors.TimeoutError:
                        break
                    found.append(message.FromString(msg.data))
            finally:
                await sub.unsubscribe()
            if found:
                return found
            await asyncio.sleep(0.1)
        return found
    finally:
        await connection.close()


async def test_denied_and_expired_requests(
    cluster: Cluster, http: httpx.AsyncClient, app_id: str
) -> None:
    email = await active_account(cluster, http)
    denied = await _start(http, app_id)
    text = await _decide(Browser(http), email, denied["verification_uri_complete"], "deny")
    assert "denied" in text
    answer = await _poll(http, app_id, denied["device_code"])
    assert answer.json()["error"] == "access_denied"

    expiring = await _start(http, app_id)
    conn = await database(cluster)
    try:
        updated = await conn.execute(
            "UPDATE identity.device_grants SET expires_at = now() - interval '1 second'"
            " WHERE user_code_hash = sha256(convert_to($1, 'UTF8'))",
            expiring["user_code"].replace("-", ""),
        )
        assert updated == "UPDATE 1"  # only its hash is stored
    finally:
        await conn.close()
    expired = await _poll(http, app_id, expiring["device_code"])
    assert expired.json()["error"] == "expired_token"


async def test_guessing_user_codes_is_limited(
    cluster: Cluster, http: httpx.AsyncClient, app_id: str
) -> None:
    email = await active_account(cluster, http)
    real = await _start(http, app_id)
    browser = Browser(http)
    page = await browser.get("/device")
    signed = await browser.sign_in("/device", email)
    assert signed.headers["location"] == "/device"
    assert 'action="/oauth2/signin"' in page.text
    csrf = browser.cookies["__Host-kabinet_csrf"]
    forged = await browser.http.post(
        "/device/confirm",
        data={"user_code": real["user_code"], "csrf": "wrong"},
        headers=browser._headers(),
    )
    assert forged.status_code == 403
    for _ in range(5):
        wrong = await browser.post("/device/confirm", {"user_code": "BBBB-BBBB", "csrf": csrf})
        assert wrong.status_code == 400
    blocked = await browser.post("/device/confirm", {"user_code": real["user_code"], "csrf": csrf})
    assert blocked.status_code == 429
