"""After the purchase, through the gateway on real servers: a renewal purchase extends the end,
automatic renewal is switched on, the seat limit holds (over the RPC and from identity's device
events on JetStream), and two scheduler replicas with the clock moved forward send each reminder
once and expire the subscription after the grace period."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import nats
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kabinet.config import load_settings
from kabinet.db import create_pool
from kabinet.events import headers
from kabinet.identity.v1 import events_pb2 as identity_events
from kabinet.subscription.v1 import events_pb2
from kabinet.testing.accounts import paid, signed_in
from kabinet.testing.cluster import Cluster
from subscription.app import wire
from subscription.config import SubscriptionSettings
from subscription.store.postgres import PostgresStore

pytestmark = pytest.mark.e2e


async def _bought(
    http: httpx.AsyncClient, email: str, auth: dict[str, str], devices: int = 3
) -> dict[str, object]:
    reply = await http.post(
        "/api/v1/orders",
        json={
            "plan_id": "plus",
            "term_months": 12,
            "devices": devices,
            "email": email,
            "region": "RU",
        },
        headers={**auth, "idempotency-key": uuid.uuid4().hex},
    )
    order = await paid(http, reply)
    [sub] = [
        s
        for s in (await http.get("/api/v1/subscriptions", headers=auth)).json()
        if s["id"] == order["subscription_id"]
    ]
    return dict(sub)


async def test_a_renewal_purchase_extends_the_end_and_auto_renewal_switches_on(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await signed_in(cluster, http, "life")
    sub = await _bought(http, email, auth)
    assert not sub["auto_renew"]
    renewal = await http.post(
        f"/api/v1/subscriptions/{sub['id']}/renew",
        json={"term_months": 12, "region": "RU"},
        headers={**auth, "idempotency-key": uuid.uuid4().hex},
    )
    await paid(http, renewal)
    [renewed] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert renewed["id"] == sub["id"]
    assert int(renewed["ends_at"][:4]) == int(str(sub["ends_at"])[:4]) + 1
    assert renewed["ends_at"][4:10] == str(sub["ends_at"])[4:10]
    await cluster.mailbox.wait_for(email, lambda m: "renewed" in m.subject, timeout=15)

    on = await http.put(
        f"/api/v1/subscriptions/{sub['id']}/auto-renew", json={"auto_renew": True}, headers=auth
    )
    assert on.status_code == 200
    assert on.json()["auto_renew"]
    _, stranger = await signed_in(cluster, http, "life")
    theirs = await http.put(
        f"/api/v1/subscriptions/{sub['id']}/auto-renew",
        json={"auto_renew": False},
        headers=stranger,
    )
    assert theirs.status_code == 404


async def test_the_seat_limit_holds_over_the_api_and_from_device_events(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await signed_in(cluster, http, "life")
    sub = await _bought(http, email, auth, devices=3)
    devices = f"/api/v1/subscriptions/{sub['id']}/devices"
    for n in range(2):
        taken = await http.post(devices, json={"device_id": f"pc-{n}", "name": "PC"}, headers=auth)
        assert taken.status_code == 200, taken.text
        assert taken.json()["devices_in_use"] == n + 1

    # The third seat from identity's device.connected event (as the device registry emits it).
    account_id = (await http.get("/api/v1/account", headers=auth)).json()["id"]
    await _publish_device_event(cluster, "identity.device.connected", account_id, "phone-1")
    deadline = time.monotonic() + 15
    while len((await http.get(devices, headers=auth)).json()) < 3:
        assert time.monotonic() < deadline, "device.connected did not take a seat"
        await asyncio.sleep(0.1)
    # The same event delivered again (another delivery id): handled (not failed and retried),
    # still one seat for the phone.
    before = await _handled_device_events(cluster)
    await _publish_device_event(cluster, "identity.device.connected", account_id, "phone-1")
    while await _handled_device_events(cluster) == before:
        assert time.monotonic() < deadline + 15, "the second device.connected was not handled"
        await asyncio.sleep(0.1)
    listed_devices = (await http.get(devices, headers=auth)).json()
    assert [d["device_id"] for d in listed_devices].count("phone-1") == 1
    assert len(listed_devices) == 3

    full = await http.post(
        devices, json={"device_id": "pc-9"}, headers={**auth, "accept-language": "ru"}
    )
    assert full.status_code == 409
    assert full.json()["code"] == "seats.limit_reached"
    assert "3" in full.json()["detail"]

    await _publish_device_event(cluster, "identity.device.disconnected", account_id, "phone-1")
    while len((await http.get(devices, headers=auth)).json()) > 2:
        assert time.monotonic() < deadline + 15, "device.disconnected did not free the seat"
        await asyncio.sleep(0.1)
    assert (await http.post(devices, json={"device_id": "pc-9"}, headers=auth)).status_code == 200
    freed = await http.delete(f"{devices}/pc-0", headers=auth)
    assert freed.status_code == 204
    listed = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert listed[0]["devices_in_use"] == 2

    cancelled = await http.post(f"/api/v1/subscriptions/{sub['id']}/cancel", headers=auth)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (await http.get(devices, headers=auth)).json() == []
    assert (await http.get("/api/v1/entitlements", headers=auth)).json() == []


async def _handled_device_events(cluster: Cluster) -> int:
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM subscription.inbox WHERE consumer = $1", "subscription-devices"
        )
    finally:
        await conn.close()
    return int(count)


async def _publish_device_event(
    cluster: Cluster, subject: str, account_id: str, device_id: str
) -> None:
    at = Timestamp()
    at.FromDatetime(datetime.now(UTC))
    if subject.endswith("connected") and not subject.endswith("disconnected"):
        message = identity_events.DeviceConnected(
            account_id=account_id,
            device_id=device_id,
            name="Phone",
            platform="android",
            client_id="kabinet-app",
            app_version="1.0",
            occurred_at=at,
        )
    else:
        message = identity_events.DeviceDisconnected(  # type: ignore[assignment]
            account_id=account_id, device_id=device_id, reason="by_owner", occurred_at=at
        )
    client = await nats.connect(cluster.environ["KABINET_NATS_URL"])
    try:
        await client.jetstream().publish(
            subject,
            message.SerializeToString(),
            headers={
                headers.MSG_ID: str(uuid.uuid4()),
                headers.EVENT_TYPE: message.DESCRIPTOR.full_name,
            },
        )
    finally:
        await client.close()


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_two_schedulers_send_each_reminder_once_and_expire_after_the_grace(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await signed_in(cluster, http, "life")
    sub = await _bought(http, email, auth)
    settings = load_settings(SubscriptionSettings, cluster.environ)
    pool = await create_pool(settings.common.database_url, "subscription", min_size=1, max_size=4)
    clock = MovableClock()
    one = wire(PostgresStore(pool), settings, clock).scheduler
    two = wire(PostgresStore(pool), settings, clock).scheduler
    ends = datetime.fromisoformat(str(sub["ends_at"]).replace("Z", "+00:00"))
    try:
        for days_left in (20, 19, 5, 0.5):
            clock.now = ends - timedelta(days=days_left)
            for _ in range(3):
                await asyncio.gather(one.run_once(), two.run_once())
        clock.now = ends + timedelta(days=settings.schedule.grace_days, seconds=1)
        passes = await asyncio.gather(one.run_once(), two.run_once())
        passes += await asyncio.gather(one.run_once(), two.run_once())
        # (The moved clock expires the other tests' subscriptions in this database too.)
        assert sum(p.led for p in passes) >= 1
    finally:
        await pool.close()

    conn = await asyncpg.connect(settings.common.database_url)
    try:
        sent = await conn.fetch(
            "SELECT days_before FROM subscription.reminders_sent WHERE subscription_id = $1"
            " ORDER BY days_before DESC",
            uuid.UUID(str(sub["id"])),
        )
        expired_events = await conn.fetch(
            "SELECT payload FROM subscription.outbox WHERE subject = $1",
            "subscription.subscription.expired",
        )
    finally:
        await conn.close()
    assert [r["days_before"] for r in sent] == [30, 7, 1]
    mine = [
        r
        for r in expired_events
        if events_pb2.SubscriptionExpired.FromString(bytes(r["payload"])).subscription_id
        == sub["id"]
    ]
    assert len(mine) == 1
    deadline = time.monotonic() + 15
    while len(_reminders(cluster, email)) < 3:
        assert time.monotonic() < deadline, _reminders(cluster, email)
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert sorted(_reminders(cluster, email)) == [
        "Your Kabinet subscription ends in 1 days",
        "Your Kabinet subscription ends in 30 days",
        "Your Kabinet subscription ends in 7 days",
    ]
    [expired] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert expired["status"] == "expired"
    assert (await http.get("/api/v1/entitlements", headers=auth)).json() == []


def _reminders(cluster: Cluster, email: str) -> list[str]:
    return [m.subject for m in cluster.mailbox.find(to=email) if "ends in" in m.subject]


async def test_automatic_renewal_charges_the_saved_card_through_the_psp(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await signed_in(cluster, http, "life")
    sub = await _bought(http, email, auth)
    on = await http.put(
        f"/api/v1/subscriptions/{sub['id']}/auto-renew", json={"auto_renew": True}, headers=auth
    )
    assert on.status_code == 200
    settings = load_settings(SubscriptionSettings, cluster.environ)
    pool = await create_pool(settings.common.database_url, "subscription", min_size=1, max_size=2)
    clock = MovableClock()
    ends = datetime.fromisoformat(str(sub["ends_at"]).replace("Z", "+00:00"))
    clock.now = ends - timedelta(days=1)
    try:
        scheduler = wire(PostgresStore(pool), settings, clock).scheduler
        results = [await scheduler.run_once() for _ in range(2)]
    finally:
        await pool.close()
    assert sum(r.renewals for r in results) >= 1
    # The PSP charges the card saved at the purchase and notifies the webhook; the end moves.
    deadline = time.monotonic() + 20
    while True:
        [now] = (await http.get("/api/v1/subscriptions", headers=auth)).json()
        if now["ends_at"] != sub["ends_at"]:
            break
        assert time.monotonic() < deadline, "the automatic renewal did not extend the end"
        await asyncio.sleep(0.1)
    assert int(now["ends_at"][:4]) == int(str(sub["ends_at"])[:4]) + 1
    await cluster.mailbox.wait_for(email, lambda m: "renewed" in m.subject, timeout=15)
    await asyncio.sleep(0.5)
    renewals = [m for m in cluster.mailbox.find(to=email) if "renewed" in m.subject]
    assert len(renewals) == 1
