"""The distribution service."""
