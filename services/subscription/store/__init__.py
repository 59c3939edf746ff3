"""The subscription ports on PostgreSQL."""
