"""Support through the gateway on the real cluster: a ticket with an attachment, an agent (given
the role by identity's GrantRole, then signed in again) replies, the customer is emailed and
answers, the agent resolves, the customer rates. Another customer gets 404 on every route of that
ticket and its attachment; a Premium customer's ticket comes before a Standard customer's older
one in the queue; oversized and disguised attachments are refused."""

import asyncio
import uuid
from pathlib import Path

import grpc
import httpx
import pytest

from kabinet import admin
from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc
from kabinet.support.v1 import support_pb2, support_pb2_grpc
from kabinet.testing.accounts import PASSWORD, issue_codes, signed_in
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64)


class Person:
    def __init__(self, email: str, auth: dict[str, str]) -> None:
        self.email = email
        self.auth = auth


async def _sign_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['access_token']}"}


async def _person(cluster: Cluster, http: httpx.AsyncClient, name: str) -> Person:
    return Person(*await signed_in(cluster, http, name))


async def _grant_agent(cluster: Cluster, email: str) -> None:
    async with grpc.aio.insecure_channel(cluster.common.addresses.identity) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        reply = await stub.GrantRole(
            identity_pb2.GrantRoleRequest(email=email, role="support_agent"),
            timeout=10,
            metadata=await cluster.operator_metadata(),
        )
    assert "support_agent" in reply.roles
    assert reply.changed


async def _agent(cluster: Cluster, http: httpx.AsyncClient) -> Person:
    agent = await _person(cluster, http, "agent")
    before = await http.get("/api/v1/support/queue", headers=agent.auth)
    assert before.status_code == 403
    await _grant_agent(cluster, agent.email)
    # The role reaches tokens at the next sign-in (or refresh).
    return Person(agent.email, await _sign_in(http, agent.email))


async def _subscribe(cluster: Cluster, http: httpx.AsyncClient, who: Person, plan: str) -> None:
    [code] = await issue_codes(cluster, plan, devices=1, term_months=12)
    redeemed = await http.post("/api/v1/subscriptions/codes", json={"code": code}, headers=who.auth)
    assert redeemed.status_code == 200, redeemed.text


async def _open(
    http: httpx.AsyncClient,
    who: Person,
    subject: str,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    **extra: str,
) -> httpx.Response:
    form = {
        "topic": "technical",
        "application": "Kabinet Antivirus 5.1",
        "device": "Windows 11",
        "subject": subject,
        "description": "It <b>crashes</b> at start.",
        **extra,
    }
    # A form without a chosen file still comes as multipart, with an empty file part.
    parts = files or [("attachments", ("", b"", "application/octet-stream"))]
    return await http.post("/api/v1/support/tickets", data=form, files=parts, headers=who.auth)


