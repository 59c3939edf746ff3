"""Generated from proto/kabinet/support/v1: do not edit, run `make proto`."""
