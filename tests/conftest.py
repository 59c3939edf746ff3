"""Fixtures shared by every test: real servers from kabinet.testing."""

from kabinet.testing.fixtures import *  # noqa: F403
