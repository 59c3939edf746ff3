"""The subscription service's transports."""
