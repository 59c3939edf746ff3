"""Connecting a device and signing in to a relying party, in a real browser.

The app's side speaks HTTP (RFC 8628: device authorization, then polling the token endpoint); the
person's side is Chromium: sign in with the keyboard alone, enter the code, compare the app and the
device, approve, set up quick sign-in with a stand-in provider right there, find the device on the
account page and disconnect it, which kills the app's token. Then an OpenID code flow with PKCE:
the sign-in page, the consent page, and the redirect with a code to a loopback address this test
serves. Screenshots of every page in English and Russian.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlencode, urlsplit

import grpc
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from playwright.async_api import Browser, Page, expect

from kabinet.devstack.ports import free_port
from kabinet.identity.v1 import oidc_pb2, oidc_pb2_grpc
from kabinet.testing.accounts import PASSWORD, activated_account
from kabinet.testing.cluster import Cluster
from tests.e2e.browser.conftest import Screenshot
from tests.e2e.browser.test_portal_social import sign_in_at_stand_in

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def _register(cluster: Cluster, client: oidc_pb2.OAuthClient) -> None:
    async with grpc.aio.insecure_channel(cluster.environ["KABINET_IDENTITY_ADDR"]) as channel:
        await oidc_pb2_grpc.ClientRegistryServiceStub(channel).RegisterClient(
            oidc_pb2.RegisterClientRequest(client=client),
            metadata=await cluster.operator_metadata(),
            timeout=10,
        )


async def _poll_for_tokens(http: httpx.AsyncClient, client_id: str, started: dict) -> dict:
    """The app's polling (RFC 8628 3.4/3.5): wait the interval, slow down when told."""
    interval = started["interval"]
    for _ in range(60):
        await asyncio.sleep(interval)
        reply = await http.post(
            "/oauth2/token",
            data={
                "grant_type": DEVICE_GRANT,
                "client_id": client_id,
                "device_code": started["device_code"],
            },
        )
        if reply.status_code == 200:
            tokens: dict = reply.json()
            return tokens
        error = reply.json()["error"]
        if error == "slow_down":
            interval += 5
        else:
            assert error == "authorization_pending", reply.text
    raise AssertionError("the device was never approved")


async def _switch_language(page: Page, to: str) -> None:
    name = {"ru": "Русский", "en": "English"}[to]
    await page.get_by_role("link", name=name).click()
    await expect(page.locator("html")).to_have_attribute("lang", to)


