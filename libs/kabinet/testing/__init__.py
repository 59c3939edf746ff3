"""Pytest fixtures that start real servers: import them from a conftest with
``from kabinet.testing.fixtures import *``."""
