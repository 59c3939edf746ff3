"""Generated from proto/kabinet/identity: do not edit, run `make proto`."""
