"""Writing events: a row in the service's ``outbox`` table, in the caller's transaction.

The state change and its event commit together or not at all; the relay publishes committed rows
to JetStream later. Nothing here talks to NATS, so writes keep working while NATS is down.
"""

from __future__ import annotations

import json
import re
import uuid

import asyncpg
from google.protobuf.message import Message
from opentelemetry import propagate, trace

_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")

_INSERT = (
    "INSERT INTO outbox (id, subject, event_type, payload, headers)"
    " VALUES ($1, $2, $3, $4, $5::jsonb)"
)


def check_subject(subject: str) -> str:
    """Refuse subjects that are empty, have wildcards or blanks, or are a single token."""
    if not _SUBJECT.match(subject):
        raise ValueError(f"not a valid event subject: {subject!r}")
    return subject


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``, baggage) of the current OpenTelemetry context.

    Empty when there is no active trace; works whether or not an SDK is configured.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def publish_event(
    conn: asyncpg.Connection,
    subject: str,
    message: Message,
    *,
    event_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue ``message`` for publication on ``subject``, as part of the caller's transaction.

    ``conn`` must be inside a transaction (the one that writes the state change). Returns the
    event id, which becomes the JetStream ``Nats-Msg-Id`` and the consumers' inbox key.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("publish_event must run inside the transaction of the state change")
    check_subject(subject)
    event_id = event_id or uuid.uuid4()
    tracer = trace.get_tracer(__name__)
    with tracer.start_as_current_span(f"{subject} create", kind=trace.SpanKind.PRODUCER) as span:
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.system": "nats",
                    "messaging.destination.name": subject,
                    "messaging.message.id": str(event_id),
                }
            )
        headers = trace_headers()
        await conn.execute(
            _INSERT,
            event_id,
            subject,
            message.DESCRIPTOR.full_name,
            message.SerializeToString(),
            json.dumps(headers),
        )
    return event_id


async def outbox_lag(conn: asyncpg.Connection) -> tuple[int, float]:
    """How many events wait in this schema's outbox, and the age in seconds of the oldest.

    ``(0, 0.0)`` when everything has been published. Meant for metrics and health checks.
    """
    row = await conn.fetchrow(
        "SELECT count(*) AS pending,"
        " coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS age"
        " FROM outbox WHERE published_at IS NULL"
    )
    assert row is not None
    return int(row["pending"]), float(row["age"])
