"""Events: transactional outbox, relay to NATS JetStream, idempotent consumers, parking.

Write an event with ``publish_event(conn, subject, message)`` inside the transaction of the state
change; run one ``OutboxRelay`` per service schema; consume with ``EventConsumer``.
"""

from kabinet.events.consumer import ConsumerStats, EventConsumer, Handler
from kabinet.events.outbox import outbox_lag, publish_event
from kabinet.events.parking import ParkedEvent, count_parked, list_parked, request_replay
from kabinet.events.received import EventTypeMismatchError, ReceivedEvent
from kabinet.events.relay import OutboxRelay, RelayStats
from kabinet.events.streams import STREAMS, ensure_stream, ensure_streams

__all__ = [
    "STREAMS",
    "ConsumerStats",
    "EventConsumer",
    "EventTypeMismatchError",
    "Handler",
    "OutboxRelay",
    "ParkedEvent",
    "ReceivedEvent",
    "RelayStats",
    "count_parked",
    "ensure_stream",
    "ensure_streams",
    "list_parked",
    "outbox_lag",
    "publish_event",
    "request_replay",
]
