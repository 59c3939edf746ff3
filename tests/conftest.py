"""Fixtures shared by every test: real servers from kabinet.testing."""

import os

# gRPC's C core logs connection shutdowns (GOAWAY) at INFO; tests stop servers all the time.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# Some tests start servers (initdb, postgres) after gRPC is running in the process; gRPC's fork
# handlers then run in the child before exec and can break it. Nothing here forks to run Python.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from kabinet.testing.fixtures import *  # noqa: F403
