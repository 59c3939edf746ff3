"""Support in a real browser: a customer opens a ticket with an attachment from the portal
(the text fields with the keyboard alone), an agent (given the role over identity's GrantRole,
then signed in) finds it in the queue page, takes it, leaves an internal note, replies with a
file and resolves it; the customer sees the reply and its file but never the note, downloads the
attachment, rates and reopens. Every page is kept as a screenshot in English and Russian."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

import grpc
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from gateway.web.texts import TEXTS
from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc
from kabinet.testing.accounts import PASSWORD, activated_account
from kabinet.testing.cluster import Cluster

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
Screenshot = Callable[[Page, str], Awaitable[None]]


async def tab_until(page: Page, check: str, limit: int = 30) -> None:
    """Press Tab until ``check`` (a script expression about document.activeElement) holds: the
    element must be reachable in the focus order."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"(e => !!e && ({check}))(document.activeElement)"):
            return
    raise AssertionError(f"no element with {check} is reachable with Tab")


async def sign_in(page: Page, base: str, email: str, lang: str, then: str) -> None:
    """The sign-in page in ``lang``, with the keyboard; ends on ``then``."""
    await page.goto(f"{base}/language/{lang}?next=/signin?next={then}")
    await tab_until(page, "e.id === 'f-email'")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}{then}")


async def make_agent(cluster: Cluster, http: httpx.AsyncClient) -> str:
    email = f"agent-{uuid.uuid4().hex[:8]}@example.com"
    await activated_account(http, cluster.mailbox, email, PASSWORD)
    async with grpc.aio.insecure_channel(cluster.common.addresses.identity) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        reply = await stub.GrantRole(
            identity_pb2.GrantRoleRequest(email=email, role="support_agent"),
            timeout=10,
            metadata=await cluster.operator_metadata(),
        )
    assert "support_agent" in reply.roles
    return email


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_ticket_from_opening_to_rating_in_the_browser(
    cluster: Cluster,
    browser: Browser,
    portal_page: Page,
    http: httpx.AsyncClient,
    screenshot: Screenshot,
    lang: str,
) -> None:
    t = TEXTS[lang]
    base = cluster.gateway_url
    customer_email = f"customer-{lang}-{uuid.uuid4().hex[:8]}@example.com"
    await activated_account(http, cluster.mailbox, customer_email, PASSWORD, lang)
    subject = f"Scanner stops {uuid.uuid4().hex[:6]}"
    description = "It <b>stops</b> at 40%.\nSecond line."

    # The customer: Support in the nav, an empty list, the new-ticket form.
    page = portal_page
    await sign_in(page, base, customer_email, lang, "/account")
    await page.get_by_role("link", name=t["nav.support"]).click()
    await page.wait_for_url(f"{base}/support")
    await expect(page.locator("h1")).to_have_text(t["support.title"])
    await expect(page.locator("main")).to_contain_text(t["support.none"])
    await page.get_by_role("link", name=t["support.new"]).click()
    await page.wait_for_url(f"{base}/support/new")
    await expect(page.locator("h1")).to_have_text(t["support.new.title"])

    # Text fields with the keyboard alone, in their focus order; then a file.
    await tab_until(page, "e.id === 'f-topic'")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Kabinet Antivirus 5.1")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Windows 11")
    await page.keyboard.press("Tab")
    await page.keyboard.type(subject)
    await page.keyboard.press("Tab")
    await page.keyboard.type(description)
    await page.set_input_files(
        "#f-attachments", files=[{"name": "screen.png", "mimeType": "image/png", "buffer": PNG}]
    )
    await screenshot(page, f"{lang}-support-new")
    await page.focus("#f-attachments")
    await tab_until(page, "e.type === 'submit'")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(rf"{re.escape(base)}/support/tickets/[0-9a-f-]{{36}}$"))
    ticket_path = page.url.removeprefix(base)

    # The ticket page: the text shown as text (escaped), the file downloadable by its owner.
    await expect(page.locator("h1")).to_have_text(subject)
    await expect(page.locator("[data-ticket-status]")).to_have_attribute(
        "data-ticket-status", "new"
    )
    first = page.locator(".thread .message").first
    await expect(first.locator(".body")).to_have_text(description)
    async with page.expect_download() as download_info:
        await first.get_by_role("link", name="screen.png").click()
    download = await download_info.value
    assert download.suggested_filename == "screen.png"
    assert (await download.path()).read_bytes() == PNG
    await screenshot(page, f"{lang}-support-ticket")

    # The agent, in a browser of their own: the queue page, then the ticket.
    agent_email = await make_agent(cluster, http)
    context = await browser.new_context(locale="en-US")
    agent = await context.new_page()
    agent_errors: list[str] = []
    agent.on("console", lambda m: agent_errors.append(m.text) if m.type == "error" else None)
    agent.on("pageerror", lambda e: agent_errors.append(str(e)))
    try:
        await sign_in(agent, base, agent_email, lang, "/support")
        await agent.get_by_role("link", name=t["support.queue_link"]).click()
        await agent.wait_for_url(f"{base}/support/queue")
        await expect(agent.locator("h1")).to_have_text(t["support.queue.title"])
        line = agent.locator("tbody tr", has_text=subject)
        await expect(line).to_contain_text(t["support.priority.normal"])
        await expect(line.locator("td").nth(1)).to_have_text(
            re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
        )
        await screenshot(agent, f"{lang}-support-queue")
        await line.get_by_role("link", name=subject).click()
        await agent.wait_for_url(f"{base}{ticket_path}")
        await expect(agent.get_by_role("link", name="screen.png")).to_be_visible()

        await agent.get_by_role("button", name=t["support.agent.assign"]).click()
        await expect(agent.locator("[data-assignee]")).to_have_text(t["support.agent.assigned_you"])
        await agent.fill("#f-note", "Known bug in 5.1, customer on an old build")
        await agent.get_by_role("button", name=t["support.agent.note_submit"]).click()
        note = agent.locator(".thread .message.internal")
        await expect(note).to_contain_text(t["support.ticket.internal"])
        await agent.fill("#f-body", "Please update to 5.2 <i>now</i>.")
        await agent.set_input_files(
            "#f-reply-attachments",
            files=[{"name": "steps.png", "mimeType": "image/png", "buffer": PNG}],
        )
        await agent.get_by_role("button", name=t["support.reply.submit"]).click()
        await expect(agent.locator(".thread .message").last).to_contain_text("<i>now</i>")
        await expect(agent.locator(".thread .message").last).to_contain_text("steps.png")
        await screenshot(agent, f"{lang}-support-agent-ticket")
        await agent.select_option("#f-status", "resolved")
        await agent.get_by_role("button", name=t["support.agent.status_submit"]).click()
        await expect(agent.locator("[data-ticket-status]")).to_have_attribute(
            "data-ticket-status", "resolved"
        )
    finally:
        await context.close()
    assert agent_errors == []

    # The customer: the reply but not the note; rating and reopening after resolution.
    await page.reload()
    await expect(page.locator("[data-ticket-status]")).to_have_attribute(
        "data-ticket-status", "resolved"
    )
    thread = page.locator(".thread")
    await expect(thread).to_contain_text("Please update to 5.2 <i>now</i>.")
    await expect(page.get_by_role("link", name="steps.png")).to_be_visible()
    await expect(thread).to_contain_text(t["support.ticket.agent"])
    assert "Known bug" not in await page.content()
    await expect(page.locator(".thread .message.internal")).to_have_count(0)
    await page.get_by_label("4", exact=True).check()
    await page.fill("#f-comment", "Fixed after the update")
    await screenshot(page, f"{lang}-support-rating")
    await page.get_by_role("button", name=t["support.rating.submit"]).click()
    await expect(page.locator("[data-rating]")).to_have_text("4/5 · Fixed after the update")
    await expect(page.get_by_role("button", name=t["support.rating.submit"])).to_have_count(0)
    await page.get_by_role("button", name=t["support.reopen.submit"]).click()
    await expect(page.locator("[data-ticket-status]")).not_to_have_attribute(
        "data-ticket-status", "resolved"
    )

    await page.get_by_role("link", name=t["support.ticket.back"]).click()
    await page.wait_for_url(f"{base}/support")
    await expect(page.locator("tbody tr", has_text=subject)).to_be_visible()
    await screenshot(page, f"{lang}-support-list")


