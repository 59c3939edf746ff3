"""Generated from proto/kabinet/subscription: do not edit, run `make proto`."""