async def test_device_connection_with_quick_sign_in(
    cluster: Cluster, portal_page: Page, http: httpx.AsyncClient, screenshot: Screenshot
) -> None:
    base = cluster.gateway_url
    email = f"device-{uuid.uuid4().hex[:8]}@example.com"
    await activated_account(http, cluster.mailbox, email, PASSWORD)
    client_id = f"app-{uuid.uuid4().hex[:8]}"
    await _register(
        cluster,
        oidc_pb2.OAuthClient(
            client_id=client_id,
            name="Kabinet Notes",
            grant_types=[DEVICE_GRANT, "refresh_token"],
            scopes=["openid", "kabinet.api"],
        ),
    )
    device_name = f"Anna's tablet {uuid.uuid4().hex[:4]}"
    started = (
        await http.post(
            "/oauth2/device_authorization",
            data={
                "client_id": client_id,
                "scope": "openid kabinet.api",
                "device_name": device_name,
                "platform": "android",
                "app_version": "3.2.1",
            },
        )
    ).json()
    user_code = started["user_code"]
    polling = asyncio.create_task(_poll_for_tokens(http, client_id, started))
    try:
        # The person opens the address the device shows and signs in with the keyboard alone.
        page = portal_page
        await page.goto(started["verification_uri"])
        await screenshot(page, "en-device-signin")
        email_field = page.get_by_label("Email")
        await expect(email_field).to_be_focused()
        await page.keyboard.type(email)
        await page.keyboard.press("Tab")
        await expect(page.get_by_label("Password")).to_be_focused()
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/device")

        # The code page, then in Russian; the code is typed, and the next page names the app
        # and the device.
        await expect(page.get_by_role("heading", level=1)).to_have_text("Connect a device")
        assert await page.locator("script").count() == 1  # only the portal's own file
        await screenshot(page, "en-device-entry")
        await _switch_language(page, "ru")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Подключение устройства")
        await screenshot(page, "ru-device-entry")
        await page.get_by_label("Код").fill(user_code)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Подключить это устройство?"
        )
        await expect(page.locator("table.device")).to_contain_text("Kabinet Notes")
        await expect(page.locator("table.device")).to_contain_text(device_name)
        await screenshot(page, "ru-device-confirm")

        # Back to English: the code comes pre-filled and is confirmed again, never skipped.
        await _switch_language(page, "en")
        await page.wait_for_url(f"{base}/device?user_code={user_code}")
        await expect(page.get_by_label("Code")).to_have_value(user_code)
        await page.get_by_role("button", name="Continue").click()
        confirm = page.locator("table.device")
        await expect(confirm).to_contain_text("Kabinet Notes")
        await expect(confirm).to_contain_text(device_name)
        await expect(confirm).to_contain_text("android")
        await expect(page.locator("main")).to_contain_text(user_code)
        await screenshot(page, "en-device-confirm")
        assert not polling.done()  # nothing is issued before the person approves
        await page.get_by_role("button", name="Connect", exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("The device is connected")
        await screenshot(page, "en-device-done")

        # Quick sign-in, set up right here with a stand-in provider, comes back to this window:
        # refused for another email (and told why, here), then done with the account's own.
        await page.get_by_role("button", name="Set up with Google").click()
        await sign_in_at_stand_in(page, f"g-{uuid.uuid4().hex}", f"other-{email}")
        await page.wait_for_url(f"{base}/device/quick-sign-in?error=social.email_mismatch")
        await expect(page.get_by_role("alert")).to_contain_text("email differs")
        await page.get_by_role("button", name="Set up with Google").click()
        await sign_in_at_stand_in(page, f"g-{uuid.uuid4().hex}", email)
        await page.wait_for_url(f"{base}/device/quick-sign-in")
        await expect(page.get_by_role("status")).to_contain_text("Quick sign-in is set up")
        await expect(page.locator(".quick-sign-in")).to_contain_text("Google")
        await expect(page.get_by_role("button", name="Set up with Google")).to_have_count(0)
        await screenshot(page, "en-device-quick")
        await _switch_language(page, "ru")
        await expect(page.get_by_role("status")).to_contain_text("Быстрый вход настроен")
        await screenshot(page, "ru-device-quick")

        tokens = await asyncio.wait_for(polling, timeout=60)
    finally:
        polling.cancel()
    app = {"authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/api/v1/auth/session", headers=app)).status_code == 200

    # The account page lists the device; disconnecting it kills the app's token at once.
    await page.goto(f"{base}/account")
    await expect(page.locator("#h-devices")).to_have_text("Устройства")
    await screenshot(page, "ru-account-devices")
    await _switch_language(page, "en")
    row = page.locator("ul.devices li", has_text=device_name)
    await expect(row).to_contain_text("Kabinet Notes")
    await expect(row).to_contain_text("android")
    await expect(row).to_contain_text("connected")
    await screenshot(page, "en-account-devices")
    await row.get_by_role("button", name="Disconnect").click()
    await expect(page.locator("ul.devices li", has_text=device_name)).to_have_count(0)
    await expect(page.locator("#h-devices ~ p").first).to_have_text("No device is connected.")
    assert (await http.get("/api/v1/auth/session", headers=app)).status_code == 401


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[str, list[str]]]:
    """A relying party's redirect URI on loopback: answers every request with a small page and
    keeps the request lines it got."""
    seen: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        body = b'<!doctype html><title>Forum</title><link rel="icon" href="data:,"><p>Back</p>'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        yield f"http://127.0.0.1:{port}/callback", seen


