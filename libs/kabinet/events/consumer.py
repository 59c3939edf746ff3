"""Idempotent event consumers: a durable JetStream pull consumer with explicit ack.

Each event is handled in one PostgreSQL transaction that also records ``(consumer, event_id)`` in
the ``inbox`` table, so a redelivered event (after a crash before the ack, a relay re-publish, ...)
finds its id there and is acknowledged without running the handler again. The ack is sent only
after the commit. A failing handler is retried with a growing delay; once the delivery count
reaches ``max_deliver`` the event is parked in ``parked_events`` (and terminated on the bus), from
where an operator can ask for a replay (``kabinet.events.parking``), which this consumer runs.

The pull loop keeps one pull request outstanding and handles each message as it arrives (nats-py's
``fetch`` waits for a whole batch), which keeps commit-to-handler latency in milliseconds. When
several messages are already waiting, up to ``transaction_batch`` of them share one transaction
(one inbox insert, one commit, acks flushed together); if any of their handlers fails, that
transaction is rolled back and each of them is handled again in a transaction of its own, so a
failure still concerns only its own event. Handlers must therefore keep their effects in the
database transaction they are given (a rolled-back run leaves nothing behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy
from opentelemetry import propagate, trace

from kabinet.events.held import HeldConnection, is_broken
from kabinet.events.lifecycle import Lifecycle
from kabinet.events.listener import PgListener
from kabinet.events.nats_link import NatsLink
from kabinet.events.received import ReceivedEvent, event_id_from, event_type_from

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, ReceivedEvent], Awaitable[None]]

_INBOX = (
    "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true"
)
_INBOX_MANY = (
    "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[])"
    " ON CONFLICT DO NOTHING RETURNING event_id"
)
_PARK = (
    "INSERT INTO parked_events (consumer, stream, subject, event_id, event_type, payload,"
    " headers, deliveries, error) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)"
    " ON CONFLICT (consumer, event_id) DO UPDATE SET error = EXCLUDED.error,"
    " deliveries = EXCLUDED.deliveries, parked_at = now(), replay_requested_at = NULL"
    " WHERE parked_events.replayed_at IS NULL"
)
_NEXT_REPLAY = (
    "SELECT id, stream, subject, event_id, event_type, payload, headers, deliveries"
    " FROM parked_events WHERE consumer = $1 AND replay_requested_at IS NOT NULL"
    " AND replayed_at IS NULL ORDER BY replay_requested_at LIMIT 1 FOR UPDATE SKIP LOCKED"
)
_REPLAYED = (
    "UPDATE parked_events SET replayed_at = clock_timestamp(), deliveries = deliveries + 1"
    " WHERE id = $1"
)
_REPLAY_FAILED = (
    "UPDATE parked_events SET error = $2, replay_requested_at = NULL,"
    " deliveries = deliveries + 1 WHERE id = $1"
)
_ERROR_TEXT_LIMIT = 1000
# How long a consumer keeps its connection while waiting for the next message.
_IDLE_RELEASE = 0.1

# Put into the message queue by stop() so that a waiting pull loop wakes up at once.
_STOP = object()
# Put into the message queue after nats-py reconnected: the pull request may be lost, renew it.
_RENEW = object()


@dataclass(frozen=True)
class ConsumerStats:
    """What a consumer has done since it was created."""

    handled: int
    duplicates: int
    retried: int
    parked: int
    replayed: int
    nats_connections: int
    listens: int


class HandlerFailedError(Exception):
    """The handler raised: the transaction was rolled back and the delivery counts as failed."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(describe_error(error))
        self.error = error


def describe_error(error: BaseException) -> str:
    """The error text kept with a parked event: exception type and message, no traceback."""
    text = f"{type(error).__qualname__}: {error}"
    return text[:_ERROR_TEXT_LIMIT]


def retry_delay(deliveries: int, base: float, cap: float) -> float:
    """Delay before redelivering after the ``deliveries``-th failed attempt: doubling, capped."""
    return min(base * 2 ** max(deliveries - 1, 0), cap)


def _is_signal(item: object) -> bool:
    return item is _STOP or item is _RENEW


