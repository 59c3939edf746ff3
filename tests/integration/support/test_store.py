"""The support store on real PostgreSQL: the use cases' writes, the queue's order, hidden notes,
the outboxes, the consumers' effects and erasure (the gRPC clients are fakes of the ports)."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kabinet import db
from kabinet.events.received import ReceivedEvent
from kabinet.identity.v1 import events_pb2 as identity_events
from kabinet.objectstore import LocalDirectoryStore
from kabinet.subscription.v1 import events_pb2 as subscription_events
from kabinet.subscription.v1 import subscription_pb2
from support.app import MIGRATIONS
from support.domain.model import AGENT_ROLE, Caller, Owner, Priority, Status, Upload
from support.domain.rules import SupportRules
from support.domain.services import SupportServices
from support.events.consumers import SupportConsumers
from support.mail import support_templates
from support.store.postgres import PostgresStore

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


class Plans:
    def __init__(self) -> None:
        self.premium: set[uuid.UUID] = set()

    async def has_priority_support(self, account_id: uuid.UUID) -> bool:
        return account_id in self.premium


class Accounts:
    async def owner(self, account_id: uuid.UUID) -> Owner | None:
        return Owner("owner@example.com", "en")

    async def is_agent(self, account_id: uuid.UUID) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def pool(database_url: str, fresh_schema: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(database_url)
    try:
        await db.migrate(
            conn, fresh_schema, [("kabinet", db.SHARED_MIGRATIONS), ("support", MIGRATIONS)]
        )
    finally:
        await conn.close()
    created = await db.create_pool(database_url, fresh_schema, min_size=1, max_size=5)
    yield created
    await created.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA "{fresh_schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def plans() -> Plans:
    return Plans()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(pool: asyncpg.Pool, tmp_path: Path, plans: Plans, clock: Clock) -> SupportServices:
    return SupportServices(
        PostgresStore(pool, support_templates()),
        LocalDirectoryStore(tmp_path),
        plans,
        Accounts(),
        clock,
        SupportRules(),
        "https://my.example.com",
    )


def customer() -> Caller:
    return Caller(uuid.uuid4())


AGENT = Caller(uuid.uuid4(), frozenset({AGENT_ROLE}))


async def open_ticket(services: SupportServices, who: Caller, subject: str = "Crash"):  # type: ignore[no-untyped-def]
    return await services.create_ticket(
        who,
        topic="installation",
        application="Antivirus",
        device="macOS 15",
        subject=subject,
        description="<b>help</b>",
        uploads=[Upload("a.png", PNG)],
    )


def stamp(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


async def test_thread_notes_mail_and_events_are_stored(
    services: SupportServices, pool: asyncpg.Pool
) -> None:
    owner = customer()
    ticket = await open_ticket(services, owner)
    await services.add_message(AGENT, str(ticket.id), "internal", internal=True)
    await services.add_message(AGENT, str(ticket.id), "public reply")
    await services.change_status(AGENT, str(ticket.id), Status.RESOLVED)
    await services.rate(owner, str(ticket.id), 5, "good")

    seen = await services.get_ticket(owner, str(ticket.id))
    assert [m.body for m in seen.messages] == ["<b>help</b>", "public reply"]
    assert seen.messages[0].attachments[0].content_type == "image/png"
    assert seen.ticket.rating == 5
    assert [(h.kind, h.to_value) for h in seen.history] == [
        ("status", "new"),
        ("status", "in_progress"),
        ("status", "resolved"),
        ("rating", "5"),
    ]
    subjects = [r["subject"] for r in await pool.fetch("SELECT subject FROM outbox ORDER BY seq")]
    assert subjects == [
        "support.ticket.created",
        "support.message.added",
        "support.message.added",
        "support.message.added",
        "support.ticket.status_changed",
        "support.ticket.status_changed",
    ]
    mails = await pool.fetch("SELECT template, to_address FROM mail_outbox ORDER BY created_at")
    assert [m["template"] for m in mails] == ["support_reply", "support_status"]
    assert {m["to_address"] for m in mails} == {"owner@example.com"}


async def test_the_queue_orders_by_priority_then_sla(
    services: SupportServices, plans: Plans, clock: Clock
) -> None:
    standard, premium = customer(), customer()
    plans.premium.add(premium.account_id)
    older = await open_ticket(services, standard, "older")
    clock.now += timedelta(hours=1)
    newer = await open_ticket(services, premium, "newer")
    queue = [t.id for t in await services.queue(AGENT)]
    assert queue.index(newer.id) < queue.index(older.id)


async def test_entitlements_events_change_priority_and_deletion_erases(
    services: SupportServices, pool: asyncpg.Pool, clock: Clock, tmp_path: Path
) -> None:
    owner = customer()
    ticket = await open_ticket(services, owner)
    consumers = SupportConsumers(services, support_templates())
    changed = subscription_events.EntitlementsChanged(
        account_id=str(owner.account_id),
        entitlements=[
            subscription_pb2.Entitlement(
                feature="priority_support", valid_until=stamp(clock.now + timedelta(days=365))
            )
        ],
        occurred_at=stamp(clock.now + timedelta(seconds=1)),
    )
    event = ReceivedEvent(
        event_id=uuid.uuid4(),
        subject="subscription.entitlements.changed",
        event_type=changed.DESCRIPTOR.full_name,
        payload=changed.SerializeToString(),
    )
    for _ in range(2):  # a redelivery changes nothing more
        async with pool.acquire() as conn, conn.transaction():
            await consumers.entitlements_changed(conn, event)
    view = await services.get_ticket(owner, str(ticket.id))
    assert view.ticket.priority is Priority.HIGH
    assert [h.kind for h in view.history].count("priority") == 1

    deleted = identity_events.AccountDeleted(account_id=str(owner.account_id))
    gone = ReceivedEvent(
        event_id=uuid.uuid4(),
        subject="identity.account.deleted",
        event_type=deleted.DESCRIPTOR.full_name,
        payload=deleted.SerializeToString(),
    )
    for _ in range(2):
        async with pool.acquire() as conn, conn.transaction():
            await consumers.account_deleted(conn, gone)
    for table in ("tickets", "messages", "attachments", "ticket_history"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert [p for p in (tmp_path / "objects").rglob("*") if p.is_file()] == []


async def test_the_database_refuses_a_subject_with_a_line_break(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO tickets (id, owner_id, owner_email, owner_language, topic, application,"
            " device, subject, status, priority, priority_rank, sla_due_at, priority_as_of,"
            " created_at, updated_at) VALUES ($1, $2, 'a@b.c', 'en', 'other', '', '',"
            " $3, 'new', 'normal', 2, $4, $4, $4, $4)",
            uuid.uuid4(),
            uuid.uuid4(),
            "a\r\nb",
            now,
        )
