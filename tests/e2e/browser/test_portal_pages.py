"""Every page a person can land on, in both languages: it renders its own heading in the chosen
language, logs no console error, and is kept as a screenshot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from kabinet.testing.cluster import Cluster

# path → the screenshot's name. Link pages open with a token that is only checked when the
# button is pressed, so any well-formed one shows the page.
PAGES = {
    "/": "home",
    "/signup": "signup-page",
    "/signin": "signin-page",
    "/forgot-password": "forgot-password",
    "/activate?token=" + "a" * 43: "activate",
    "/create-password?token=" + "a" * 43: "create-password",
    "/reset-password?token=" + "a" * 43: "reset-password",
    "/confirm-email?token=" + "a" * 43: "confirm-email",
    "/buy": "buy-page",
    "/device": "device-page",
    "/dev/mailbox": "mailbox",
}


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_every_page_renders_in_the_chosen_language(
    cluster: Cluster,
    portal_page: Page,
    lang: str,
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    base = cluster.gateway_url
    await portal_page.goto(f"{base}/language/{lang}?next=/")
    for path, name in PAGES.items():
        reply = await portal_page.goto(f"{base}{path}")
        assert reply is not None
        assert reply.status == 200, path
        await expect(portal_page.locator("h1").first).to_be_visible()
        if path != "/dev/mailbox":  # a development tool, in English only
            assert await portal_page.get_attribute("html", "lang") == lang, path
        await screenshot(portal_page, f"{lang}-{name}")
