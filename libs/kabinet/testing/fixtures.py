"""Real PostgreSQL and NATS for tests: one of each per test session and xdist worker.

Each test isolates itself with its own schema (``fresh_schema``) or its own stream names; fault
tests that kill a server ask ``make_postgres``/``make_nats`` for private ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kabinet.devstack.nats import EmbeddedNats
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres

__all__ = [
    "database_url",
    "fresh_schema",
    "make_nats",
    "make_postgres",
    "nats_server",
    "nats_url",
    "postgres",
    "server_root",
]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def server_root() -> Iterator[Path]:
    """A scratch folder for this worker's servers, removed at the end."""
    root = Path(tempfile.mkdtemp(prefix=f"kabinet-test-{_worker()}-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def make_postgres(server_root: Path) -> Iterator[Callable[[], EmbeddedPostgres]]:
    """Start a private PostgreSQL (fsync off); all are stopped at the end of the session."""
    started: list[EmbeddedPostgres] = []

    def start() -> EmbeddedPostgres:
        server = EmbeddedPostgres(
            server_root / f"pg-{uuid.uuid4().hex[:8]}",
            free_port(),
            durable=False,
            log=subprocess.DEVNULL,
        )
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def make_nats(server_root: Path) -> Iterator[Callable[[], EmbeddedNats]]:
    """Start a private NATS with JetStream; all are stopped at the end of the session."""
    started: list[EmbeddedNats] = []

    def start() -> EmbeddedNats:
        server = EmbeddedNats(
            server_root / f"nats-{uuid.uuid4().hex[:8]}",
            free_port(),
            free_port(),
            log=subprocess.DEVNULL,
        )
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def postgres(make_postgres: Callable[[], EmbeddedPostgres]) -> EmbeddedPostgres:
    """The worker's shared PostgreSQL server."""
    return make_postgres()


@pytest.fixture(scope="session")
def database_url(postgres: EmbeddedPostgres) -> str:
    """A database of the worker's shared server, created for this session."""
    postgres.create_database("kabinet")
    return postgres.database_url("kabinet")


@pytest.fixture(scope="session")
def nats_server(make_nats: Callable[[], EmbeddedNats]) -> EmbeddedNats:
    """The worker's shared NATS server."""
    return make_nats()


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats) -> str:
    return nats_server.url


@pytest.fixture
def fresh_schema() -> str:
    """A schema name no other test uses."""
    return f"t_{uuid.uuid4().hex[:12]}"