async def test_relying_party_signs_in_through_the_pages(
    cluster: Cluster,
    browser: Browser,
    portal_page: Page,
    http: httpx.AsyncClient,
    screenshot: Screenshot,
    loopback: tuple[str, list[str]],
) -> None:
    base = cluster.gateway_url
    redirect_uri, seen = loopback
    email = f"rp-{uuid.uuid4().hex[:8]}@example.com"
    await activated_account(http, cluster.mailbox, email, PASSWORD)
    client_id = f"forum-{uuid.uuid4().hex[:8]}"
    await _register(
        cluster,
        oidc_pb2.OAuthClient(
            client_id=client_id,
            name="Forum",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            scopes=["openid", "email", "profile"],
        ),
    )
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
    }
    page = portal_page

    # A redirect URI the client did not register is never followed: the page says so (its 400
    # is a console error, hence a page outside ``portal_page``).
    context = await browser.new_context(locale="en-US")
    try:
        stray = await context.new_page()
        wrong = {**params, "redirect_uri": redirect_uri.replace("/callback", "/elsewhere")}
        answer = await stray.goto(f"{base}/oauth2/authorize?" + urlencode(wrong))
        assert answer is not None
        assert answer.status == 400
        assert stray.url.startswith(base)
        await expect(stray.get_by_role("heading", level=1)).to_have_text(
            "This request cannot be completed"
        )
    finally:
        await context.close()
    assert seen == []

    authorize = f"{base}/oauth2/authorize?" + urlencode(params)
    await page.goto(authorize)
    await expect(page.locator("main")).to_contain_text("Forum asks you to sign in")
    assert await page.locator("script").count() == 0
    await screenshot(page, "en-oidc-signin")
    await _switch_language(page, "ru")
    await expect(page.locator("main")).to_contain_text("Forum просит войти")
    await screenshot(page, "ru-oidc-signin")
    await page.get_by_label("Электронная почта").fill(email)
    await page.get_by_label("Пароль").fill(PASSWORD)
    await page.get_by_role("button", name="Войти").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Разрешить доступ")
    await expect(page.locator("ul.scopes")).to_contain_text("ваш адрес электронной почты")
    await screenshot(page, "ru-oidc-consent")
    await _switch_language(page, "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Allow access")
    await expect(page.locator("main")).to_contain_text("Forum asks for:")
    await screenshot(page, "en-oidc-consent")

    # Allowing is a plain form POST that ends at the client's loopback address with a code.
    async with page.expect_navigation(url=f"{redirect_uri}?*"):
        await page.get_by_role("button", name="Allow").click()
    answer = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert answer["state"] == state
    assert answer["iss"] == base
    assert any(line.startswith("GET /callback?") for line in seen)

    token = await http.post(
        "/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": answer["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    claims = jwt.decode(token.json()["id_token"], keys, algorithms=["ES256"]).claims
    assert claims["aud"] == client_id
    assert claims["nonce"] == nonce
    assert claims["email"] == email

    # Another browser, consent already given: the sign-in form's POST itself ends at the client
    # (a redirect chain to another origin, which ``form-action 'self'`` would have blocked).
    context = await browser.new_context(locale="en-US")
    try:
        again = await context.new_page()
        problems: list[str] = []
        again.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await again.goto(authorize.replace(state, "second"))
        await again.get_by_label("Email").fill(email)
        await again.get_by_label("Password").fill(PASSWORD)
        async with again.expect_navigation(url=f"{redirect_uri}?*"):
            await again.get_by_role("button", name="Sign in").click()
        assert parse_qs(urlsplit(again.url).query)["state"] == ["second"]
        assert problems == []
    finally:
        await context.close()
