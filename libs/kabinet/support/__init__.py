"""Generated from proto/kabinet/support: do not edit, run `make proto`."""
