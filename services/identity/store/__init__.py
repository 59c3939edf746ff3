"""Storage of the identity service (PostgreSQL)."""
