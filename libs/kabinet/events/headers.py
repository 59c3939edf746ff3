"""NATS header names every Kabinet event carries."""

# JetStream de-duplicates on it; Kabinet sets it to the event id (the outbox row id).
MSG_ID = "Nats-Msg-Id"
# The protobuf full name of the payload, e.g. ``kabinet.identity.v1.AccountActivated``.
EVENT_TYPE = "Kabinet-Event-Type"
# W3C trace context, so one trace continues from the writer through the bus to the handler.
TRACEPARENT = "traceparent"
