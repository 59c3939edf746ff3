"""What the subscription service publishes."""
