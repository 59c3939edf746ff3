"""Generated from proto/kabinet/subscription/v1: do not edit, run `make proto`."""
