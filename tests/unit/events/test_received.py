"""What a handler receives: parsing by type, and the event id."""

import uuid

import pytest
from google.protobuf.wrappers_pb2 import Int32Value, StringValue

from kabinet.events import EventTypeMismatchError, ReceivedEvent
from kabinet.events.received import event_id_from, event_type_from


def event(message: StringValue | Int32Value) -> ReceivedEvent:
    return ReceivedEvent(
        event_id=uuid.uuid4(),
        subject="identity.account.activated",
        event_type=message.DESCRIPTOR.full_name,
        payload=message.SerializeToString(),
    )


def test_parse_decodes_the_payload_of_the_named_type() -> None:
    assert event(StringValue(value="hi")).parse(StringValue).value == "hi"


def test_parse_refuses_another_type() -> None:
    with pytest.raises(EventTypeMismatchError, match=r"google\.protobuf\.Int32Value"):
        event(Int32Value(value=3)).parse(StringValue)


def test_the_event_id_is_the_nats_msg_id() -> None:
    event_id = uuid.uuid4()
    assert event_id_from({"Nats-Msg-Id": str(event_id)}, "S", 9) == event_id


@pytest.mark.parametrize("headers", [{}, {"Nats-Msg-Id": "not-a-uuid"}])
def test_without_a_usable_msg_id_the_id_follows_the_stream_position(
    headers: dict[str, str],
) -> None:
    first = event_id_from(headers, "IDENTITY", 41)
    assert first == event_id_from(headers, "IDENTITY", 41)  # every redelivery: the same id
    assert first != event_id_from(headers, "IDENTITY", 42)
    assert first != event_id_from(headers, "SUPPORT", 41)


def test_event_type_comes_from_its_header() -> None:
    assert event_type_from({"Kabinet-Event-Type": "a.b.C"}) == "a.b.C"
    assert event_type_from({}) == ""
