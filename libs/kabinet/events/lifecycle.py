"""Start/stop bookkeeping shared by the long-running event workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Lifecycle:
    """A stop request that interrupts waits, and a flag telling ``stop()`` the worker has exited."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.stopped = asyncio.Event()
        self.stopped.set()

    def begin(self) -> None:
        """Called by ``run()`` as it starts."""
        self.stopping.clear()
        self.stopped.clear()

    def end(self) -> None:
        """Called by ``run()`` as it returns; releases whoever waits in ``stop()``."""
        self.stopped.set()

    @property
    def stop_requested(self) -> bool:
        """Whether ``stop()`` was called."""
        return self.stopping.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def unless_stopped(self, awaitable: Awaitable[T]) -> T | None:
        """Await ``awaitable``; if a stop is requested first, cancel it and return ``None``."""
        task = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            stopper.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
