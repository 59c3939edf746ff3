"""The support use cases on fakes of the ports: visibility, threads, notes, mail, priority
updates from events, erasure."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kabinet.errors import DomainError
from support.domain import errors
from support.domain.events import MessageAdded, StatusChanged, TicketCreated
from support.domain.model import Caller, Priority, Status, Ticket, Upload

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


async def open_ticket(world, who: Caller, uploads: list[Upload] | None = None) -> Ticket:
    return await world.services.create_ticket(
        who,
        topic="technical",
        application="Antivirus",
        device="Windows 11",
        subject="Crash",
        description="It crashes",
        uploads=uploads or [],
    )


def objects_in(world) -> list[str]:
    return [p.name for p in (world.root / "objects").rglob("*") if p.is_file()]


async def test_a_new_ticket_is_stored_with_its_attachment_history_and_events(world, people) -> None:
    owner = people.customer()
    ticket = await open_ticket(world, owner, [Upload("shot.png", PNG)])
    assert ticket.id.version == 4
    assert ticket.status is Status.NEW
    assert ticket.priority is Priority.NORMAL
    [message] = world.store.messages
    [attachment] = message.attachments
    assert attachment.content_type == "image/png"
    assert attachment.id.version == 4
    assert attachment.storage_key == f"tickets/{ticket.id}/{attachment.id}"
    assert [type(e) for e in world.store.events] == [TicketCreated, MessageAdded]
    assert [(h.kind, h.to_value) for h in world.store.history] == [("status", "new")]
    got, data = await world.services.get_attachment(owner, str(attachment.id))
    assert data == PNG
    assert got.filename == "shot.png"


async def test_a_failed_write_leaves_no_ticket_and_no_object(world, people) -> None:
    world.store.fail_next_transaction = True
    with pytest.raises(RuntimeError):
        await open_ticket(world, people.customer(), [Upload("shot.png", PNG)])
    assert world.store.tickets == {}
    assert objects_in(world) == []


async def test_premium_gets_high_priority_and_an_outage_falls_back_to_normal(world, people) -> None:
    premium = people.customer()
    world.entitlements.premium.add(premium.account_id)
    high = await open_ticket(world, premium)
    assert high.priority is Priority.HIGH
    assert high.sla_due_at == high.created_at + world.services.rules.sla_high
    world.entitlements.down = True
    fallback = await open_ticket(world, premium)
    assert fallback.priority is Priority.NORMAL


async def test_another_person_gets_not_found_on_every_use_case(world, people) -> None:
    owner, stranger = people.customer(), people.customer()
    ticket = await open_ticket(world, owner, [Upload("shot.png", PNG)])
    attachment = world.store.messages[0].attachments[0]
    tid = str(ticket.id)
    s = world.services
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: s.get_ticket(stranger, tid),
        lambda: s.add_message(stranger, tid, "hello"),
        lambda: s.add_message(stranger, tid, "hello", internal=True),
        lambda: s.reopen(stranger, tid),
        lambda: s.rate(stranger, tid, 5, ""),
        lambda: s.change_status(stranger, tid, Status.CLOSED),
        lambda: s.assign(stranger, tid, ""),
    ]
    for call in calls:
        with pytest.raises(DomainError) as exc:
            await call()
        assert exc.value.code == errors.TICKET_NOT_FOUND
    with pytest.raises(DomainError) as exc:
        await s.get_attachment(stranger, str(attachment.id))
    assert exc.value.code == errors.ATTACHMENT_NOT_FOUND
    # Unknown and malformed ids answer the same.
    for bad in (str(uuid.uuid4()), "1 OR 1=1", ""):
        with pytest.raises(DomainError) as exc:
            await s.get_ticket(owner, bad)
        assert exc.value.code == errors.TICKET_NOT_FOUND
    assert await s.my_tickets(stranger) == []


async def test_owners_may_not_act_as_agents(world, people) -> None:
    owner = people.customer()
    ticket = await open_ticket(world, owner)
    for call in (
        world.services.change_status(owner, str(ticket.id), Status.RESOLVED),
        world.services.assign(owner, str(ticket.id), ""),
        world.services.add_message(owner, str(ticket.id), "note", internal=True),
        world.services.queue(owner),
    ):
        with pytest.raises(DomainError) as exc:
            await call
        assert exc.value.code == errors.AGENT_ONLY


async def test_internal_notes_and_their_files_stay_with_agents(world, people) -> None:
    owner, helper = people.customer(), people.agent()
    ticket = await open_ticket(world, owner)
    note, _ = await world.services.add_message(
        helper, str(ticket.id), "check licence", internal=True, uploads=[Upload("l.txt", b"log\n")]
    )
    seen = await world.services.get_ticket(owner, str(ticket.id))
    assert [m.body for m in seen.messages] == ["It crashes"]
    with pytest.raises(DomainError) as exc:
        await world.services.get_attachment(owner, str(note.attachments[0].id))
    assert exc.value.code == errors.ATTACHMENT_NOT_FOUND
    agents_view = await world.services.get_ticket(helper, str(ticket.id))
    assert [m.body for m in agents_view.messages] == ["It crashes", "check licence"]
    assert world.store.mails == []  # a note is not mailed


async def test_agent_reply_and_status_change_are_mailed_with_the_ticket_link(world, people) -> None:
    owner, helper = people.customer(), people.agent()
    ticket = await open_ticket(world, owner)
    _, updated = await world.services.add_message(helper, str(ticket.id), "Try again")
    assert updated.status is Status.IN_PROGRESS
    await world.services.change_status(helper, str(ticket.id), Status.WAITING_FOR_CUSTOMER)
    _, back = await world.services.add_message(owner, str(ticket.id), "Still broken")
    assert back.status is Status.IN_PROGRESS
    templates = [(m[1], m[2], m[3]["status"]) for m in world.store.mails]
    assert templates == [
        ("support_reply", "ru", "В работе"),
        ("support_status", "ru", "Ожидает вашего ответа"),
    ]
    assert {m[3]["link"] for m in world.store.mails} == {
        f"https://my.example.com/support/tickets/{ticket.id}"
    }
    changes = [(e.previous, e.status) for e in world.store.events if isinstance(e, StatusChanged)]
    assert changes == [
        (Status.NEW, Status.IN_PROGRESS),
        (Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER),
        (Status.WAITING_FOR_CUSTOMER, Status.IN_PROGRESS),
    ]


async def test_resolve_rate_once_and_reopen_within_the_window(world, people) -> None:
    owner, helper = people.customer(), people.agent()
    ticket = await open_ticket(world, owner)
    tid = str(ticket.id)
    resolved = await world.services.change_status(helper, tid, Status.RESOLVED)
    assert resolved.resolved_at == world.clock.now
    with pytest.raises(DomainError) as closed:
        await world.services.add_message(owner, tid, "one more thing")
    assert closed.value.code == errors.TICKET_CLOSED
    rated = await world.services.rate(owner, tid, 4, "ok")
    assert rated.rating == 4
    with pytest.raises(DomainError) as twice:
        await world.services.rate(owner, tid, 5, "")
    assert twice.value.code == errors.ALREADY_RATED
    with pytest.raises(DomainError) as not_owner:
        await world.services.rate(helper, tid, 5, "")
    assert not_owner.value.code == errors.OWNER_ONLY
    world.clock.advance(days=15)
    with pytest.raises(DomainError) as late:
        await world.services.reopen(owner, tid)
    assert late.value.code == errors.REOPEN_EXPIRED
    world.clock.advance(days=-2)
    assert (await world.services.reopen(owner, tid)).status is Status.IN_PROGRESS


async def test_queue_is_priority_then_sla(world, people) -> None:
    helper, standard, premium = people.agent(), people.customer(), people.customer()
    world.entitlements.premium.add(premium.account_id)
    older = await open_ticket(world, standard)
    world.clock.advance(hours=2)
    newer = await open_ticket(world, premium)
    queue = await world.services.queue(helper)
    assert [t.id for t in queue] == [newer.id, older.id]
    await world.services.assign(helper, str(older.id), "")
    assert [t.id for t in await world.services.queue(helper, only_mine=True)] == [older.id]


async def test_plan_changes_update_open_tickets_once_and_in_order(world, people) -> None:
    owner = people.customer()
    ticket = await open_ticket(world, owner)
    later = world.clock.now
    async with world.store.transaction() as tx:
        assert await world.services.apply_entitlements(tx, owner.account_id, True, later) == 1
        # The same event again changes nothing.
        assert await world.services.apply_entitlements(tx, owner.account_id, True, later) == 0
        # An older event (delivered late) does not undo the newer one.
        stale = later.replace(year=2025)
        assert await world.services.apply_entitlements(tx, owner.account_id, False, stale) == 0
    updated = world.store.tickets[ticket.id]
    assert updated.priority is Priority.HIGH
    assert updated.sla_due_at == ticket.created_at + world.services.rules.sla_high
    assert [h.kind for h in world.store.history].count("priority") == 1


async def test_erasing_an_account_removes_its_tickets_and_files_only(world, people) -> None:
    owner, other, helper = people.customer(), people.customer(), people.agent()
    mine = await open_ticket(world, owner, [Upload("a.png", PNG)])
    theirs = await open_ticket(world, other)
    await world.services.add_message(owner, str(mine.id), "more")
    await world.services.add_message(helper, str(theirs.id), "reply")
    for account in (owner.account_id, helper.account_id):
        async with world.store.transaction() as tx:
            keys = await world.services.erase_account(tx, account)
        await world.services.delete_objects(keys)
    assert list(world.store.tickets) == [theirs.id]
    assert objects_in(world) == []
    assert all(m.ticket_id == theirs.id for m in world.store.messages)
    assert {m.author_id for m in world.store.messages} == {other.account_id, None}
    # Erasing again is harmless.
    async with world.store.transaction() as tx:
        assert await world.services.erase_account(tx, owner.account_id) == []


async def test_a_ticket_goes_only_to_agents(world, people) -> None:
    owner, helper, colleague, stranger = (
        people.customer(),
        people.agent(),
        people.agent(),
        people.customer(),
    )
    world.accounts.agents.add(colleague.account_id)
    ticket = await open_ticket(world, owner)
    given = await world.services.assign(helper, str(ticket.id), str(colleague.account_id))
    assert given.assignee_id == colleague.account_id
    for bad in (str(stranger.account_id), str(owner.account_id), "not-an-id"):
        with pytest.raises(DomainError) as exc:
            await world.services.assign(helper, str(ticket.id), bad)
        assert exc.value.code == errors.ASSIGNEE_INVALID
    assert [h.to_value for h in world.store.history if h.kind == "assignment"] == [
        str(colleague.account_id)
    ]
