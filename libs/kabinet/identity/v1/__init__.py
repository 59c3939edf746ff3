"""Generated from proto/kabinet/identity/v1: do not edit, run `make proto`."""
