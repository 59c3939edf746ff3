"""The deadline of the gRPC call being served, so that calls made while serving it inherit it.

The server interceptor records the deadline of each incoming call (the caller's, or the server's
default when the caller sent none); the client channel caps the timeout of every outgoing call by
what is left of it. A chain gateway → identity → subscription then gives up together instead of
the last hop working for a caller that has already gone. Tasks spawned while serving a call copy
the context and inherit its deadline; work meant to outlive the call belongs in the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar, Token

_deadline: ContextVar[float | None] = ContextVar("kabinet_rpc_deadline", default=None)


def remaining() -> float | None:
    """Seconds left until the deadline of the call being served, or None outside a call."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


@contextmanager
def serving_until(seconds: float) -> Iterator[None]:
    """Within the block, ``remaining()`` counts down from ``seconds``."""
    token = enter(seconds)
    try:
        yield
    finally:
        leave(token)


def enter(seconds: float) -> Token[float | None]:
    """``serving_until`` in two steps, for code that cannot wrap the call in a block:
    ``remaining()`` counts down from ``seconds`` until ``leave`` gets the token returned."""
    return _deadline.set(time.monotonic() + seconds)


def leave(token: Token[float | None]) -> None:
    """Undo the ``enter`` that returned ``token``."""
    # An async generator may be closed from another context (loop shutdown); the value then dies
    # with that context anyway.
    with suppress(ValueError):
        _deadline.reset(token)
