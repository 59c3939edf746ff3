"""Rows of a read model kept in memory and dropped the moment PostgreSQL says they changed.

A hot read path (subscription's CheckEntitlement) answers from memory instead of a round trip to
the database. The database keeps it exact: a trigger NOTIFYs ``channel`` with the group of every
changed row (say, the account) in the transaction that changes it (``*`` for a change that touches
every group), so each replica hears of a change right after its commit and drops every key of that
group (``group_of`` tells a key's group, ``group_named`` reads one from a notification).

* The replica that made a change drops the group itself right after its commit (``forget``), so
  it reads its own writes at once; other replicas lag by the notification's trip (milliseconds).
* While the LISTEN is down nothing is served from memory (a notification sent then is lost), and
  when it is back, everything kept before is dropped. A closed connection is noticed at once; one
  that went silent, at the listener's next keepalive (5 s): the longest an answer can be stale.
* A load that began before a drop is answered but not kept: it may predate the change.
* An entry is read again after ``max_age`` seconds, and at most ``max_entries`` are kept (the least
  recently used go first).

``report_to(meter, prefix)`` publishes how many answers came from memory and from the database,
and how many entries are kept (operators size ``max_entries`` by them).

Misses are loaded by a :class:`kabinet.batching.QueryBatcher`: concurrent misses share a query,
which starts one loop turn after the first miss waiting for it (no minimum interval: at 2,000
checks a second, 1 ms apart doubled the p50 of entitlement checks).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

import asyncpg
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from kabinet.batching import QueryBatcher, Run
from kabinet.events.listener import PgListener

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
G = TypeVar("G", bound=Hashable)

EVERY_GROUP = "*"


class NotifiedCache(Generic[K, G, V]):
    """See the module's note. ``start()`` once the loop runs; ``close()`` before the pool closes.
    Until started (or while not listening) every ``get`` is a load."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        channel: str,
        load: Run[K, V],
        *,
        group_of: Callable[[K], G],
        group_named: Callable[[str], G | None],
        max_entries: int,
        max_age: float = 300.0,
    ) -> None:
        self._loads: QueryBatcher[K, V] = QueryBatcher(pool, load, min_interval=0.0)
        self._group_of = group_of
        self._group_named = group_named
        self._max_entries = max_entries
        self._max_age = max_age
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._groups: dict[G, list[K]] = {}  # a group's kept keys (a list: few, and smaller)
        # Grows with every drop: a load that saw it change may predate the change.
        self._drops = 0
        self._listener = PgListener(
            pool,
            channel,
            asyncio.Event(),
            on_payload=self._notified,
            on_established=self.clear,
        )
        self._listening: asyncio.Task[None] | None = None
        self.from_memory = 0
        self.from_database = 0

    @property
    def listening(self) -> bool:
        """Whether changes are being heard (entries are served and kept only then)."""
        return self._listener.listening

    @property
    def established(self) -> int:
        """How many times the LISTEN was (re-)established; everything is dropped each time."""
        return self._listener.established

    @property
    def kept(self) -> int:
        """How many entries are kept now."""
        return len(self._entries)

    def report_to(self, meter: metrics.Meter, prefix: str, labels: Mapping[str, str]) -> None:
        """Publish ``{prefix}.answers`` (by ``from``: memory or database) and ``{prefix}.kept``."""

        def answers(_options: CallbackOptions) -> list[Observation]:
            return [
                Observation(self.from_memory, {**labels, "from": "memory"}),
                Observation(self.from_database, {**labels, "from": "database"}),
            ]

        meter.create_observable_counter(
            f"{prefix}.answers",
            [answers],
            unit="{answer}",
            description="answers given since the process started, from memory or the database",
        )
        meter.create_observable_gauge(
            f"{prefix}.kept",
            [lambda _options: [Observation(self.kept, dict(labels))]],
            unit="{entry}",
            description="answers kept in memory",
        )

    def start(self) -> None:
        """Begin listening (entries are kept from then on)."""
        if self._listening is None:
            self._listening = asyncio.create_task(
                self._listener.run(), name=f"listen {self._listener.channel}"
            )

    async def close(self) -> None:
        """Stop listening and give the connections back to the pool."""
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
            self._listening = None
        self.clear()
        await self._loads.close()

    async def get(self, key: K) -> V:
        """The value for ``key``: from memory when it is known to be current, else loaded."""
        now = time.monotonic()
        if self._listener.listening:
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] < self._max_age:
                self._entries.move_to_end(key)
                self.from_memory += 1
                return entry[1]
        self.from_database += 1
        drops = self._drops
        value = await self._loads.ask(key)
        if self._listener.listening and drops == self._drops:
            self._keep(key, now, value)
        return value

    def _keep(self, key: K, now: float, value: V) -> None:
        if key not in self._entries:
            self._groups.setdefault(self._group_of(key), []).append(key)
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self._max_entries:
            oldest, _ = self._entries.popitem(last=False)
            group = self._group_of(oldest)
            keys = self._groups[group]
            keys.remove(oldest)
            if not keys:
                del self._groups[group]

    def forget(self, group: G) -> None:
        """Drop what is kept for every key of ``group`` (its rows changed)."""
        self._drops += 1
        for key in self._groups.pop(group, ()):
            del self._entries[key]

    def clear(self) -> None:
        """Drop everything kept."""
        self._drops += 1
        self._entries.clear()
        self._groups.clear()

    def _notified(self, payload: str) -> bool:
        group = None if payload == EVERY_GROUP else self._group_named(payload)
        if group is None:
            self.clear()
        else:
            self.forget(group)
        return False  # nothing waits on the listener's wake event
