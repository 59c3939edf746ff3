"""What a release runs: the migration Job's command, signing-key rotation, and the metrics a
service serves for Prometheus, on real PostgreSQL and NATS."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from kabinet import admin
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> str:
    name = f"release_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    return postgres.database_url(name)


async def _applied(url: str, schema: str) -> set[tuple[str, str]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(f'SELECT source, name FROM "{schema}".schema_migrations')
    finally:
        await conn.close()
    return {(r["source"], r["name"]) for r in rows}


async def test_migrate_applies_every_service_schema_once(database: str) -> None:
    first = await admin.migrate_all(database)
    assert [line.split(":")[0] for line in first] == list(admin.SERVICES)
    assert "identity/0001_init" in first[0]
    applied = await _applied(database, "identity")
    assert ("kabinet", "0001_events") in applied
    assert ("identity", "0001_init") in applied
    assert ("kabinet", "0001_events") in await _applied(database, "support")

    again = await admin.migrate_all(database)
    assert again == [f"{service}: up to date" for service in admin.SERVICES]


async def test_the_migrate_command_exits_zero_and_names_what_it_did(database: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KABINET_")}
    env["KABINET_DATABASE_URL"] = database
    env["KABINET_NATS_URL"] = "nats://127.0.0.1:1"  # not needed by migrate
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kabinet.admin", "migrate", "--service", "subscription"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("subscription: kabinet/0001_events")
    assert ("subscription", "0001_init") in await _applied(database, "subscription")


async def test_rotating_publishes_a_new_key_that_signs_after_the_lead_time(database: str) -> None:
    await admin.migrate_all(database, ["identity"])
    before = datetime.now(UTC)
    line = await admin.rotate_key(database, 7200)
    conn = await asyncpg.connect(database)
    try:
        rows = await conn.fetch("SELECT kid, active_from FROM identity.signing_keys")
    finally:
        await conn.close()
    assert len(rows) == 1
    assert rows[0]["kid"] in line
    lead = rows[0]["active_from"] - before
    assert timedelta(seconds=7190) < lead < timedelta(seconds=7260)


def test_rotate_refuses_a_lead_time_that_is_not_positive() -> None:
    with pytest.raises(SystemExit):
        admin.main(["keys", "rotate", "--publish-ahead", "0"])


async def _scrape(url: str, wanted: str, deadline: float) -> str:
    async with httpx.AsyncClient() as client:
        while True:
            try:
                body = (await client.get(url, timeout=2)).text
            except httpx.HTTPError:
                body = ""
            if wanted in body or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.3)


async def test_a_service_serves_its_event_metrics_for_prometheus(
    database: str, nats_url: str
) -> None:
    metrics_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KABINET_")}
    env |= {
        "KABINET_DATABASE_URL": database,
        "KABINET_NATS_URL": nats_url,
        "KABINET_DISTRIBUTION_ADDR": f"127.0.0.1:{free_port()}",
        "KABINET_METRICS_ADDR": f"127.0.0.1:{metrics_port}",
        "KABINET_LOG_FORMAT": "text",
        "KABINET_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "distribution"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        body = await _scrape(url, "kabinet_outbox_pending", time.monotonic() + 60)
        assert 'kabinet_outbox_pending{otel_scope_name="kabinet.events.distribution"' in body
        assert 'kabinet_events_parked{otel_scope_name="kabinet.events.distribution"' in body
        assert 'service="distribution"} 0.0' in body
        assert "kabinet_outbox_oldest_age_seconds" in body
        assert "kabinet_events_published_total" in body

        conn = await asyncpg.connect(database, server_settings={"search_path": "distribution"})
        try:
            await conn.execute(
                "INSERT INTO parked_events (consumer, stream, subject, event_id, event_type,"
                " payload, deliveries, error) VALUES ('distribution-x', 'IDENTITY',"
                " 'identity.account.deleted', gen_random_uuid(), 't', '\\x', 5, 'boom')"
            )
        finally:
            await conn.close()
        await asyncio.sleep(1.1)  # past the one-second cache of the last reading
        body = await _scrape(url, "kabinet_events_parked", time.monotonic() + 10)
        parked = [line for line in body.splitlines() if line.startswith("kabinet_events_parked{")]
        assert parked, body
        assert parked[0].endswith(" 1.0"), parked
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    assert process.returncode == 0, stderr.decode()
