"""Fixtures shared by every test: real servers from kabinet.testing."""

import os

# gRPC's C core logs connection shutdowns (GOAWAY) at INFO; tests stop servers all the time.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from kabinet.testing.fixtures import *  # noqa: F403
