"""Generated from proto/kabinet/distribution/v1: do not edit, run `make proto`."""
