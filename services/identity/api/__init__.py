"""The identity service's transports."""