def _status(msg: Msg) -> str | None:
    if msg.headers is None:
        return None
    return msg.headers.get("Status")


class EventConsumer:
    """Runs ``handler`` once per event of ``subjects`` in ``stream``, as durable ``durable``.

    ``handler(conn, event)`` runs inside the transaction that records the event in the inbox; it
    must do its writes on ``conn``. ``concurrency`` > 1 handles several events at a time (events
    are then no longer handled in stream order). The JetStream consumer starts from the
    beginning of the stream when it is first created (the inbox makes that safe). It holds some
    connections of ``pool`` (the LISTEN, one per group of events in hand, one for parking and
    replays); stop it before closing the pool.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        nats_url: str,
        *,
        stream: str,
        durable: str,
        subjects: Sequence[str],
        handler: Handler,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        batch: int = 100,
        transaction_batch: int = 32,
        concurrency: int = 1,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 60.0,
        pull_expires: float = 5.0,
        replay_poll_interval: float = 30.0,
        schema: str | None = None,
        tracer: trace.Tracer | None = None,
        nats_max_reconnect_attempts: int = 60,
        nats_reconnect_time_wait: float = 2.0,
        listen_keepalive: float = 5.0,
    ) -> None:
        if not subjects:
            raise ValueError("a consumer needs at least one subject")
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        self.pool = pool
        self.stream = stream
        self.durable = durable
        self.subjects = list(subjects)
        self.handler = handler
        self.max_deliver = max_deliver
        self.ack_wait = ack_wait
        self.batch = batch
        self.transaction_batch = max(transaction_batch, 1)
        self.concurrency = max(concurrency, 1)
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.pull_expires = pull_expires
        self.replay_poll_interval = replay_poll_interval
        self.schema = schema
        self.listen_keepalive = listen_keepalive
        self._tracer = tracer or trace.get_tracer(__name__)
        self._link = NatsLink(
            nats_url,
            name=f"kabinet-consumer-{durable}",
            max_reconnect_attempts=nats_max_reconnect_attempts,
            reconnect_time_wait=nats_reconnect_time_wait,
            on_reconnected=self._renew_pull,
            on_closed=self._renew_pull,
        )
        self._life = Lifecycle()
        self._replay_wake = asyncio.Event()
        self._listener: PgListener | None = None
        self._queue: asyncio.Queue[Any] | None = None
        self._consumer_for: Client | None = None
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._handled = 0
        self._duplicates = 0
        self._retried = 0
        self._parked = 0
        self._replayed = 0

    @property
    def stats(self) -> ConsumerStats:
        """Counters for metrics and tests."""
        return ConsumerStats(
            handled=self._handled,
            duplicates=self._duplicates,
            retried=self._retried,
            parked=self._parked,
            replayed=self._replayed,
            nats_connections=self._link.connections,
            listens=self._listener.established if self._listener else 0,
        )

    async def run(self) -> None:
        """Consume until ``stop()``; reconnects by itself after NATS or PostgreSQL restarts."""
        self._life.begin()
        background: list[asyncio.Task[None]] = []
        try:
            schema = self.schema or await self._life.unless_stopped(self._current_schema())
            if schema is None:
                return
            self._listener = PgListener(
                self.pool,
                f"{schema}_replay",
                self._replay_wake,
                keepalive=self.listen_keepalive,
                on_payload=lambda payload: payload == self.durable,
            )
            background.append(asyncio.create_task(self._listener.run()))
            replays = asyncio.create_task(self._replay_loop())
            background.append(replays)
            log.info("event consumer started", extra={"consumer": self.durable})
            await self._pull_loop()
            await replays
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._link.close()
            self._consumer_for = None
            self._life.end()
            log.info("event consumer stopped", extra={"consumer": self.durable})

    async def stop(self) -> None:
        """Stop pulling, finish the events being handled, give back the rest, then return."""
        self._life.stopping.set()
        self._replay_wake.set()
        if self._queue is not None:
            self._queue.put_nowait(_STOP)
        await self._life.stopped.wait()

    def _renew_pull(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(_RENEW)

    async def _current_schema(self) -> str:
        delay = 0.05
        while True:
            try:
                async with self.pool.acquire() as conn:
                    return str(await conn.fetchval("SELECT current_schema()"))
            except Exception as exc:
                log.warning("consumer cannot reach the database", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _pull_loop(self) -> None:
        failures = 0
        while not self._life.stop_requested:
            try:
                nc = await self._life.unless_stopped(self._link.client())
                if nc is None:
                    return
                await self._ensure_consumer(nc)
                failures = 0
                await self._consume(nc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(0.05 * 2**failures, 5.0)
                log.warning(
                    "event consumer loop failed",
                    extra={"consumer": self.durable, "error": repr(exc), "retry_in": delay},
                )
                self._consumer_for = None
                await self._life.sleep(delay)

    def consumer_config(self) -> ConsumerConfig:
        """The JetStream consumer this worker binds to (created or updated at start)."""
        return ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            # Parking is decided here, where the failure is known; the server never gives up on
            # its own, so a message is never dropped silently.
            max_deliver=-1,
            filter_subjects=self.subjects,
            replay_policy=ReplayPolicy.INSTANT,
            max_ack_pending=max(self.batch * 4, 1000),
        )

    async def _ensure_consumer(self, nc: Client) -> None:
        if self._consumer_for is nc:
            return
        await nc.jetstream().add_consumer(self.stream, self.consumer_config())
        self._consumer_for = nc

    async def _consume(self, nc: Client) -> None:
        """Pull and handle messages on ``nc`` until stopped or the client is closed."""
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queue = queue
        inbox = nc.new_inbox()

        async def received(msg: Msg) -> None:
            queue.put_nowait(msg)

        sub = await nc.subscribe(f"{inbox}.*", cb=received)
        next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}"
        request = json.dumps({"batch": self.batch, "expires": int(self.pull_expires * 1e9)})
        loop = asyncio.get_running_loop()
        held = HeldConnection(self.pool)
        number = 0
        try:
            while not self._life.stop_requested and not nc.is_closed:
                if not nc.is_connected:
                    # nats-py is reconnecting: a request now would only wait in its buffer.
                    await self._life.sleep(0.05)
                    continue
                number += 1
                reply = f"{inbox}.{number}"
                await nc.publish(next_subject, request.encode(), reply=reply)
                remaining = self.batch
                deadline = loop.time() + self.pull_expires + 1.0
                pushed_back: Any = None
                while remaining > 0:
                    if pushed_back is not None:
                        item, pushed_back = pushed_back, None
                    else:
                        item = await self._next(queue, deadline - loop.time(), held)
                    if item is None or _is_signal(item):
                        break
                    status = _status(item)
                    if status is None:
                        group = [item]
                        limit = min(self.transaction_batch, remaining)
                        while len(group) < limit and not queue.empty():
                            following = queue.get_nowait()
                            if _is_signal(following) or _status(following) is not None:
                                pushed_back = following
                                break
                            group.append(following)
                        remaining -= len(group)
                        await self._dispatch(group, held)
                    elif item.subject != reply or status == "100":
                        continue  # an old request's end, or a heartbeat
                    else:
                        if status not in ("404", "408"):  # not "no messages" / "expired"
                            description = (item.headers or {}).get("Description", "")
                            log.info(
                                "pull request ended",
                                extra={
                                    "consumer": self.durable,
                                    "status": f"{status} {description}",
                                },
                            )
                            if status == "503" or "deleted" in description.lower():
                                # No consumer (or no stream) to answer: set it up again.
                                self._consumer_for = None
                                return
                            await self._life.sleep(0.1)
                        break
        finally:
            self._queue = None
            await self._give_back(sub, queue)
            await held.release()

    async def _next(self, queue: asyncio.Queue[Any], timeout: float, held: HeldConnection) -> Any:
        """The next message or status, or None after ``timeout``.

        The connection kept for a busy stream of messages goes back to the pool after a short
        idle spell.
        """
        if not queue.empty():
            return queue.get_nowait()
        if held.holding:
            item = await self._get(queue, min(timeout, _IDLE_RELEASE))
            if item is not None:
                return item
            await held.release()
            timeout -= _IDLE_RELEASE
        return await self._get(queue, timeout)

    @staticmethod
    async def _get(queue: asyncio.Queue[Any], timeout: float) -> Any:
        if timeout <= 0:
            return None
        try:
            async with asyncio.timeout(timeout):
                return await queue.get()
        except TimeoutError:
            return None

    async def _give_back(self, sub: Any, queue: asyncio.Queue[Any]) -> None:
        """Stop the subscription, nak what arrived but was not started, wait for the rest."""
        try:
            await sub.unsubscribe()
        except Exception as exc:
            log.debug("unsubscribe failed", extra={"error": repr(exc)})
        while not queue.empty():
            item = queue.get_nowait()
            if not _is_signal(item) and _status(item) is None:
                await self._safely(item.nak(), "nak")
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _dispatch(self, group: list[Msg], held: HeldConnection) -> None:
        if self.concurrency == 1:
            await self._process_group(group, held)
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._process_group(group, None))
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._slots.release()

        task.add_done_callback(done)

    def _event(self, msg: Msg) -> ReceivedEvent:
        meta = msg.metadata
        headers = dict(msg.headers or {})
        return ReceivedEvent(
            event_id=event_id_from(headers, meta.stream, meta.sequence.stream),
            subject=msg.subject,
            event_type=event_type_from(headers),
            payload=msg.data,
            headers=headers,
            deliveries=meta.num_delivered,
            stream=meta.stream,
            stream_sequence=meta.sequence.stream,
        )

    async def _process_group(self, group: list[Msg], held: HeldConnection | None) -> None:
        received: list[tuple[Msg, ReceivedEvent]] = []
        for msg in group:
            try:
                received.append((msg, self._event(msg)))
            except Exception as exc:
                log.error(
                    "not a JetStream message", extra={"subject": msg.subject, "error": repr(exc)}
                )
        if len(received) > 1:
            try:
                handled = await self._handle_together([event for _, event in received], held)
            except Exception as exc:
                # One of them failed (or the database did): all was rolled back; take them
                # one by one so that each failure concerns its own event only.
                log.debug(
                    "shared transaction failed, handling one by one",
                    extra={"consumer": self.durable, "events": len(received), "error": repr(exc)},
                )
            else:
                self._handled += handled
                self._duplicates += len(received) - handled
                for msg, _ in received:
                    await self._ack(msg)
                return
        for msg, event in received:
            await self._process(msg, event, held)

    async def _process(self, msg: Msg, event: ReceivedEvent, held: HeldConnection | None) -> None:
        fields = {
            "consumer": self.durable,
            "event_id": str(event.event_id),
            "subject": event.subject,
            "deliveries": event.deliveries,
        }
        try:
            handled = await self._handle(event, held)
        except HandlerFailedError as failure:
            await self._failed(msg, event, failure.error, fields)
            return
        except Exception as exc:
            # The database (or the commit) failed, not the handler: try again later.
            delay = retry_delay(event.deliveries, self.retry_base_delay, self.retry_max_delay)
            log.warning("event not processed", extra={**fields, "error": repr(exc)})
            await self._safely(msg.nak(delay=delay), "nak")
            return
        if handled:
            self._handled += 1
        else:
            self._duplicates += 1
            log.debug("event already handled", extra=fields)
        await self._ack(msg)

    async def _ack(self, msg: Msg) -> None:
        """Acknowledge after the commit; a lost ack only means a redelivery the inbox absorbs."""
        await self._safely(msg.ack(), "ack")

    async def _safely(self, action: Awaitable[None], what: str) -> None:
        try:
            await action
        except Exception as exc:
            log.warning("event %s not sent", what, extra={"error": repr(exc)})

    def _connection(self, held: HeldConnection | None) -> AbstractAsyncContextManager[Any]:
        return held.use() if held is not None else self.pool.acquire()

    async def _handle(self, event: ReceivedEvent, held: HeldConnection | None) -> bool:
        """Run the handler with the inbox record in one transaction; False if already handled."""
        async with self._connection(held) as conn, conn.transaction():
            if await conn.fetchval(_INBOX, self.durable, event.event_id) is None:
                return False
            try:
                await self._run_handler(conn, event)
            except Exception as exc:
                if is_broken(conn):
                    raise
                raise HandlerFailedError(exc) from exc
        return True

    async def _handle_together(
        self, events: list[ReceivedEvent], held: HeldConnection | None
    ) -> int:
        """Handle ``events`` in one transaction (any failure rolls back all); returns how many
        were new (the others were in the inbox already)."""
        handled = 0
        async with self._connection(held) as conn, conn.transaction():
            ids = [event.event_id for event in events]
            new = {row["event_id"] for row in await conn.fetch(_INBOX_MANY, self.durable, ids)}
            for event in events:
                if event.event_id in new:
                    new.discard(event.event_id)  # the same event twice in a group runs once
                    await self._run_handler(conn, event)
                    handled += 1
        return handled

    async def _run_handler(self, conn: asyncpg.Connection, event: ReceivedEvent) -> None:
        parent = propagate.extract(dict(event.headers))
        with self._tracer.start_as_current_span(
            f"{event.subject} process",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": event.subject,
                "messaging.consumer.group.name": self.durable,
                "messaging.message.id": str(event.event_id),
                "messaging.nats.delivery_count": event.deliveries,
                "kabinet.event_type": event.event_type,
            },
        ):
            await self.handler(conn, event)

    async def _failed(
        self, msg: Msg, event: ReceivedEvent, error: BaseException, fields: dict[str, Any]
    ) -> None:
        if event.deliveries < self.max_deliver:
            delay = retry_delay(event.deliveries, self.retry_base_delay, self.retry_max_delay)
            self._retried += 1
            log.warning(
                "event handler failed, will retry",
                extra={**fields, "error": type(error).__qualname__, "retry_in": delay},
            )
            await self._safely(msg.nak(delay=delay), "nak")
            return
        try:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    _PARK,
                    self.durable,
                    event.stream,
                    event.subject,
                    event.event_id,
                    event.event_type,
                    event.payload,
                    json.dumps(dict(event.headers)),
                    event.deliveries,
                    describe_error(error),
                )
        except Exception as exc:
            log.warning("event could not be parked", extra={**fields, "error": repr(exc)})
            delay = retry_delay(event.deliveries, self.retry_base_delay, self.retry_max_delay)
            await self._safely(msg.nak(delay=delay), "nak")
            return
        self._parked += 1
        log.error("event parked", extra={**fields, "error": type(error).__qualname__})
        await self._safely(msg.term(), "term")

    async def _replay_loop(self) -> None:
        """Run the replays operators asked for (woken by NOTIFY, polling as a fallback)."""
        while not self._life.stop_requested:
            self._replay_wake.clear()
            try:
                while not self._life.stop_requested and await self._replay_one():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("replay failed", extra={"consumer": self.durable, "error": repr(exc)})
                await self._life.sleep(1.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._replay_wake.wait(), self.replay_poll_interval)

    async def _replay_one(self) -> bool:
        """Replay one requested parked event; False when none is waiting."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_NEXT_REPLAY, self.durable)
            if row is None:
                return False
            stored = row["headers"]
            headers = json.loads(stored) if isinstance(stored, str) else dict(stored or {})
            event = ReceivedEvent(
                event_id=row["event_id"],
                subject=row["subject"],
                event_type=row["event_type"],
                payload=bytes(row["payload"]),
                headers=headers,
                deliveries=row["deliveries"] + 1,
                stream=row["stream"],
            )
            fields = {"consumer": self.durable, "event_id": str(event.event_id)}
            try:
                async with conn.transaction():
                    if await conn.fetchval(_INBOX, self.durable, event.event_id) is not None:
                        await self._run_handler(conn, event)
            except Exception as exc:
                if is_broken(conn):
                    raise
                await conn.execute(_REPLAY_FAILED, row["id"], describe_error(exc))
                log.warning(
                    "replayed event failed again",
                    extra={**fields, "error": type(exc).__qualname__},
                )
            else:
                await conn.execute(_REPLAYED, row["id"])
                self._replayed += 1
                log.info("parked event replayed", extra=fields)
        return True
