"""The worker that drains a service's mail queue over SMTP.

It sleeps until PostgreSQL says new mail committed (LISTEN on ``<schema>_mail``, on a connection
that is re-established after a database restart) or until the next retry is due, with a slow poll
as a safety net. Several replicas can run it on one schema: each claims rows with ``FOR UPDATE
SKIP LOCKED`` and leases them (``next_attempt_at`` moves past the send), so no two send the same
row. Delivery is at least once: a crash after the SMTP server took a message but before the row
was marked sent makes it go again after the lease, with the same Message-ID.

Each claim counts as an attempt. A failed attempt is retried with exponential backoff; after
``max_attempts``, or at once when the server refuses the recipient permanently, the row is marked
failed. Sent or failed, its bodies (which may carry single-use links) are set to NULL.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import aiosmtplib
import asyncpg

from kabinet.db import CONNECTION_ERRORS, check_schema_name
from kabinet.events.listener import PgListener
from kabinet.mail.message import Sender, build_message
from kabinet.mail.smtp import SmtpEndpoint, parse_smtp_url

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500

_CLAIM = """
WITH due AS (
    SELECT id FROM mail_outbox
    WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE mail_outbox AS m
SET attempts = m.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
FROM due
WHERE m.id = due.id
RETURNING m.id, m.to_address, m.template, m.subject, m.body_text, m.body_html, m.attempts
"""
_SENT = (
    "UPDATE mail_outbox SET sent_at = now(), body_text = NULL, body_html = NULL, last_error = NULL"
    " WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL"
)
_RETRY = (
    "UPDATE mail_outbox SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)"
    " WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL"
)
_GIVE_UP = (
    "UPDATE mail_outbox SET failed_at = now(), last_error = $2, body_text = NULL, body_html = NULL"
    " WHERE id = $1 AND sent_at IS NULL AND failed_at IS NULL"
)
# Hand back rows claimed but not tried (stopping, or the lease running short): not an attempt.
_RELEASE = (
    "UPDATE mail_outbox SET attempts = attempts - 1, next_attempt_at = now()"
    " WHERE id = ANY($1::uuid[]) AND sent_at IS NULL AND failed_at IS NULL"
)
_NEXT_DUE = (
    "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 FROM mail_outbox"
    " WHERE sent_at IS NULL AND failed_at IS NULL"
)


def describe_error(exc: BaseException, endpoint: SmtpEndpoint | None = None) -> str:
    """A one-line reason for ``last_error`` and logs: the SMTP reply or the error, no secrets."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        text = "recipient refused: " + "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        text = f"{type(exc).__name__}: {exc.code} {exc.message}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    if endpoint is not None and endpoint.password:
        text = text.replace(endpoint.password, "***")
    text = " ".join(text.split())
    return text[:MAX_ERROR_LENGTH]


def is_permanent(exc: BaseException) -> bool:
    """Whether trying again cannot help.

    That is: every recipient refused with a 5xx, a server without SMTPUTF8 for an
    internationalised address, or a row that does not make a valid message.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError)


class MailSender:
    """Sends the mail queued in ``schema`` through the SMTP server at ``smtp_url``.

    ``pool`` must work in ``schema`` (``kabinet.db.create_pool``). ``run()`` until ``stop()``.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        smtp_url: str,
        mail_from: str,
        *,
        max_attempts: int = 8,
        poll_interval: float = 60.0,
        batch_size: int = 20,
        backoff_base: float = 30.0,
        backoff_max: float = 3600.0,
        lease: float = 600.0,
        smtp_timeout: float = 30.0,
        health_interval: float = 10.0,
        reconnect_max: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._pool = pool
        self._channel = f"{check_schema_name(schema)}_mail"
        self._endpoint = parse_smtp_url(smtp_url)
        self._sender = Sender.parse(mail_from)
        self._max_attempts = max_attempts
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._lease = max(lease, 4 * smtp_timeout)
        self._smtp_timeout = smtp_timeout
        self._reconnect_max = reconnect_max
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._running = False
        self._listener = PgListener(
            pool,
            self._channel,
            self._wake,
            keepalive=health_interval,
            retry_max_delay=reconnect_max,
        )
        # Outcomes the database could not take yet; written before anything else is claimed.
        self._unrecorded: list[tuple[str, tuple[Any, ...]]] = []

    @property
    def listens_established(self) -> int:
        """How many times LISTEN was (re-)established; grows after each database restart."""
        return self._listener.established

    def wake(self) -> None:
        """Look at the queue now instead of at the next notification or poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Finish the message in hand, hand the rest of the batch back, wait for ``run()``."""
        self._stopping.set()
        self._wake.set()
        if self._running:
            await self._stopped.wait()

    async def run(self) -> None:
        """Deliver queued mail until ``stop()``; database and SMTP outages are waited out."""
        self._running = True
        self._stopped.clear()
        listener = asyncio.create_task(self._listener.run(), name=f"{self._channel}-listener")
        failures = 0
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                try:
                    await self._flush_outcomes()
                    await self._drain()
                    delay = await self._next_due_in()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    delay = min(self._reconnect_max, 0.25 * 2**failures)
                    log.warning(
                        "mail queue unavailable, retrying",
                        extra={"channel": self._channel, "error": describe_error(exc)},
                        exc_info=not isinstance(exc, CONNECTION_ERRORS),
                    )
                await self._pause(delay)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            self._running = False
            self._stopped.set()

    async def _pause(self, seconds: float) -> None:
        if seconds > 0 and not self._wake.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)

    async def _next_due_in(self) -> float:
        due_in = await self._pool.fetchval(_NEXT_DUE)
        if due_in is None:
            return self._poll_interval
        # Rows due but not claimed are locked by another replica for a moment: look again soon.
        return min(self._poll_interval, max(float(due_in), 0.1))

    async def _drain(self) -> None:
        while not self._stopping.is_set():
            rows = await self._pool.fetch(_CLAIM, self._batch_size, self._lease)
            if not rows:
                return
            await self._send_batch(rows)

    async def _send_batch(self, rows: Sequence[asyncpg.Record]) -> None:
        loop = asyncio.get_running_loop()
        claimed_at = loop.time()
        client: aiosmtplib.SMTP | None = None
        # Once the server can't be reached, the rest of the batch fails with the same reason
        # instead of each waiting out its own connect timeout.
        unreachable: Exception | None = None
        try:
            for index, row in enumerate(rows):
                if self._stopping.is_set() or loop.time() - claimed_at > self._lease / 2:
                    await self._pool.execute(_RELEASE, [r["id"] for r in rows[index:]])
                    return
                if row["attempts"] > self._max_attempts:
                    # Claimed again after its last attempt (the process died mid-send).
                    await self._record(_GIVE_UP, row["id"], "gave up: no attempts left")
                    continue
                try:
                    message = build_message(
                        mail_id=row["id"],
                        sender=self._sender,
                        to=row["to_address"],
                        subject=row["subject"],
                        text=row["body_text"] or "",
                        html=row["body_html"],
                    )
                    if unreachable is not None:
                        raise unreachable
                    if client is None:
                        client = self._endpoint.client(timeout=self._smtp_timeout)
                        try:
                            await client.connect()
                        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                            unreachable = exc
                            raise
                    await client.send_message(message, sender=self._sender.address)
                except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
                    # A session that failed is not trusted with the next message.
                    if client is not None:
                        client.close()
                        client = None
                    await self._failed(row, exc)
                else:
                    await self._record(_SENT, row["id"])
                    log.info(
                        "mail sent",
                        extra={"mail_id": str(row["id"]), "template": row["template"]},
                    )
        finally:
            if client is not None:
                with suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                    await client.quit()

    async def _failed(self, row: asyncpg.Record, exc: Exception) -> None:
        reason = describe_error(exc, self._endpoint)
        attempts: int = row["attempts"]
        extra = {"mail_id": str(row["id"]), "template": row["template"], "attempts": attempts}
        if is_permanent(exc) or attempts >= self._max_attempts:
            await self._record(_GIVE_UP, row["id"], reason)
            log.error("mail given up", extra=extra | {"error": reason})
            return
        await self._record(_RETRY, row["id"], reason, self._backoff(attempts))
        log.warning("mail not sent, will retry", extra=extra | {"error": reason})

    def _backoff(self, attempts: int) -> float:
        delay = min(self._backoff_max, self._backoff_base * 2 ** (attempts - 1))
        # Jitter, so that mail failed together is not retried together.
        return delay * random.uniform(0.9, 1.1)

    async def _record(self, sql: str, *args: Any) -> None:
        self._unrecorded.append((sql, args))
        await self._flush_outcomes()

    async def _flush_outcomes(self) -> None:
        while self._unrecorded:
            sql, args = self._unrecorded[0]
            await self._pool.execute(sql, *args)
            self._unrecorded.pop(0)
