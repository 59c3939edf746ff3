"""Port helpers shared by the embedded servers and the launcher."""

from __future__ import annotations

import random
import socket
import time


class PortInUseError(RuntimeError):
    """A configured port is taken by another process."""


# Below Linux's ephemeral range (32768-60999), where the kernel picks the local ports of outgoing
# connections: a port chosen there and handed to a server a moment later may meanwhile have been
# taken by some client socket.
_FREE_RANGE = (20000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, for servers started by tests and benchmarks."""
    for _ in range(200):
        port = random.randrange(*_FREE_RANGE)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise PortInUseError(f"no free port on {host} in {_FREE_RANGE[0]}-{_FREE_RANGE[1]}")


def ensure_free(host: str, port: int, what: str, variable: str) -> None:
    """Fail with a clear message when ``port`` is already taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"{what} cannot listen on {host}:{port}: the port is in use by another process."
                f" Stop that process or choose another port with {variable}."
            ) from None


def wait_for_port(host: str, port: int, timeout: float, alive: object = None) -> None:
    """Block until something accepts connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if callable(alive) and not alive():
                raise RuntimeError(f"the process meant to listen on {host}:{port} exited") from None
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {host}:{port} after {timeout:.0f}s"
                ) from None
            time.sleep(0.05)
