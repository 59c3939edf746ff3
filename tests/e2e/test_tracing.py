"""One trace follows a request from the gateway through a service, the outbox and NATS into an
event consumer."""

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kabinet import db
from kabinet.events import EventConsumer, ReceivedEvent
from kabinet.identity.v1 import events_pb2
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e


async def test_one_trace_spans_gateway_service_and_consumer(
    cluster: Cluster, http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    email = f"trace-{uuid.uuid4().hex[:8]}@example.com"
    seen: list[tuple[str, int]] = []
    schema = f"probe_{uuid.uuid4().hex[:8]}"
    url = cluster.environ["KABINET_DATABASE_URL"]
    conn = await asyncpg.connect(url)
    await db.migrate(conn, schema, [("kabinet", db.SHARED_MIGRATIONS)])
    await conn.close()
    pool = await db.create_pool(url, schema, min_size=1, max_size=2)

    async def handler(_: asyncpg.Connection, event: ReceivedEvent) -> None:
        registered = event.parse(events_pb2.AccountRegistered)
        if registered.email == email:
            seen.append((registered.email, trace.get_current_span().get_span_context().trace_id))

    consumer = EventConsumer(
        pool,
        cluster.environ["KABINET_NATS_URL"],
        stream="IDENTITY",
        durable=f"probe-{schema}",
        subjects=["identity.account.registered"],
        handler=handler,
        schema=schema,
    )
    task = asyncio.create_task(consumer.run())
    try:
        reply = await http.post(
            "/api/v1/auth/register",
            json={"email": email, "password": "Vesna-Kuku-2024", "language": "en"},
        )
        assert reply.status_code == 202
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
        await asyncio.wait_for(task, 10)
        await pool.close()

    assert seen, "the consumer never saw the event"
    consumer_trace = seen[0][1]
    finished = spans.get_finished_spans()
    gateway = [
        s for s in finished if s.kind == trace.SpanKind.SERVER and "/api/v1/auth/register" in s.name
    ]
    assert gateway, [s.name for s in finished][-20:]
    trace_id = gateway[-1].context.trace_id
    in_trace = {s.name for s in finished if s.context.trace_id == trace_id}
    assert any("IdentityService/Register" in name for name in in_trace), in_trace
    assert consumer_trace == trace_id
