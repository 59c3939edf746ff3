"""Buying, the subscription and the downloads in a real browser: a buyer without an account pays
at the sandbox provider, creates a password from the mail and downloads the installer; a
declined card changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Page, expect

from kabinet.testing.cluster import Cluster

Screenshot = Callable[[Page, str], Awaitable[None]]
PASSWORD = "Amber-Lantern-58x"


async def pay(page: Page, card: str) -> None:
    """The sandbox provider's hosted page: a card number and Pay."""
    await page.fill("input[name=card_number]", card)
    await page.click("button[type=submit]")


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_a_buyer_without_an_account_pays_sets_a_password_and_downloads(
    cluster: Cluster, portal_page: Page, screenshot: Screenshot, lang: str
) -> None:
    page = portal_page
    base = cluster.gateway_url
    email = f"buyer-{lang}-{uuid.uuid4().hex[:8]}@example.com"

    await page.goto(f"{base}/language/{lang}?next=/buy")
    await screenshot(page, f"{lang}-buy")
    plus = page.locator("fieldset.plan-plus input[type=radio]").first
    await plus.check()
    await page.fill("#f-email", email)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("input[name=card_number]")  # the provider's page
    await pay(page, "4242 4242 4242 4242")
    await page.wait_for_url(f"{base}/orders/*")
    await expect(page.locator(".order-status")).to_have_class("order-status order-completed")
    await screenshot(page, f"{lang}-order-completed")

    # The account was made by the purchase: its "create your password" mail signs the buyer in.
    message = await cluster.mailbox.wait_for(
        email, lambda m: any("/create-password?" in link for link in m.links), timeout=15
    )
    await page.goto(next(link for link in message.links if "/create-password?" in link))
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_load_state()

    await page.goto(f"{base}/subscriptions")
    await expect(page.locator("li.subscription")).to_have_count(1)
    await screenshot(page, f"{lang}-subscriptions")

    await page.goto(f"{base}/downloads")
    await screenshot(page, f"{lang}-downloads")
    main_app = page.locator("#app-security_plus")
    async with page.expect_download() as started:
        await main_app.locator("form[data-api='/api/v1/downloads/links'] button").first.click()
    download = await started.value
    path = await download.path()
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert download.suggested_filename.endswith((".exe", ".msi", ".dmg", ".pkg", ".deb", ".zip"))
    assert len(sha) == 64
    # A Plus subscription does not include the Premium application.
    await expect(page.locator("#app-security_premium a[href='/buy']")).to_be_visible()

    await main_app.locator("form[data-api='/api/v1/downloads/send'] button").click()
    await expect(main_app.locator("[data-form-done]").last).to_be_visible()
    sent = await cluster.mailbox.wait_for(
        email, lambda m: any("/get/" in link for link in m.links), timeout=15
    )
    assert any("/get/security_plus" in link for link in sent.links)


async def test_a_declined_card_makes_no_subscription_and_no_account(
    cluster: Cluster, portal_page: Page, http: httpx.AsyncClient
) -> None:
    page = portal_page
    base = cluster.gateway_url
    email = f"declined-{uuid.uuid4().hex[:8]}@example.com"
    await page.goto(f"{base}/buy")
    await page.fill("#f-email", email)
    await page.click("form[data-api='/api/v1/orders'] button[type=submit]")
    await page.wait_for_selector("input[name=card_number]")
    await pay(page, "4000 0000 0000 0002")
    await page.wait_for_url(f"{base}/orders/*")
    await expect(page.locator(".order-status")).to_have_class("order-status order-declined")
    await expect(page.get_by_role("link", name="Try again")).to_be_visible()
    forgot = await http.post("/api/v1/auth/password/forgot", json={"email": email})
    assert forgot.status_code == 202
    assert cluster.mailbox.find(to=email) == []  # no account, so not even a reset mail
