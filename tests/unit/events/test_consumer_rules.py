"""Consumer rules that need no server: retry delays, error text, the JetStream consumer."""

from typing import Any

import pytest

from kabinet.events import EventConsumer, ReceivedEvent
from kabinet.events.consumer import describe_error, retry_delay


async def handler(conn: Any, event: ReceivedEvent) -> None:
    return None


def make(**options: Any) -> EventConsumer:
    settings: dict[str, Any] = {
        "stream": "IDENTITY",
        "durable": "subscription-accounts",
        "subjects": ["identity.account.>"],
        "handler": handler,
        **options,
    }
    return EventConsumer(None, "nats://127.0.0.1:4222", **settings)


def test_retry_delay_doubles_from_the_base_and_stops_at_the_cap() -> None:
    delays = [retry_delay(n, 0.5, 3.0) for n in range(1, 6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert retry_delay(0, 0.5, 3.0) == 0.5


def test_describe_error_keeps_type_and_message_only_and_bounds_the_length() -> None:
    assert describe_error(ValueError("bad input")) == "ValueError: bad input"
    assert len(describe_error(RuntimeError("x" * 5000))) == 1000


def test_the_jetstream_consumer_is_durable_explicit_ack_and_never_gives_up() -> None:
    worker = make(ack_wait=12.0, subjects=["identity.account.>", "identity.order.>"])
    wanted = worker.consumer_config()
    assert wanted.durable_name == "subscription-accounts"
    assert wanted.ack_policy is not None
    assert wanted.ack_policy.value == "explicit"
    assert wanted.ack_wait == 12.0
    # Parking is decided by the consumer, so the server must not drop a message on its own.
    assert wanted.max_deliver == -1
    assert wanted.filter_subjects == ["identity.account.>", "identity.order.>"]
    assert wanted.filter_subject is None


@pytest.mark.parametrize(("option", "value"), [("subjects", []), ("max_deliver", 0)])
def test_nonsense_settings_are_refused(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"subject|max_deliver"):
        make(**{option: value})
