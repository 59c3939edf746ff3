"""Outbox rules that need no server: subjects, NATS headers, trace context, streams, URLs."""

import json
import uuid

import pytest
from opentelemetry.sdk.trace import TracerProvider

from kabinet.events.nats_link import addresses
from kabinet.events.outbox import check_subject, trace_headers
from kabinet.events.relay import message_headers
from kabinet.events.streams import STREAMS, needs_update, stream_config


@pytest.mark.parametrize(
    "subject", ["identity.account.activated", "subscription.order.completed", "a.b"]
)
def test_event_subjects_are_dotted_literal_tokens(subject: str) -> None:
    assert check_subject(subject) == subject


@pytest.mark.parametrize(
    "subject", ["", "identity", "identity.>", "identity.*.created", "a..b", "a.b c", ".a.b"]
)
def test_wildcards_blanks_and_empty_tokens_are_refused(subject: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        check_subject(subject)


def test_message_headers_add_id_and_type_to_the_stored_trace_headers() -> None:
    event_id = uuid.uuid4()
    stored = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "Nats-Msg-Id": "forged"}
    row = {"id": event_id, "event_type": "kabinet.x.v1.Y", "headers": json.dumps(stored)}
    headers = message_headers(row)
    assert headers == {
        "traceparent": stored["traceparent"],
        "Nats-Msg-Id": str(event_id),
        "Kabinet-Event-Type": "kabinet.x.v1.Y",
    }


def test_trace_headers_are_empty_without_a_trace_and_carry_the_current_span() -> None:
    assert trace_headers() == {}
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("use case") as span:
        headers = trace_headers()
    trace_id = f"{span.get_span_context().trace_id:032x}"
    assert headers["traceparent"].split("-")[1] == trace_id


def test_service_streams_capture_their_service_subjects() -> None:
    assert dict(STREAMS) == {
        "IDENTITY": ("identity.>",),
        "SUBSCRIPTION": ("subscription.>",),
        "DISTRIBUTION": ("distribution.>",),
        "SUPPORT": ("support.>",),
    }
    config = stream_config("IDENTITY", STREAMS["IDENTITY"])
    assert config.storage is not None
    assert config.storage.value == "file"
    assert config.duplicate_window == 120.0
    assert not needs_update(config, stream_config("IDENTITY", ["identity.>"]))
    assert needs_update(config, stream_config("IDENTITY", ["identity.>"], duplicate_window=60))
    assert needs_update(config, stream_config("IDENTITY", ["identity.>", "x.>"]))


def test_nats_urls_name_the_ports_to_wait_for() -> None:
    assert addresses("nats://10.0.0.1:4223,nats://10.0.0.2") == [
        ("10.0.0.1", 4223),
        ("10.0.0.2", 4222),
    ]
    assert addresses("127.0.0.1:5000") == [("127.0.0.1", 5000)]
