"""kabinet-admin against real PostgreSQL and NATS: lag, parked events, replay requests."""

import uuid

import asyncpg
import nats
import pytest

from kabinet import admin, db
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.events.streams import ensure_stream

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(postgres: EmbeddedPostgres) -> str:
    name = f"admin_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    url = postgres.database_url(name)
    conn = await asyncpg.connect(url)
    try:
        await db.migrate(conn, "support", [("kabinet", db.SHARED_MIGRATIONS)])
    finally:
        await conn.close()
    return url


async def _park(url: str) -> uuid.UUID:
    conn = await asyncpg.connect(url, server_settings={"search_path": "support"})
    try:
        return await conn.fetchval(
            "INSERT INTO parked_events (consumer, stream, subject, event_id, event_type, payload,"
            " deliveries, error) VALUES ('support-erasure', 'IDENTITY',"
            " 'identity.account.deleted', gen_random_uuid(), 'kabinet.identity.v1.AccountDeleted',"
            " '\\x', 5, 'ValueError: boom') RETURNING id"
        )
    finally:
        await conn.close()


async def test_parked_events_are_listed_and_a_replay_is_requested_once(database: str) -> None:
    parked_id = await _park(database)
    listed = await admin.parked(database, "support", include_replayed=False)
    assert len(listed) == 1
    assert str(parked_id) in listed[0]
    assert "identity.account.deleted" in listed[0]
    assert "ValueError: boom" in listed[0]
    assert "parked at" in listed[0]

    assert await admin.replay(database, "support", parked_id) is True
    again = await admin.parked(database, "support", include_replayed=False)
    assert "replay requested" in again[0]
    assert await admin.replay(database, "support", uuid.uuid4()) is False


async def test_lag_reports_the_outbox_and_consumers(database: str, nats_url: str) -> None:
    conn = await asyncpg.connect(database, server_settings={"search_path": "support"})
    try:
        await conn.execute(
            "INSERT INTO outbox (subject, event_type, payload, headers)"
            " VALUES ('support.ticket.created', 't', '\\x', '{}')"
        )
    finally:
        await conn.close()
    probe = f"admin-probe-{uuid.uuid4().hex[:8]}"
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        await ensure_stream(js, "SUPPORT", ["support.>"])
        subject = f"support.probe.{uuid.uuid4().hex}"
        await js.add_consumer("SUPPORT", durable_name=probe, filter_subject=subject)
        await js.publish(subject, b"x")
    finally:
        await client.close()

    lines = await admin.lag(database, nats_url)
    support = next(line for line in lines if line.strip().startswith("support "))
    assert "pending      1" in support
    consumer = next(line for line in lines if probe in line)
    assert "pending      1" in consumer
