"""Payment provider adapters (the ``PaymentProvider`` port)."""