async def test_ticket_thread_mail_resolution_rating_and_isolation(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    customer = await _person(cluster, http, "customer")
    stranger = await _person(cluster, http, "stranger")
    agent = await _agent(cluster, http)

    opened = await _open(
        http,
        customer,
        "Scanner crashes",
        files=[("attachments", ("screen.png", PNG, "image/png"))],
        owner_id=str(uuid.uuid4()),
        status="resolved",
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    tid = ticket["id"]
    assert uuid.UUID(tid).version == 4
    assert ticket["status"] == "new"  # the body's status was ignored
    assert ticket["priority"] == "normal"

    detail = (await http.get(f"/api/v1/support/tickets/{tid}", headers=customer.auth)).json()
    assert detail["ticket"]["owner_id"] != ""
    first = detail["messages"][0]
    assert first["body"] == "It <b>crashes</b> at start."
    [attachment] = first["attachments"]
    assert attachment["content_type"] == "image/png"
    download = await http.get(attachment["url"], headers=customer.auth)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert (await http.get(attachment["url"], headers=agent.auth)).status_code == 200

    # The agent finds it in the queue, takes it and replies; the customer is emailed.
    queue = (await http.get("/api/v1/support/queue", headers=agent.auth)).json()
    assert tid in [t["id"] for t in queue]
    assigned = await http.post(f"/api/v1/support/tickets/{tid}/assign", json={}, headers=agent.auth)
    assert assigned.status_code == 200
    assert assigned.json()["assignee_id"]
    mine = (await http.get("/api/v1/support/queue?mine=true", headers=agent.auth)).json()
    assert [t["id"] for t in mine] == [tid]
    replied = await http.post(
        f"/api/v1/support/tickets/{tid}/messages",
        json={"body": "Please send the log <script>x</script>"},
        headers=agent.auth,
    )
    assert replied.status_code == 201, replied.text
    assert replied.json()["ticket"]["status"] == "in_progress"
    mail = await cluster.mailbox.wait_for(
        customer.email, lambda m: "Support replied" in m.subject, timeout=15
    )
    assert f"/support/tickets/{tid}" in " ".join(mail.links)
    note = await http.post(
        f"/api/v1/support/tickets/{tid}/notes",
        json={"body": "customer on old build"},
        headers=agent.auth,
    )
    assert note.status_code == 201
    # Customers may not write internal notes.
    refused = await http.post(
        f"/api/v1/support/tickets/{tid}/notes", json={"body": "x"}, headers=customer.auth
    )
    assert refused.status_code == 403

    # The customer replies; sees the agent's reply but never the internal note.
    answered = await http.post(
        f"/api/v1/support/tickets/{tid}/messages",
        json={"body": "Here it is."},
        headers=customer.auth,
    )
    assert answered.status_code == 201
    seen = (await http.get(f"/api/v1/support/tickets/{tid}", headers=customer.auth)).json()
    bodies = [m["body"] for m in seen["messages"]]
    assert "Please send the log <script>x</script>" in bodies
    assert "customer on old build" not in bodies
    assert all(not m["internal"] for m in seen["messages"])
    agent_view = (await http.get(f"/api/v1/support/tickets/{tid}", headers=agent.auth)).json()
    assert "customer on old build" in [m["body"] for m in agent_view["messages"]]
    page = await http.get(f"/support/tickets/{tid}", headers=customer.auth)
    assert page.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt;" in page.text
    assert "<script>" not in page.text
    assert "customer on old build" not in page.text

    # Rating before resolution is refused; the agent resolves; the customer rates once.
    early = await http.post(
        f"/api/v1/support/tickets/{tid}/rating", json={"rating": 5}, headers=customer.auth
    )
    assert early.status_code == 409
    assert early.json()["code"] == "ticket.rating_not_allowed"
    resolved = await http.post(
        f"/api/v1/support/tickets/{tid}/status", json={"status": "resolved"}, headers=agent.auth
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    await cluster.mailbox.wait_for(customer.email, lambda m: "Resolved" in m.subject, timeout=15)
    rated = await http.post(
        f"/api/v1/support/tickets/{tid}/rating",
        json={"rating": 5, "comment": "Quick, thanks"},
        headers=customer.auth,
    )
    assert rated.status_code == 200
    assert rated.json()["rating"] == 5
    again = await http.post(
        f"/api/v1/support/tickets/{tid}/rating", json={"rating": 1}, headers=customer.auth
    )
    assert again.status_code == 409
    assert again.json()["code"] == "ticket.already_rated"
    history = (await http.get(f"/api/v1/support/tickets/{tid}", headers=customer.auth)).json()
    statuses = [h["to_value"] for h in history["history"] if h["kind"] == "status"]
    assert statuses == ["new", "in_progress", "resolved"]

    # Another customer: 404 on every route of this ticket and its attachment.
    s = stranger.auth
    attempts = [
        await http.get(f"/api/v1/support/tickets/{tid}", headers=s),
        await http.get(attachment["url"], headers=s),
        await http.post(f"/api/v1/support/tickets/{tid}/messages", json={"body": "hi"}, headers=s),
        await http.post(f"/api/v1/support/tickets/{tid}/notes", json={"body": "hi"}, headers=s),
        await http.post(f"/api/v1/support/tickets/{tid}/rating", json={"rating": 1}, headers=s),
        await http.post(f"/api/v1/support/tickets/{tid}/reopen", headers=s),
        await http.post(f"/api/v1/support/tickets/{tid}/assign", json={}, headers=s),
        await http.post(
            f"/api/v1/support/tickets/{tid}/status", json={"status": "closed"}, headers=s
        ),
        await http.get(f"/support/tickets/{tid}", headers=s),
    ]
    assert [a.status_code for a in attempts] == [404] * len(attempts)
    assert attempts[0].json()["code"] == "ticket.not_found"
    assert attempts[1].json()["code"] == "attachment.not_found"
    assert tid not in [
        t["id"] for t in (await http.get("/api/v1/support/tickets", headers=s)).json()
    ]
    assert (await http.get("/api/v1/support/queue", headers=s)).status_code == 403
    # The owner still sees it, and can reopen it.
    reopened = await http.post(f"/api/v1/support/tickets/{tid}/reopen", headers=customer.auth)
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "in_progress"


async def test_premium_ticket_comes_before_an_older_standard_one(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    standard = await _person(cluster, http, "standard")
    premium = await _person(cluster, http, "premium")
    agent = await _agent(cluster, http)
    await _subscribe(cluster, http, standard, "standard")
    await _subscribe(cluster, http, premium, "premium")

    older = await _open(http, standard, "Standard question")
    newer = await _open(http, premium, "Premium question")
    assert older.status_code == newer.status_code == 201, older.text
    assert older.json()["priority"] == "normal"
    assert newer.json()["priority"] == "high"
    assert newer.json()["sla_due_at"] < older.json()["sla_due_at"]

    queue = [t["id"] for t in (await http.get("/api/v1/support/queue", headers=agent.auth)).json()]
    assert queue.index(newer.json()["id"]) < queue.index(older.json()["id"])


async def test_oversized_and_disguised_attachments_are_refused(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    customer = await _person(cluster, http, "uploader")
    disguised = await _open(
        http, customer, "Disguised", files=[("attachments", ("photo.png", EXE, "image/png"))]
    )
    assert disguised.status_code == 400
    assert disguised.json()["code"] == "attachment.type_not_allowed"
    big = PNG + bytes(1_048_576)
    oversized = await _open(
        http, customer, "Too big", files=[("attachments", ("big.png", big, "image/png"))]
    )
    assert oversized.status_code == 400
    assert oversized.json()["code"] == "attachment.too_large"
    # Past the route's body limit the gateway refuses before reading the files.
    huge = await _open(
        http,
        customer,
        "Huge",
        files=[("attachments", (f"p{i}.png", big, "image/png")) for i in range(5)],
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "request.too_large"
    crlf = await _open(http, customer, "Subject\r\nBcc: x@example.com")
    assert crlf.status_code == 400
    assert crlf.json()["code"] == "ticket.invalid"
    # Nothing was half-written.
    assert (await http.get("/api/v1/support/tickets", headers=customer.auth)).json() == []


async def test_grpc_callers_who_are_not_the_owner_get_not_found_everywhere(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    owner = await _person(cluster, http, "grpc-owner")
    opened = await _open(
        http, owner, "Over gRPC", files=[("attachments", ("log.txt", b"log line\n", "text/plain"))]
    )
    ticket = opened.json()
    detail = (await http.get(f"/api/v1/support/tickets/{ticket['id']}", headers=owner.auth)).json()
    attachment_id = detail["messages"][0]["attachments"][0]["id"]
    stranger = support_pb2.Caller(account_id=str(uuid.uuid4()))
    tid = ticket["id"]
    async with grpc.aio.insecure_channel(cluster.common.addresses.support) as channel:
        stub = support_pb2_grpc.SupportServiceStub(channel)
        calls = [
            stub.GetTicket(
                support_pb2.GetTicketRequest(caller=stranger, ticket_id=tid), timeout=10
            ),
            stub.AddMessage(
                support_pb2.AddMessageRequest(caller=stranger, ticket_id=tid, body="x"), timeout=10
            ),
            stub.GetAttachment(
                support_pb2.GetAttachmentRequest(caller=stranger, attachment_id=attachment_id),
                timeout=10,
            ),
            stub.ChangeStatus(
                support_pb2.ChangeStatusRequest(
                    caller=stranger, ticket_id=tid, status=support_pb2.TICKET_STATUS_CLOSED
                ),
                timeout=10,
            ),
            stub.ReopenTicket(
                support_pb2.ReopenTicketRequest(caller=stranger, ticket_id=tid), timeout=10
            ),
            stub.RateTicket(
                support_pb2.RateTicketRequest(caller=stranger, ticket_id=tid, rating=5), timeout=10
            ),
            stub.AssignTicket(
                support_pb2.AssignTicketRequest(caller=stranger, ticket_id=tid), timeout=10
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as exc:
                await call
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        mine = await stub.ListMyTickets(
            support_pb2.ListMyTicketsRequest(caller=stranger), timeout=10
        )
        assert list(mine.tickets) == []


async def test_a_role_reaches_tokens_at_refresh_and_a_revoked_one_leaves(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    person = await _person(cluster, http, "refresh")
    login = await http.post(
        "/api/v1/auth/login", json={"email": person.email, "password": PASSWORD}
    )
    refresh_token = login.json()["refresh_token"]
    await _grant_agent(cluster, person.email)
    refreshed = await http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    auth = {"authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await http.get("/api/v1/support/queue", headers=auth)).status_code == 200
    operator = await cluster.operator_metadata()
    async with grpc.aio.insecure_channel(cluster.common.addresses.identity) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        revoked = await stub.RevokeRole(
            identity_pb2.RevokeRoleRequest(email=person.email, role="support_agent"),
            timeout=10,
            metadata=operator,
        )
        assert list(revoked.roles) == []
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stub.GrantRole(
                identity_pb2.GrantRoleRequest(email=person.email, role="admin"),
                timeout=10,
                metadata=operator,
            )
        assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    again = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    auth = {"authorization": f"Bearer {again.json()['access_token']}"}
    assert (await http.get("/api/v1/support/queue", headers=auth)).status_code == 403


async def test_a_plan_change_raises_the_priority_of_open_tickets(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    person = await _person(cluster, http, "upgrade")
    opened = await _open(http, person, "Before upgrade")
    assert opened.json()["priority"] == "normal"
    await _subscribe(cluster, http, person, "premium")
    url = f"/api/v1/support/tickets/{opened.json()['id']}"
    for _ in range(100):
        ticket = (await http.get(url, headers=person.auth)).json()["ticket"]
        if ticket["priority"] == "high":
            break
        await asyncio.sleep(0.1)
    assert ticket["priority"] == "high"
    assert ticket["sla_due_at"] < opened.json()["sla_due_at"]


async def test_a_deleted_account_takes_its_tickets_and_files_along(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    person = await _person(cluster, http, "leaving")
    agent = await _agent(cluster, http)
    opened = await _open(
        http, person, "Bye", files=[("attachments", ("shot.png", PNG, "image/png"))]
    )
    tid = opened.json()["id"]
    detail = (await http.get(f"/api/v1/support/tickets/{tid}", headers=agent.auth)).json()
    url = detail["messages"][0]["attachments"][0]["url"]
    assert (await http.get(url, headers=agent.auth)).status_code == 200
    # Attachments live in the object store the whole cluster shares (KABINET_OBJECTSTORE_*).
    root = Path(cluster.environ["KABINET_OBJECTSTORE_DIR"]) / "objects" / "tickets"
    assert any((root / tid).iterdir())
    deleted = await http.post(
        "/api/v1/account/delete", json={"password": PASSWORD}, headers=person.auth
    )
    assert deleted.status_code == 204, deleted.text
    for _ in range(100):
        gone = await http.get(f"/api/v1/support/tickets/{tid}", headers=agent.auth)
        if gone.status_code == 404:
            break
        await asyncio.sleep(0.1)
    assert gone.status_code == 404
    assert (await http.get(url, headers=agent.auth)).status_code == 404
    assert not (root / tid).exists() or not any((root / tid).iterdir())


async def test_kabinet_admin_grants_and_revokes_roles(
    cluster: Cluster,
    http: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    person = await _person(cluster, http, "operator-made")
    # The CLI signs its operator token with identity's key, read with the database credentials.
    for name in ("KABINET_IDENTITY_ADDR", "KABINET_DATABASE_URL", "KABINET_PUBLIC_URL"):
        monkeypatch.setenv(name, cluster.environ[name])
    granted = await asyncio.to_thread(admin.main, ["roles", "grant", person.email, "support_agent"])
    assert granted == 0
    assert "roles: support_agent (changed)" in capsys.readouterr().out
    auth = await _sign_in(http, person.email)
    assert (await http.get("/api/v1/support/queue", headers=auth)).status_code == 200
    assert (
        await asyncio.to_thread(admin.main, ["roles", "revoke", person.email, "support_agent"]) == 0
    )
    assert "roles: - (changed)" in capsys.readouterr().out
    refused = await asyncio.to_thread(admin.main, ["roles", "grant", person.email, "root"])
    assert refused == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err


async def test_replies_and_notes_carry_attachments_over_http(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    customer = await _person(cluster, http, "replier")
    agent = await _agent(cluster, http)
    opened = await _open(http, customer, "Crash log follows")
    assert opened.status_code == 201, opened.text
    tid = opened.json()["id"]
    log = b"2026-12-07 12:00:01 ERROR engine: scan aborted\n" * 40

    async def post(
        kind: str, who: Person, body: str, file: tuple[str, bytes, str]
    ) -> httpx.Response:
        """A reply or note with one file, as the thread page's form sends it (multipart)."""
        return await http.post(
            f"/api/v1/support/tickets/{tid}/{kind}",
            data={"body": body},
            files=[("attachments", file)],
            headers=who.auth,
        )

    replied = await post("messages", customer, "The log", ("engine.log", log, "text/plain"))
    assert replied.status_code == 201, replied.text
    [attached] = replied.json()["message"]["attachments"]
    assert attached["filename"] == "engine.log"
    fetched = await http.get(attached["url"], headers=agent.auth)
    assert fetched.status_code == 200
    assert fetched.content == log

    # An agent's internal note may carry a file too; the customer sees neither.
    noted = await post("notes", agent, "Same trace as before.", ("trace.png", PNG, "image/png"))
    assert noted.status_code == 201, noted.text
    [note_file] = noted.json()["message"]["attachments"]
    seen = (await http.get(f"/api/v1/support/tickets/{tid}", headers=customer.auth)).json()
    assert "Same trace as before." not in [m["body"] for m in seen["messages"]]
    assert (await http.get(note_file["url"], headers=customer.auth)).status_code == 404

    # A reply's files go through the same checks as a new ticket's; nothing is half-written.
    disguised = await post("messages", customer, "and this", ("photo.png", EXE, "image/png"))
    assert disguised.status_code == 400
    assert disguised.json()["code"] == "attachment.type_not_allowed"
    after = (await http.get(f"/api/v1/support/tickets/{tid}", headers=customer.auth)).json()
    assert "and this" not in [m["body"] for m in after["messages"]]
