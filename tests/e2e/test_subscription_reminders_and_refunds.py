"""Through the gateway on real servers: a subscription activated by a code (no order, no buyer
email) gets its reminder mail at the owner's address, in the owner's language, once even with two
scheduler replicas; refunds go to the payment provider."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest

from kabinet.config import load_settings
from kabinet.db import create_pool
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.subscription.v1 import subscription_pb2_grpc
from kabinet.testing.cluster import Cluster
from subscription.app import wire
from subscription.config import SubscriptionSettings
from subscription.store.postgres import PostgresStore

pytestmark = pytest.mark.e2e

PASSWORD = "Vesna-Kuku-2024"
APPROVED = "4242424242424242"


async def _signed_in(
    cluster: Cluster, http: httpx.AsyncClient, language: str = "en"
) -> tuple[str, dict[str, str]]:
    email = f"rem-{uuid.uuid4().hex[:8]}@example.com"
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "language": language}
    )
    assert registered.status_code == 202
    message = await cluster.mailbox.wait_for(
        email, lambda m: any("/activate?" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if "/activate?" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert (await http.post("/api/v1/auth/activate", json={"token": token})).status_code == 200
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    return email, {"authorization": f"Bearer {login.json()['access_token']}"}


async def _subscription_stub(
    cluster: Cluster,
) -> tuple[grpc.aio.Channel, subscription_pb2_grpc.SubscriptionServiceStub]:
    channel = grpc.aio.insecure_channel(cluster.common.addresses.subscription)
    return channel, subscription_pb2_grpc.SubscriptionServiceStub(channel)


async def _redeemed(cluster: Cluster, http: httpx.AsyncClient, auth: dict[str, str]) -> dict:
    channel, stub = await _subscription_stub(cluster)
    async with channel:
        reply = await stub.IssueCodes(
            pb.IssueCodesRequest(plan_id="plus", devices=3, term_months=12, count=1),
            timeout=10,
            metadata=await cluster.operator_metadata(),
        )
    added = await http.post(
        "/api/v1/subscriptions/codes", json={"code": reply.codes[0]}, headers=auth
    )
    assert added.status_code in (200, 201), added.text
    [sub] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    return dict(sub)


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _reminders(cluster: Cluster, email: str) -> list[str]:
    return [m.subject for m in cluster.mailbox.find(to=email) if "Подписка Kabinet" in m.subject]


async def test_a_code_activated_subscription_gets_each_reminder_once_in_the_owners_language(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await _signed_in(cluster, http, language="ru")
    sub = await _redeemed(cluster, http, auth)
    settings = load_settings(SubscriptionSettings, cluster.environ)
    pool = await create_pool(settings.common.database_url, "subscription", min_size=1, max_size=4)
    clock = MovableClock()
    one = wire(PostgresStore(pool), settings, clock).scheduler
    two = wire(PostgresStore(pool), settings, clock).scheduler
    ends = datetime.fromisoformat(str(sub["ends_at"]).replace("Z", "+00:00"))
    try:
        for days_left in (20, 19.5, 5):
            clock.now = ends - timedelta(days=days_left)
            for _ in range(2):
                await asyncio.gather(one.run_once(), two.run_once())
    finally:
        await pool.close()
    deadline = time.monotonic() + 15
    while len(_reminders(cluster, email)) < 2:
        assert time.monotonic() < deadline, _reminders(cluster, email)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a duplicate would have arrived by now
    assert sorted(_reminders(cluster, email)) == [
        "Подписка Kabinet заканчивается через 30 дн.",
        "Подписка Kabinet заканчивается через 7 дн.",
    ]
