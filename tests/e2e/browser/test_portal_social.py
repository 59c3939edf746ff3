"""Social sign-in from the portal against the local stand-in providers: the buttons follow the
region, a first sign-in creates the account, and a matching password account is not linked
without its password (the person sets up quick sign-in from the account page instead)."""

from __future__ import annotations

import uuid

import httpx
from playwright.async_api import Browser, Page, expect

from kabinet.testing.accounts import activated_account
from kabinet.testing.cluster import Cluster


async def sign_in_at_stand_in(page: Page, subject: str, email: str) -> None:
    """The stand-in provider's own page: who to be."""
    await page.fill("input[name=login_as]", subject)
    await page.fill("input[name=login_email]", email)
    await page.click("button[type=submit]")


async def test_buttons_follow_the_region(cluster: Cluster, browser: Browser) -> None:
    for region, facebook in (("RU", False), ("DE", True)):
        context = await browser.new_context(extra_http_headers={"X-Client-Region": region})
        page = await context.new_page()
        await page.goto(f"{cluster.gateway_url}/signin")
        buttons = page.locator(".providers a")
        await expect(buttons.first).to_be_visible()
        names = await buttons.all_inner_texts()
        assert ("Facebook" in names) is facebook, (region, names)
        assert {"Google", "Apple", "VK ID", "Яндекс ID"} <= set(names)
        await context.close()


async def test_first_social_sign_in_creates_the_account(
    cluster: Cluster, portal_page: Page
) -> None:
    email = f"social-{uuid.uuid4().hex[:8]}@example.com"
    await portal_page.goto(f"{cluster.gateway_url}/signin")
    await portal_page.get_by_role("link", name="Яндекс ID").click()
    await sign_in_at_stand_in(portal_page, f"ya-{uuid.uuid4().hex}", email)
    await portal_page.wait_for_url(f"{cluster.gateway_url}/account")
    await expect(portal_page.locator(".who")).to_have_text(email)
    linked = portal_page.locator("#h-quick ~ ul.providers li", has_text="Яндекс ID")
    await expect(linked).to_contain_text(email)


async def test_existing_password_account_links_only_after_password_sign_in(
    cluster: Cluster, portal_page: Page, http: httpx.AsyncClient
) -> None:
    email = f"linker-{uuid.uuid4().hex[:8]}@example.com"
    password = "Quiet-Harbor-77x"
    await activated_account(http, cluster.mailbox, email, password)
    subject = f"g-{uuid.uuid4().hex}"
    base = cluster.gateway_url

    # Signing in with Google under the same email: refused, and told what to do instead.
    await portal_page.goto(f"{base}/signin")
    await portal_page.get_by_role("link", name="Google").click()
    await sign_in_at_stand_in(portal_page, subject, email)
    await portal_page.wait_for_url(f"{base}/signin?error=social.link_required")
    await expect(portal_page.get_by_role("alert")).to_contain_text("password")

    # With the password first, quick sign-in is set up from the account page.
    await portal_page.fill("#f-email", email)
    await portal_page.fill("#f-password", password)
    await portal_page.keyboard.press("Enter")
    await portal_page.wait_for_url(f"{base}/account")
    await portal_page.get_by_role("button", name="Set up with Google").click()
    await sign_in_at_stand_in(portal_page, subject, email)
    await portal_page.wait_for_url(f"{base}/account")
    await expect(
        portal_page.locator("#h-quick ~ ul.providers li", has_text="Google")
    ).to_contain_text(email)