async def test_the_emailed_link_asks_to_sign_in_and_then_opens_the_ticket(
    cluster: Cluster, portal_page: Page, http: httpx.AsyncClient
) -> None:
    base = cluster.gateway_url
    email = f"linked-{uuid.uuid4().hex[:8]}@example.com"
    access = await activated_account(http, cluster.mailbox, email, PASSWORD)
    opened = await http.post(
        "/api/v1/support/tickets",
        data={"topic": "payment", "subject": "Charged twice", "description": "Two charges."},
        files=[("attachments", ("", b"", "application/octet-stream"))],
        headers={"authorization": f"Bearer {access}"},
    )
    assert opened.status_code == 201, opened.text
    path = f"/support/tickets/{opened.json()['id']}"

    await portal_page.goto(f"{base}{path}")
    await portal_page.wait_for_url(f"{base}/signin?next={path}")
    await portal_page.fill("#f-email", email)
    await portal_page.fill("#f-password", PASSWORD)
    await portal_page.keyboard.press("Enter")
    await portal_page.wait_for_url(f"{base}{path}")
    await expect(portal_page.locator("h1")).to_have_text("Charged twice")
    # Not an agent: the queue page sends the person to their own tickets.
    await portal_page.goto(f"{base}/support/queue")
    await portal_page.wait_for_url(f"{base}/support")


@pytest.mark.api_errors_expected
async def test_a_refused_ticket_shows_the_errors_next_to_the_fields(
    cluster: Cluster, portal_page: Page, http: httpx.AsyncClient
) -> None:
    base = cluster.gateway_url
    email = f"hasty-{uuid.uuid4().hex[:8]}@example.com"
    await activated_account(http, cluster.mailbox, email, PASSWORD, "ru")
    await sign_in(portal_page, base, email, "ru", "/support/new")
    await portal_page.fill("#f-description", "Что-то сломалось")
    await portal_page.get_by_role("button", name=TEXTS["ru"]["support.new.submit"]).click()
    error = portal_page.locator("[data-form-error]")
    await expect(error).to_be_visible()
    await expect(error).to_be_focused()
    subject_error = portal_page.locator('[data-field-error="subject"]')
    await expect(subject_error).to_have_text("Заполните это поле.")
    await expect(portal_page.locator("#f-subject")).to_have_attribute("aria-invalid", "true")
    assert portal_page.url == f"{base}/support/new"
