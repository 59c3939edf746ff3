"""Buying through the gateway on real servers: the sandbox PSP's hosted page, its signed webhook,
identity creating the buyer's account from ``subscription.order.completed``, the receipt and the
"create your password" mail at the SMTP sink, sign-in, and everything that must not happen twice
(the same idempotency key, a replayed webhook, a redelivered event)."""

import asyncio
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import nats
import pytest

from kabinet import webhooks
from kabinet.events import headers
from kabinet.identity.v1 import purchase_events_pb2
from kabinet.subscription.v1 import events_pb2
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PASSWORD = "Vesna-Kuku-2024"
APPROVED = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"


def _order_body(email: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "plan_id": "plus",
        "term_months": 12,
        "devices": 3,
        "email": email,
        "region": "RU",
        "language": "en",
    }
    body.update(changes)
    return body


async def _buy(http: httpx.AsyncClient, email: str, key: str | None = None) -> dict[str, object]:
    reply = await http.post(
        "/api/v1/orders",
        json=_order_body(email),
        headers={"idempotency-key": key or uuid.uuid4().hex},
    )
    assert reply.status_code == 201, reply.text
    order: dict[str, object] = reply.json()
    return order


async def _pay(payment_url: str, card: str) -> httpx.Response:
    """The buyer on the PSP's hosted page: open it, type the card, press Pay."""
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(payment_url)
        assert page.status_code == 200
        assert "Card number" in page.text
        return await browser.post(payment_url, data={"card_number": card})


async def _wait_status(
    http: httpx.AsyncClient, order_id: str, status: str, timeout: float = 20
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, object] = (await http.get(f"/api/v1/orders/{order_id}")).json()
        if order["status"] == status or time.monotonic() > deadline:
            assert order["status"] == status, order
            return order
        await asyncio.sleep(0.1)


async def _accounts_with(cluster: Cluster, email: str) -> int:
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM identity.accounts WHERE email = $1", email
        )
    finally:
        await conn.close()
    return int(count)


async def _subscriptions_of_order(cluster: Cluster, order_id: str) -> int:
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM subscription.subscriptions WHERE order_id = $1",
            uuid.UUID(order_id),
        )
    finally:
        await conn.close()
    return int(count)


async def _found_reports(cluster: Cluster, order_id: str) -> int:
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        rows = await conn.fetch(
            "SELECT payload FROM identity.outbox WHERE subject = $1",
            "identity.account.found_for_purchase",
        )
    finally:
        await conn.close()
    found = [
        purchase_events_pb2.AccountFoundForPurchase.FromString(bytes(r["payload"])) for r in rows
    ]
    return sum(f.order_id == order_id for f in found)


