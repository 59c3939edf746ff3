"""Generated from proto/kabinet/distribution: do not edit, run `make proto`."""
