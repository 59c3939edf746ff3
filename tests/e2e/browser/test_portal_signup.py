"""Sign up, activate from the mailbox, sign in and see the account — in a real browser, with the
keyboard alone, in English and in Russian."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Page, expect

from kabinet.testing.accounts import activated_account
from kabinet.testing.cluster import Cluster

PASSWORD = "Lunar-Orchid-2026x"
TITLES = {
    "en": {"signup": "Create an account", "check": "Check your email", "account": "Account"},
    "ru": {
        "signup": "Создание учётной записи",
        "check": "Проверьте почту",
        "account": "Учётная запись",
    },
}


async def tab_to(page: Page, element_id: str, limit: int = 25) -> None:
    """Press Tab until the element has focus: it must be reachable in the focus order."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_sign_up_activate_and_sign_in_with_the_keyboard(
    cluster: Cluster,
    portal_page: Page,
    lang: str,
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    page = portal_page
    base = cluster.gateway_url
    email = f"browser-{lang}-{uuid.uuid4().hex[:8]}@example.com"

    # The language switch is remembered for the pages that follow.
    await page.goto(f"{base}/language/{lang}?next=/signup")
    await expect(page.locator("h1")).to_have_text(TITLES[lang]["signup"])
    assert await page.get_attribute("html", "lang") == lang
    await screenshot(page, f"{lang}-signup")

    await tab_to(page, "f-email")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    # The rules are checked live while typing: a weak start shows what is missing.
    await page.keyboard.type("abc")
    await expect(page.locator('li[data-rule="password.no_digit"]')).to_have_class("bad")
    await expect(page.locator('li[data-rule="password.no_lower_latin"]')).to_have_class("ok")
    await page.keyboard.press("Control+A")
    await page.keyboard.type(PASSWORD)
    await expect(page.locator('li[data-rule="password.no_digit"]')).to_have_class("ok")
    await screenshot(page, f"{lang}-signup-rules")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/signup/check-email")
    await expect(page.locator("h1")).to_have_text(TITLES[lang]["check"])
    await screenshot(page, f"{lang}-check-email")

    # The activation mail, opened from the development mailbox page.
    await page.goto(f"{base}/dev/mailbox")
    row = page.locator("tr", has_text=email).first
    await row.locator("a").click()
    link = page.locator("pre a").first
    await link.click()
    await page.locator("form button[type=submit]").click()
    await page.wait_for_load_state()

    await page.goto(f"{base}/signin")
    await screenshot(page, f"{lang}-signin")
    await tab_to(page, "f-email")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/account")
    await expect(page.locator("h1")).to_have_text(TITLES[lang]["account"])
    await expect(page.locator(".who")).to_have_text(email)
    await screenshot(page, f"{lang}-account")


@pytest.mark.api_errors_expected
async def test_a_wrong_password_shows_the_error_next_to_the_form(
    cluster: Cluster, portal_page: Page
) -> None:
    page = portal_page
    await page.goto(f"{cluster.gateway_url}/language/ru?next=/signin")
    await page.fill("#f-email", f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    await page.fill("#f-password", "Wrong-Password-1")
    await page.keyboard.press("Enter")
    error = page.locator("[data-form-error]")
    await expect(error).to_be_visible()
    await expect(error).to_be_focused()
    assert "парол" in (await error.inner_text()).lower()


async def test_account_page_needs_a_session(cluster: Cluster, portal_page: Page) -> None:
    await portal_page.goto(f"{cluster.gateway_url}/account")
    await portal_page.wait_for_url(f"{cluster.gateway_url}/signin?next=/account")


async def test_the_language_choice_is_remembered_and_cannot_redirect_away(
    cluster: Cluster, portal_page: Page
) -> None:
    base = cluster.gateway_url
    await portal_page.goto(f"{base}/language/ru?next=https://evil.example/")
    assert portal_page.url == f"{base}/"
    await expect(portal_page.locator("html")).to_have_attribute("lang", "ru")
    await portal_page.goto(f"{base}/signin")
    await expect(portal_page.locator("h1")).to_have_text("Вход")
    await portal_page.get_by_role("link", name="English").click()
    await expect(portal_page.locator("h1")).to_have_text("Sign in")
    assert portal_page.url == f"{base}/signin"


async def test_the_email_address_changes_after_the_new_address_confirms_it(
    cluster: Cluster, portal_page: Page, http: httpx.AsyncClient
) -> None:
    page = portal_page
    base = cluster.gateway_url
    old = f"old-{uuid.uuid4().hex[:8]}@example.com"
    new = f"new-{uuid.uuid4().hex[:8]}@example.com"
    await activated_account(http, cluster.mailbox, old, PASSWORD)
    await page.goto(f"{base}/signin")
    await page.fill("#f-email", old)
    await page.fill("#f-password", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/account")

    email_form = page.locator("form[data-api='/api/v1/account/email']")
    await email_form.locator("#f-new_email").fill(new)
    await email_form.locator("#f-email-password").fill(PASSWORD)
    await email_form.locator("button[type=submit]").click()
    await expect(email_form.locator("[data-form-done]")).to_be_visible()
    await expect(page.locator(".who").first).to_have_text(old)  # nothing changes before

    message = await cluster.mailbox.wait_for(
        new, lambda m: any("/confirm-email?" in link for link in m.links), timeout=15
    )
    await page.goto(next(link for link in message.links if "/confirm-email?" in link))
    await page.locator("form button[type=submit]").click()
    await page.wait_for_load_state()
    await page.goto(f"{base}/account")
    await expect(page.locator(".who").first).to_have_text(new)
