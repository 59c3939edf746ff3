"""A real browser for the portal: Debian's Chromium driven by Playwright (never a download).

`make test` installs Chromium when it is missing. Every page a test opens is watched for console
errors and uncaught exceptions; ``portal_page`` fails the test if there were any.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google's hosts, which this
# machine's closed network refuses; the sandbox needs privileges a test runner may not have.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / ".kabinet" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class PageProblems:
    """Console errors and uncaught exceptions a page produced. A browser logs every 4xx answer
    as a console error; a test about refusals marks itself ``api_errors_expected`` so that the
    API's 4xx answers (and only those) are not counted."""

    def __init__(self, *, api_errors_expected: bool) -> None:
        self.messages: list[str] = []
        self._api_errors_expected = api_errors_expected

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        if (
            self._api_errors_expected
            and "/api/v1/" in url
            and re.search(r"status of 4\d\d", message.text)
        ):
            return
        self.messages.append(f"console: {message.text} at {message.location}")

    def exception(self, error: Error) -> None:
        self.messages.append(f"exception: {error}")


@pytest.fixture
async def portal_page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    expected = request.node.get_closest_marker("api_errors_expected") is not None
    problems = PageProblems(api_errors_expected=expected)
    page.on("console", problems.console)
    page.on("pageerror", problems.exception)
    yield page
    await context.close()
    assert problems.messages == [], "\n".join(problems.messages)


Screenshot = Callable[[Page, str], Awaitable[None]]


@pytest.fixture
def screenshot() -> Screenshot:
    """Keeps a picture of a page as ``.kabinet/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(page: Page, name: str) -> None:
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