async def test_an_unknown_buyer_pays_gets_an_account_sets_a_password_and_has_the_subscription(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    order = await _buy(http, email)
    assert order["status"] == "pending"
    assert order["amount_minor"] > 0
    paid = await _pay(str(order["payment_url"]), APPROVED)
    assert paid.status_code == 303
    assert paid.headers["location"].endswith(f"/orders/{order['id']}")

    done = await _wait_status(http, str(order["id"]), "completed")
    assert done["subscription_id"]
    receipt = await cluster.mailbox.wait_for(email, lambda m: "purchase" in m.subject, timeout=15)
    assert str(order["id"]) in receipt.text
    assert "Activation code:" in receipt.text
    invite = await cluster.mailbox.wait_for(
        email, lambda m: any("/create-password?" in link for link in m.links), timeout=15
    )
    link = next(link for link in invite.links if "/create-password?" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    created = await http.post("/create-password", data={"token": token, "password": PASSWORD})
    assert created.status_code == 200

    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    auth = {"authorization": f"Bearer {login.json()['access_token']}"}
    [sub] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert (sub["id"], sub["plan_id"], sub["devices"], sub["status"]) == (
        done["subscription_id"],
        "plus",
        3,
        "active",
    )
    entitlements = (await http.get("/api/v1/entitlements", headers=auth)).json()
    assert {e["subscription_id"] for e in entitlements} == {sub["id"]}


async def test_a_declined_payment_leaves_no_subscription_and_no_account(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"declined-{uuid.uuid4().hex[:8]}@example.com"
    order = await _buy(http, email)
    wrong = await _pay(str(order["payment_url"]), "4242 4242 4242 4241")
    assert wrong.status_code == 400  # a typo in the number is asked again, nothing decided
    refused = await _pay(str(order["payment_url"]), DECLINED)
    assert refused.status_code == 303
    declined = await _wait_status(http, str(order["id"]), "declined")
    assert declined["subscription_id"] == ""
    await asyncio.sleep(1.0)  # time enough for any event to have been handled
    assert await _accounts_with(cluster, email) == 0
    assert await _subscriptions_of_order(cluster, str(order["id"])) == 0
    assert cluster.mailbox.find(to=email) == []


async def test_the_same_idempotency_key_twice_makes_one_order(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"twice-{uuid.uuid4().hex[:8]}@example.com"
    key = uuid.uuid4().hex
    first = await _buy(http, email, key)
    second = await _buy(http, email, key)
    assert second["id"] == first["id"]
    assert second["payment_url"] == first["payment_url"]
    other = await http.post(
        "/api/v1/orders",
        json=_order_body(email, devices=5),
        headers={"idempotency-key": key, "accept-language": "ru"},
    )
    assert other.status_code == 409
    assert other.json()["code"] == "order.idempotency_key_reused"
    assert "ключ" in other.json()["detail"]
    missing = await http.post("/api/v1/orders", json=_order_body(email))
    assert missing.status_code == 400
    assert missing.json()["code"] == "order.idempotency_key_missing"


async def test_webhooks_with_a_bad_signature_an_old_timestamp_or_a_replayed_id_are_refused(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    assert cluster.psp is not None
    email = f"replay-{uuid.uuid4().hex[:8]}@example.com"
    order = await _buy(http, email)
    await _pay(str(order["payment_url"]), APPROVED)
    await _wait_status(http, str(order["id"]), "completed")
    [delivery] = [
        d
        for d in cluster.psp.deliveries.values()
        if json.loads(d.body)["data"]["order_id"] == order["id"]
    ]
    secret = cluster.environ["KABINET_PAYMENTS_WEBHOOK_SECRET"]
    path = "/api/v1/payments/webhooks/sandbox"

    forged = await http.post(
        path,
        content=delivery.body,
        headers={
            webhooks.SIGNATURE_HEADER: webhooks.sign(
                "not-the-secret", int(time.time()), delivery.body
            )
        },
    )
    assert forged.status_code == 401
    assert forged.json()["code"] == "webhook.signature_invalid"
    old = await http.post(
        path,
        content=delivery.body,
        headers={
            webhooks.SIGNATURE_HEADER: webhooks.sign(secret, int(time.time()) - 3600, delivery.body)
        },
    )
    assert old.status_code == 401
    # The PSP sends the same event again (freshly signed): refused as a replay, no second
    # subscription.
    replay = await http.post(
        path,
        content=delivery.body,
        headers={webhooks.SIGNATURE_HEADER: webhooks.sign(secret, int(time.time()), delivery.body)},
    )
    assert replay.status_code == 409
    assert replay.json()["code"] == "payment.event_replayed"
    assert await asyncio.to_thread(cluster.psp.post_signed, delivery.body) == 409
    assert await _subscriptions_of_order(cluster, str(order["id"])) == 1


async def test_a_redelivered_order_completed_event_makes_no_duplicate(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"redeliver-{uuid.uuid4().hex[:8]}@example.com"
    order = await _buy(http, email)
    await _pay(str(order["payment_url"]), APPROVED)
    await _wait_status(http, str(order["id"]), "completed")
    await cluster.mailbox.wait_for(
        email, lambda m: any("/create-password?" in link for link in m.links), timeout=15
    )
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        rows = await conn.fetch(
            "SELECT payload FROM subscription.outbox WHERE subject = $1",
            "subscription.order.completed",
        )
    finally:
        await conn.close()
    [mine] = [
        bytes(r["payload"])
        for r in rows
        if events_pb2.OrderCompleted.FromString(bytes(r["payload"])).order_id == order["id"]
    ]
    # The same event delivered again, as after a lost ack or a relay restart with a new id.
    client = await nats.connect(cluster.environ["KABINET_NATS_URL"])
    try:
        js = client.jetstream()
        await js.publish(
            "subscription.order.completed",
            mine,
            headers={
                headers.MSG_ID: str(uuid.uuid4()),
                headers.EVENT_TYPE: "kabinet.subscription.v1.OrderCompleted",
            },
        )
    finally:
        await client.close()
    # Identity handles it again and, the account existing now, reports it as found.
    deadline = time.monotonic() + 20
    while not await _found_reports(cluster, str(order["id"])):
        assert time.monotonic() < deadline, "the redelivered event was not handled"
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # and the subscription service handles that report
    assert await _accounts_with(cluster, email) == 1
    assert await _subscriptions_of_order(cluster, str(order["id"])) == 1
    invites = [
        m for m in cluster.mailbox.find(to=email) if any("/create-password?" in x for x in m.links)
    ]
    assert len(invites) == 1
