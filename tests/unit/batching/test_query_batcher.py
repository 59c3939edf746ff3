"""QueryBatcher: concurrent questions share one query, each gets its own answer, a failed query
fails only its own batch, and a question asked after a query started waits for the next one."""

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from kabinet.batching import QueryBatcher


class FakePool:
    def __init__(self) -> None:
        self.acquired = 0
        self.released = 0

    async def acquire(self) -> object:
        self.acquired += 1
        return object()

    async def release(self, conn: object) -> None:
        self.released += 1


async def test_concurrent_questions_share_one_query_and_get_their_own_answers() -> None:
    batches: list[list[int]] = []

    async def run(conn: Any, questions: Sequence[int]) -> list[int]:
        batches.append(list(questions))
        return [q * 10 for q in questions]

    pool = FakePool()
    batcher: QueryBatcher[int, int] = QueryBatcher(pool, run)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(batcher.ask(n) for n in range(100)))
    assert answers == [n * 10 for n in range(100)]
    assert batches == [list(range(100))]
    assert pool.acquired == 1  # one kept connection
    await batcher.close()
    assert pool.released == 1


async def test_batches_are_capped_and_later_questions_wait_for_a_later_query() -> None:
    batches: list[list[int]] = []
    started = asyncio.Event()
    go_on = asyncio.Event()

    async def run(conn: Any, questions: Sequence[int]) -> list[int]:
        batches.append(list(questions))
        started.set()
        await go_on.wait()
        return list(questions)

    batcher: QueryBatcher[int, int] = QueryBatcher(FakePool(), run, max_batch=3)  # type: ignore[arg-type]
    first = [asyncio.create_task(batcher.ask(n)) for n in range(5)]
    await started.wait()
    late = asyncio.create_task(batcher.ask(99))  # asked while the first query runs
    go_on.set()
    assert await asyncio.gather(*first, late) == [0, 1, 2, 3, 4, 99]
    assert batches[0] == [0, 1, 2]
    assert 99 not in batches[0]
    assert sorted(q for b in batches[1:] for q in b) == [3, 4, 99]
    await batcher.close()


async def test_a_failing_query_fails_its_batch_and_the_next_one_works() -> None:
    calls = 0

    async def run(conn: Any, questions: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("lost")
        return list(questions)

    pool = FakePool()
    batcher: QueryBatcher[int, int] = QueryBatcher(pool, run)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await asyncio.gather(batcher.ask(1), batcher.ask(2))
    assert pool.released == 1  # the broken connection went back
    assert await batcher.ask(3) == 3
    await batcher.close()
