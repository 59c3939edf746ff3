"""Subscription rules and use cases; imports neither grpc nor asyncpg."""
