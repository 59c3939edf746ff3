"""What a consumer's handler receives: one event, its id, type, payload and headers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import Message

from kabinet.events import headers as h

M = TypeVar("M", bound=Message)

# Names the id of an event that came without a usable Nats-Msg-Id (not published by a relay):
# derived from its place in the stream, so every redelivery gets the same id.
_FOREIGN = uuid.UUID("6b1d0f0e-7a53-4d1c-9a6e-6b6162696e65")


class EventTypeMismatchError(ValueError):
    """The event is not of the message type the handler asked for."""


@dataclass(frozen=True)
class ReceivedEvent:
    """One delivery of an event to a consumer."""

    event_id: uuid.UUID
    subject: str
    event_type: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    deliveries: int = 1
    stream: str = ""
    stream_sequence: int = 0

    def parse(self, message_cls: type[M]) -> M:
        """Decode the payload as ``message_cls``, refusing an event of another type."""
        expected = message_cls.DESCRIPTOR.full_name
        if self.event_type != expected:
            raise EventTypeMismatchError(
                f"event {self.event_id} is {self.event_type!r}, not {expected!r}"
            )
        return message_cls.FromString(self.payload)


def event_id_from(headers: Mapping[str, str], stream: str, stream_sequence: int) -> uuid.UUID:
    """The event id from ``Nats-Msg-Id``, or a stable stand-in derived from the stream position."""
    raw = headers.get(h.MSG_ID)
    if raw:
        try:
            return uuid.UUID(raw)
        except ValueError:
            pass
    return uuid.uuid5(_FOREIGN, f"{stream}:{stream_sequence}")


def event_type_from(headers: Mapping[str, str]) -> str:
    """The payload's protobuf full name from ``Kabinet-Event-Type`` (empty if absent)."""
    return headers.get(h.EVENT_TYPE, "")
