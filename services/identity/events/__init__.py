"""What identity publishes on ``identity.>`` (through its outbox)."""
