"""Answers that take the same time whichever way they went.

Registration, resending activation, forgotten passwords and email changes do different work for
an email that has an account and one that hasn't (a link and a mail, or nothing). Running them
inside ``at_least(seconds)`` makes both answers leave no sooner than ``seconds`` after the call
began, which hides the difference as long as the real work fits in that time. A refused sign-in
is held the same way (``hold_until``): an unknown email, a wrong password and a locked account do
slightly different database work around the same argon2id verification.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def at_least(seconds: float) -> AsyncIterator[None]:
    """Hold the caller until ``seconds`` have passed since entering, also when it raises."""
    started = time.monotonic()
    try:
        yield
    finally:
        await hold_until(started, seconds)


async def hold_until(started: float, seconds: float) -> None:
    """Sleep until ``seconds`` after ``started`` (a ``time.monotonic()`` reading), if not past."""
    rest = seconds - (time.monotonic() - started)
    if rest > 0:
        await asyncio.sleep(rest)
