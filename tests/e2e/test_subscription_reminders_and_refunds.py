"""Through the gateway on real servers: a subscription activated by a code (no order, no buyer
email) gets its reminder mail at the owner's address, in the owner's language, once even with two
scheduler replicas; refunds go to the payment provider."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import httpx
import pytest

from kabinet.config import load_settings
from kabinet.db import create_pool
from kabinet.devstack.ports import free_port
from kabinet.subscription.v1 import events_pb2, subscription_pb2_grpc
from kabinet.subscription.v1 import subscription_pb2 as pb
from kabinet.testing.accounts import issue_codes, paid, signed_in
from kabinet.testing.cluster import Cluster
from subscription.accounts import IdentityAccounts
from subscription.app import wire
from subscription.config import SubscriptionSettings
from subscription.domain.reminders import AccountsUnavailableError
from subscription.store.postgres import PostgresStore

pytestmark = pytest.mark.e2e


async def _subscription_stub(
    cluster: Cluster,
) -> tuple[grpc.aio.Channel, subscription_pb2_grpc.SubscriptionServiceStub]:
    channel = grpc.aio.insecure_channel(cluster.common.addresses.subscription)
    return channel, subscription_pb2_grpc.SubscriptionServiceStub(channel)


async def _redeemed(cluster: Cluster, http: httpx.AsyncClient, auth: dict[str, str]) -> dict:
    [code] = await issue_codes(cluster, "plus", devices=3, term_months=12)
    added = await http.post("/api/v1/subscriptions/codes", json={"code": code}, headers=auth)
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
    email, auth = await signed_in(cluster, http, "rem", language="ru")
    sub = await _redeemed(cluster, http, auth)
    settings = load_settings(SubscriptionSettings, cluster.environ)
    pool = await create_pool(settings.common.database_url, "subscription", min_size=1, max_size=4)
    clock = MovableClock()
    one = wire(PostgresStore(pool), settings, clock).scheduler
    two = wire(PostgresStore(pool), settings, clock).scheduler
    # A replica that cannot reach identity records the reminder but mails nothing.
    cut_off = wire(
        PostgresStore(pool),
        settings,
        clock,
        accounts=IdentityAccounts(f"127.0.0.1:{free_port()}", 0.5),
    ).scheduler
    ends = datetime.fromisoformat(str(sub["ends_at"]).replace("Z", "+00:00"))
    try:
        clock.now = ends - timedelta(days=20)
        assert (await cut_off.run_once()).mailed == 0
        async with pool.acquire() as conn:
            open_mail = await conn.fetchval(
                "SELECT mailed_at IS NULL FROM reminders_sent WHERE subscription_id = $1",
                uuid.UUID(str(sub["id"])),
            )
        assert open_mail
        assert _reminders(cluster, email) == []
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


async def test_the_owner_is_asked_from_identity_with_a_deadline(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await signed_in(cluster, http, "rem", language="ru")
    account_id = (await http.get("/api/v1/account", headers=auth)).json()["id"]
    accounts = IdentityAccounts(cluster.common.addresses.identity, 5.0)
    mine, nobody_there = uuid.UUID(account_id), uuid.uuid4()
    found = await accounts.contacts([mine, nobody_there])
    contact = found[mine]
    assert contact is not None
    assert (contact.email, contact.language) == (email, "ru")
    assert found[nobody_there] is None  # no such account
    nobody = IdentityAccounts(f"127.0.0.1:{free_port()}", 0.5)
    started = time.monotonic()
    with pytest.raises(AccountsUnavailableError):
        await nobody.contacts([mine])
    assert time.monotonic() - started < 5


async def _bought(http: httpx.AsyncClient, email: str, auth: dict[str, str]) -> dict:
    reply = await http.post(
        "/api/v1/orders",
        json={"plan_id": "plus", "term_months": 12, "devices": 3, "email": email, "region": "RU"},
        headers={**auth, "idempotency-key": uuid.uuid4().hex},
    )
    return await paid(http, reply)


async def _refund(cluster: Cluster, subscription_id: str) -> pb.RefundSubscriptionResponse:
    channel, stub = await _subscription_stub(cluster)
    async with channel:
        reply: pb.RefundSubscriptionResponse = await stub.RefundSubscription(
            pb.RefundSubscriptionRequest(subscription_id=subscription_id),
            timeout=15,
            metadata=await cluster.operator_metadata(),
        )
    return reply


async def test_a_refund_returns_the_money_at_the_provider_once_and_stops_the_subscription(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await signed_in(cluster, http, "rem")
    order = await _bought(http, email, auth)
    [sub] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    taken = await http.post(
        f"/api/v1/subscriptions/{sub['id']}/devices",
        json={"device_id": "pc-1", "name": "PC"},
        headers=auth,
    )
    assert taken.status_code == 200
    psp = cluster.psp
    assert psp is not None

    reply = await _refund(cluster, sub["id"])

    assert not reply.status_only
    assert reply.subscription.status == pb.SUBSCRIPTION_STATUS_REFUNDED
    [refund] = reply.refunds
    assert refund.order_id == order["id"]
    assert refund.amount_minor == order["amount_minor"]
    payment = psp.payments[psp.refunds[refund.refund_id].payment_id]
    assert payment.order_id == order["id"]
    assert payment.status == "refunded"
    # Asked again (a retry, a second operator): the same refund, no second one at the provider.
    again = await _refund(cluster, sub["id"])
    assert [r.refund_id for r in again.refunds] == [refund.refund_id]
    assert [r for r in psp.refunds.values() if r.payment_id == payment.id] == [
        psp.refunds[refund.refund_id]
    ]

    [stopped] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert stopped["status"] == "refunded"
    assert (await http.get(f"/api/v1/subscriptions/{sub['id']}/devices", headers=auth)).json() == []
    assert (await http.get("/api/v1/entitlements", headers=auth)).json() == []
    assert (await http.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "refunded"
    receipt = await cluster.mailbox.wait_for(
        email, lambda m: "refund" in m.subject.lower(), timeout=15
    )
    assert order["id"] in receipt.text
    assert refund.refund_id in receipt.text

    # The provider's signed payment.refunded notification confirms the refund; a replay of it is
    # refused and changes nothing.
    settings = load_settings(SubscriptionSettings, cluster.environ)
    conn = await asyncpg.connect(settings.common.database_url)
    try:
        deadline = time.monotonic() + 20
        while not await conn.fetchval(
            "SELECT confirmed_at IS NOT NULL FROM subscription.refunds WHERE refund_id = $1",
            refund.refund_id,
        ):
            assert time.monotonic() < deadline, "payment.refunded was not applied"
            await asyncio.sleep(0.1)
        [delivery] = [d for d in psp.deliveries.values() if refund.refund_id.encode() in d.body]
        assert delivery.statuses[-1] == 200
        assert psp.resend(delivery.event_id)
        while len(delivery.statuses) < 2:
            assert time.monotonic() < deadline, "the resent notification was not delivered"
            await asyncio.sleep(0.1)
        assert delivery.statuses[-1] == 409
        cancelled = [
            events_pb2.SubscriptionCancelled.FromString(bytes(r["payload"]))
            for r in await conn.fetch(
                "SELECT payload FROM subscription.outbox WHERE subject = $1",
                "subscription.subscription.cancelled",
            )
        ]
    finally:
        await conn.close()
    [event] = [e for e in cancelled if e.subscription_id == sub["id"]]
    assert event.refunded
    assert [(r.refund_id, r.amount_minor) for r in event.refunds] == [
        (refund.refund_id, order["amount_minor"])
    ]
    await asyncio.sleep(0.5)
    refunds_mailed = [m for m in cluster.mailbox.find(to=email) if "refund" in m.subject.lower()]
    assert len(refunds_mailed) == 1


async def test_refunding_a_code_activated_subscription_changes_its_status_only(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await signed_in(cluster, http, "rem")
    sub = await _redeemed(cluster, http, auth)
    psp = cluster.psp
    assert psp is not None
    refunds_before = len(psp.refunds)
    reply = await _refund(cluster, sub["id"])
    assert reply.status_only
    assert list(reply.refunds) == []
    assert reply.subscription.status == pb.SUBSCRIPTION_STATUS_REFUNDED
    assert len(psp.refunds) == refunds_before
    [stopped] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert stopped["status"] == "refunded"
