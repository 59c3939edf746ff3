"""Run the cluster's processes in the foreground with prefixed logs, and stop them in order."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

_COLORS = ("36", "32", "35", "33", "34", "31")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the launcher dies without cleaning up (e.g. SIGKILL)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Child:
    name: str
    args: list[str]
    env: Mapping[str, str]
    process: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts children, copies their output line by line with a ``name |`` prefix, stops them."""

    def __init__(self, out: IO[str] = sys.stdout) -> None:
        self.out = out
        self.children: list[Child] = []
        self._lock = threading.Lock()
        self._color = out.isatty() and os.environ.get("NO_COLOR") is None
        self._width = 12

    def say(self, name: str, line: str) -> None:
        prefix = f"{name:<{self._width}}|"
        if self._color:
            color = _COLORS[hash(name) % len(_COLORS)]
            prefix = f"\x1b[{color}m{prefix}\x1b[0m"
        with self._lock:
            self.out.write(f"{prefix} {line}\n")
            self.out.flush()

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Child:
        child = Child(name, args, env)
        child.process = subprocess.Popen(
            args,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops children in order
            preexec_fn=_die_with_parent,
        )
        child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.pump.start()
        self.children.append(child)
        return child

    def _pump(self, child: Child) -> None:
        assert child.process is not None
        assert child.process.stdout is not None
        for raw in child.process.stdout:
            self.say(child.name, raw.decode(errors="replace").rstrip())

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if not c.alive), None)

    def stop_all(self, timeout: float = 15.0) -> None:
        """SIGTERM in reverse start order (the gateway first), then SIGKILL what hangs."""
        for child in reversed(self.children):
            if child.alive:
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.say(child.name, f"did not stop in {timeout:.0f}s, killing it")
                    child.process.kill()
                    child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=2)
