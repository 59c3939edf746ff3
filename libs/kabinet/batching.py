"""Concurrent read-only lookups answered by one query: a hot path's round trips shared.

Each caller ``ask``s one question and waits; the next query answers every question waiting at
that moment (up to ``max_batch``), on a connection kept for this alone (no pool round trip per
question; asyncpg prepares the statement once on it). A query starts one turn of the event loop
after the first question that waits for it, and no sooner than ``min_interval`` after the
previous query started; when questions come faster than that, each query answers all that came
meanwhile, which costs a question a millisecond at most. Answers stay exact: every question is
answered by a query that started after it was asked, so a change committed before a question was
asked is always seen. Nothing is cached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

Q = TypeVar("Q")
A = TypeVar("A")

# Under load, batched queries start at most this often, in seconds.
MIN_INTERVAL = 0.001

# ``run(conn, questions)`` answers each question, in order, with one query on ``conn``.
Run = Callable[[asyncpg.Connection, Sequence[Q]], Awaitable[Sequence[A]]]


@dataclass
class _Waiting(Generic[Q, A]):
    question: Q
    answer: asyncio.Future[A]


class QueryBatcher(Generic[Q, A]):
    """See the module's note. ``close()`` before the pool closes."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        run: Run[Q, A],
        *,
        max_batch: int = 500,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        self._pool = pool
        self._run = run
        self._max_batch = max_batch
        self._min_interval = min_interval
        self._waiting: list[_Waiting[Q, A]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._last_query = float("-inf")
        self.queries = 0

    async def ask(self, question: Q) -> A:
        answer: asyncio.Future[A] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(question, answer))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await answer

    async def close(self) -> None:
        """Give the connection back to the pool."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._pool.release(conn)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            await asyncio.sleep(max(0.0, self._last_query + self._min_interval - loop.time()))
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            self._last_query = loop.time()
            try:
                answers = await self._query([w.question for w in batch])
            except Exception as error:  # each waiter fails the way a query of its own would
                for waiting in batch:
                    if not waiting.answer.done():
                        waiting.answer.set_exception(error)
                continue
            for waiting, answer in zip(batch, answers, strict=True):
                if not waiting.answer.done():
                    waiting.answer.set_result(answer)

    async def _query(self, questions: list[Q]) -> Sequence[A]:
        if self._conn is None:
            self._conn = await self._pool.acquire()
        self.queries += 1
        try:
            return await self._run(self._conn, questions)
        except BaseException:
            # A broken connection goes back to the pool (which discards it); the next question
            # takes a fresh one.
            conn, self._conn = self._conn, None
            await self._pool.release(conn)
            raise
