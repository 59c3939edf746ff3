"""People for end-to-end tests, made through the real paths: register, activate from the emailed
link and sign in through the gateway; subscriptions from codes issued over IssueCodes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx

from kabinet.devstack.mailbox import Mailbox
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc
from kabinet.testing.cluster import Cluster

PASSWORD = "Vesna-Kuku-2024"  # noqa: S105 - the test accounts' password
APPROVED_CARD = "4242424242424242"  # the sandbox PSP approves it


async def activated_account(
    http: httpx.AsyncClient, mailbox: Mailbox, email: str, password: str, language: str = "en"
) -> str:
    """Register ``email``, follow its activation mail, sign in; the access token."""
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": password, "language": language}
    )
    assert registered.status_code == 202, registered.text
    message = await mailbox.wait_for(
        email, lambda m: any("/activate?" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if "/activate?" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    activated = await http.post("/api/v1/auth/activate", json={"token": token})
    assert activated.status_code == 200, activated.text
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    access: str = login.json()["access_token"]
    return access


async def signed_in(
    cluster: Cluster, http: httpx.AsyncClient, prefix: str = "user", language: str = "en"
) -> tuple[str, dict[str, str]]:
    """A new active account (in ``language``): its email and the bearer header."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    access = await activated_account(http, cluster.mailbox, email, PASSWORD, language)
    return email, {"authorization": f"Bearer {access}"}


async def issue_codes(
    cluster: Cluster, plan: str, *, devices: int = 3, term_months: int = 12, count: int = 1
) -> list[str]:
    """Codes made the way operators make them: the IssueCodes RPC, with an operator token."""
    async with grpc.aio.insecure_channel(cluster.common.addresses.subscription) as channel:
        stub: Any = subscription_pb2_grpc.SubscriptionServiceStub(channel)
        reply = await stub.IssueCodes(
            pb.IssueCodesRequest(
                plan_id=plan, devices=devices, term_months=term_months, count=count
            ),
            timeout=10,
            metadata=await cluster.operator_metadata(),
        )
    return list(reply.codes)


async def subscriber(
    cluster: Cluster, http: httpx.AsyncClient, plan: str
) -> tuple[str, dict[str, str]]:
    """A new account with a live subscription of ``plan`` (a code redeemed through the gateway)."""
    email, auth = await signed_in(cluster, http, plan)
    [code] = await issue_codes(cluster, plan)
    added = await http.post("/api/v1/subscriptions/codes", json={"code": code}, headers=auth)
    assert added.status_code == 200, added.text
    return email, auth


async def paid(http: httpx.AsyncClient, reply: httpx.Response) -> dict[str, Any]:
    """Pay the order ``reply`` created (a purchase or a renewal) with the approved card on the
    PSP's page; the order once it is completed (fails if it is not within 20 s)."""
    assert reply.status_code == 201, reply.text
    order = reply.json()
    async with httpx.AsyncClient(timeout=10) as browser:
        payment = await browser.post(order["payment_url"], data={"card_number": APPROVED_CARD})
    assert payment.status_code == 303, payment.text
    deadline = time.monotonic() + 20
    while True:
        now: dict[str, Any] = (await http.get(f"/api/v1/orders/{order['id']}")).json()
        if now["status"] == "completed":
            return now
        assert time.monotonic() < deadline, f"the order did not complete: {now}"
        await asyncio.sleep(0.1)
