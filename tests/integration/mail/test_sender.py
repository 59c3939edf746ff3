"""Mail queued in a transaction goes out over real SMTP exactly when, and as often as, it should."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import kabinet.db
from kabinet.devstack.mailbox import Mailbox
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.devstack.smtp import SmtpSink
from kabinet.mail import MailSender, MailTemplate, TemplateSet, enqueue_mail

pytestmark = pytest.mark.integration

FROM = "Kabinet <no-reply@kabinet.example>"
TEMPLATES = TemplateSet(
    [
        MailTemplate(
            name="account.activation",
            subject={
                "en": "Activate your Kabinet account",
                "ru": "Активация учётной записи Kabinet",
            },
            text={
                "en": "Hello!\n\nActivate your account: $link\n",
                "ru": "Здравствуйте!\n\nЧтобы активировать учётную запись, откройте: $link\n",
            },
        )
    ]
)


async def migrated_pool(url: str, schema: str) -> asyncpg.Pool:
    conn = await asyncpg.connect(url)
    try:
        await kabinet.db.migrate(conn, schema, [("kabinet", kabinet.db.SHARED_MIGRATIONS)])
    finally:
        await conn.close()
    return await kabinet.db.create_pool(url, schema, min_size=1, max_size=4)


@pytest.fixture
async def pool(database_url: str, fresh_schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(database_url, fresh_schema)
    yield pool
    await pool.execute(f'DROP SCHEMA "{fresh_schema}" CASCADE')
    await pool.close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    server = SmtpSink(tmp_path / "mail", port=free_port())
    server.start()
    yield server
    server.stop()


class Senders:
    """MailSenders started as tasks; ``stop_all`` stops them and checks that they ended cleanly."""

    def __init__(self) -> None:
        self.running: list[tuple[MailSender, asyncio.Task[None]]] = []

    def start(self, pool: asyncpg.Pool, schema: str, smtp_url: str, **options: Any) -> MailSender:
        sender = MailSender(pool, schema, smtp_url, FROM, **options)
        self.running.append((sender, asyncio.create_task(sender.run())))
        return sender

    async def stop_all(self) -> None:
        running, self.running = self.running, []
        await asyncio.wait_for(asyncio.gather(*(sender.stop() for sender, _ in running)), 30)
        for _, task in running:
            assert task.done()
            task.result()  # run() ended without an error


@pytest.fixture
async def senders() -> AsyncIterator[Senders]:
    """Senders for one test; stopped before the pools they use are closed."""
    started = Senders()
    yield started
    await started.stop_all()


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.05)


async def enqueue(pool: asyncpg.Pool, to: str, language: str = "ru") -> tuple[uuid.UUID, str]:
    link = f"https://kabinet.example/activate?token={uuid.uuid4().hex}"
    async with pool.acquire() as conn, conn.transaction():
        mail_id = await enqueue_mail(
            conn,
            TEMPLATES,
            to=to,
            template="account.activation",
            language=language,
            values={"link": link},
        )
    return mail_id, link


async def row(pool: asyncpg.Pool, mail_id: uuid.UUID) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM mail_outbox WHERE id = $1", mail_id)


async def test_committed_mail_arrives_in_russian_and_leaves_no_body(
    pool: asyncpg.Pool, fresh_schema: str, sink: SmtpSink, senders: Senders
) -> None:
    senders.start(pool, fresh_schema, sink.url)
    mail_id, link = await enqueue(pool, "anna@example.com")

    message = await Mailbox(sink.maildir).wait_for("anna@example.com")
    assert message.subject == "Активация учётной записи Kabinet"
    assert message.text.startswith("Здравствуйте!")
    assert message.links == (link,)
    assert f'href="{link}"' in message.html
    assert message.message_id == f"<{mail_id}@kabinet.example>"
    assert message.sender == FROM
    assert message.date is not None

    done = await eventually(
        lambda: pool.fetchrow(
            "SELECT * FROM mail_outbox WHERE id = $1 AND sent_at IS NOT NULL", mail_id
        ),
        "the row is marked sent",
    )
    assert (done["body_text"], done["body_html"]) == (None, None)
    assert (done["attempts"], done["failed_at"], done["last_error"]) == (1, None, None)
    assert done["subject"] == "Активация учётной записи Kabinet"
    assert done["language"] == "ru"


async def test_rolled_back_mail_never_goes_out(
    pool: asyncpg.Pool, fresh_schema: str, sink: SmtpSink, senders: Senders
) -> None:
    senders.start(pool, fresh_schema, sink.url)

    class Refused(Exception):
        pass

    async def change_that_fails() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue_mail(
                conn,
                TEMPLATES,
                to="rolled-back@example.com",
                template="account.activation",
                language="ru",
                values={"link": "https://kabinet.example/activate?token=never"},
            )
            raise Refused

    with pytest.raises(Refused):
        await change_that_fails()
    # Mail committed after it is delivered: the sender has looked at the queue since then.
    await enqueue(pool, "after@example.com")
    box = Mailbox(sink.maildir)
    await box.wait_for("after@example.com")

    assert box.find(to="rolled-back@example.com") == []
    assert await pool.fetchval("SELECT count(*) FROM mail_outbox") == 1


async def test_enqueue_refuses_to_run_outside_a_transaction(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await enqueue_mail(
                conn,
                TEMPLATES,
                to="anna@example.com",
                template="account.activation",
                language="en",
                values={"link": "x"},
            )
        with pytest.raises(ValueError, match="email address"):
            async with conn.transaction():
                await enqueue_mail(
                    conn,
                    TEMPLATES,
                    to="anna@example.com\r\nBcc: all@example.com",
                    template="account.activation",
                    language="en",
                    values={"link": "x"},
                )
    assert await pool.fetchval("SELECT count(*) FROM mail_outbox") == 0


async def test_retries_while_the_server_is_down_and_delivers_when_it_returns(
    pool: asyncpg.Pool, fresh_schema: str, tmp_path: Path, senders: Senders
) -> None:
    sink = SmtpSink(tmp_path / "mail", port=free_port())  # not started yet
    senders.start(pool, fresh_schema, sink.url, smtp_timeout=5)
    mail_id, link = await enqueue(pool, "boris@example.com")

    failed = await eventually(
        lambda: pool.fetchrow(
            "SELECT *, next_attempt_at > now() AS later FROM mail_outbox"
            " WHERE id = $1 AND last_error IS NOT NULL",
            mail_id,
        ),
        "a failed attempt is recorded",
    )
    assert failed["attempts"] == 1
    assert failed["later"]  # backed off, not retried in a loop
    assert failed["sent_at"] is None
    assert failed["failed_at"] is None
    assert failed["body_text"] is not None  # still needed for the next attempt
    assert "Connect" in failed["last_error"]

    sink.start()
    try:
        # Instead of waiting out the backoff: make the retry due and wake the sender.
        await pool.execute("UPDATE mail_outbox SET next_attempt_at = now() WHERE id = $1", mail_id)
        await pool.execute("SELECT pg_notify($1, '')", f"{fresh_schema}_mail")
        message = await Mailbox(sink.maildir).wait_for("boris@example.com")
        assert message.links == (link,)
        done = await eventually(
            lambda: pool.fetchrow(
                "SELECT * FROM mail_outbox WHERE id = $1 AND sent_at IS NOT NULL", mail_id
            ),
            "the row is marked sent",
        )
    finally:
        sink.stop()
    assert (done["attempts"], done["last_error"]) == (2, None)
    assert (done["body_text"], done["body_html"]) == (None, None)


async def test_gives_up_after_max_attempts_and_drops_the_body(
    pool: asyncpg.Pool, fresh_schema: str, senders: Senders
) -> None:
    nowhere = f"smtp://127.0.0.1:{free_port()}"
    senders.start(pool, fresh_schema, nowhere, max_attempts=2, smtp_timeout=5)
    mail_id, _ = await enqueue(pool, "gone@example.com")
    await eventually(
        lambda: pool.fetchval(
            "SELECT attempts = 1 AND last_error IS NOT NULL FROM mail_outbox WHERE id = $1",
            mail_id,
        ),
        "the first attempt fails",
    )
    await pool.execute("UPDATE mail_outbox SET next_attempt_at = now() WHERE id = $1", mail_id)
    await pool.execute("SELECT pg_notify($1, '')", f"{fresh_schema}_mail")
    failed = await eventually(
        lambda: pool.fetchrow(
            "SELECT * FROM mail_outbox WHERE id = $1 AND failed_at IS NOT NULL", mail_id
        ),
        "the row is given up",
    )
    assert failed["attempts"] == 2
    assert failed["sent_at"] is None
    assert (failed["body_text"], failed["body_html"]) == (None, None)
    assert failed["last_error"]


async def test_database_refuses_a_finished_row_that_keeps_its_body(pool: asyncpg.Pool) -> None:
    mail_id, _ = await enqueue(pool, "anna@example.com")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE mail_outbox SET sent_at = now() WHERE id = $1", mail_id)


async def test_two_senders_deliver_each_message_exactly_once(
    database_url: str,
    pool: asyncpg.Pool,
    fresh_schema: str,
    sink: SmtpSink,
    senders: Senders,
) -> None:
    # Two replicas: each its own pool, as in two processes. Small batches make them interleave.
    other_pool = await kabinet.db.create_pool(database_url, fresh_schema, min_size=1, max_size=4)
    try:
        senders.start(pool, fresh_schema, sink.url, batch_size=2)
        senders.start(other_pool, fresh_schema, sink.url, batch_size=2)
        recipients = [f"user{i}@example.com" for i in range(40)]
        for start in range(0, len(recipients), 10):
            async with pool.acquire() as conn, conn.transaction():
                for to in recipients[start : start + 10]:
                    await enqueue_mail(
                        conn,
                        TEMPLATES,
                        to=to,
                        template="account.activation",
                        language="en",
                        values={"link": f"https://kabinet.example/activate?token={to}"},
                    )
        await eventually(
            lambda: pool.fetchval(
                "SELECT count(*) = 40 FROM mail_outbox WHERE sent_at IS NOT NULL"
            ),
            "all 40 are marked sent",
        )
        # Stopped senders have nothing in flight: the sink now holds all they will ever send.
        await senders.stop_all()
        delivered = Counter(r for m in Mailbox(sink.maildir).all() for r in m.recipients)
        assert delivered == Counter(recipients)
        assert await pool.fetchval("SELECT max(attempts) FROM mail_outbox") == 1
    finally:
        await senders.stop_all()
        await other_pool.close()


async def test_internationalised_address_is_delivered(
    pool: asyncpg.Pool, fresh_schema: str, sink: SmtpSink, senders: Senders
) -> None:
    senders.start(pool, fresh_schema, sink.url)
    await enqueue(pool, "пётр@пример.рф")
    message = await Mailbox(sink.maildir).wait_for("пётр@пример.рф")
    assert message.subject == "Активация учётной записи Kabinet"


async def test_listen_comes_back_after_a_postgresql_restart(
    make_postgres: Callable[[], EmbeddedPostgres],
    sink: SmtpSink,
    fresh_schema: str,
    senders: Senders,
) -> None:
    server = make_postgres()
    pool = await migrated_pool(server.url, fresh_schema)
    try:
        # Polling is an hour away: after the restart, only a new LISTEN can bring this mail out.
        sender = senders.start(pool, fresh_schema, sink.url, poll_interval=3600, health_interval=1)
        await eventually(lambda: _at_least(sender, 1), "LISTEN is established")

        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(server.start)
        await eventually(lambda: _at_least(sender, 2), "LISTEN is established again", 30)

        _, link = await enqueue(pool, "after-restart@example.com")
        message = await Mailbox(sink.maildir).wait_for("after-restart@example.com", timeout=20)
        assert message.links == (link,)
    finally:
        await senders.stop_all()
        await pool.close()


async def _at_least(sender: MailSender, count: int) -> bool:
    return sender.listens_established >= count
