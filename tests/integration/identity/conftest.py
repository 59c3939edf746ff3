"""The identity service started in-process on real PostgreSQL, NATS and an SMTP sink.

Each test module gets its own database (the service always works in the schema ``identity``), its
own SMTP sink and its own gRPC port, and talks to the service over a real grpc.aio channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from identity.app import serve
from identity.config import IdentitySettings, LinkSettings, ThrottleSettings
from kabinet.auth.operator import operator_metadata
from kabinet.db import create_pool
from kabinet.devstack.mailbox import Mailbox, StoredMessage
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.devstack.smtp import SmtpSink
from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.identity.v1 import identity_pb2_grpc
from kabinet.settings import CommonSettings, ServiceAddresses

PUBLIC_URL = "https://portal.kabinet.test"
STRONG_PASSWORD = "Vt7-quartz-Mango"
OTHER_PASSWORD = "Lq9-harbor-Violet"


@dataclass
class RunningIdentity:
    """A started identity service and what a test needs to talk to it and look inside."""

    stub: identity_pb2_grpc.IdentityServiceStub
    mailbox: Mailbox
    pool: asyncpg.Pool
    settings: IdentitySettings
    database_url: str

    async def operator(self) -> tuple[tuple[str, str]]:
        """Metadata of an operator tool's call (a token signed with this identity's own key)."""
        return await operator_metadata(
            self.database_url, issuer=PUBLIC_URL, audience=CommonSettings().api_audience
        )

    async def mail_to(
        self, address: str, template_subject: str, *, since: datetime | None = None
    ) -> StoredMessage:
        """The first message to ``address`` whose subject contains ``template_subject``."""
        return await self.mailbox.wait_for(
            address,
            lambda m: template_subject.casefold() in m.subject.casefold(),
            since=since,
            timeout=20,
        )

    def mails_to(self, address: str) -> list[StoredMessage]:
        return self.mailbox.find(to=address)

    async def queued_mail(self, address: str) -> list[str]:
        """Templates queued for ``address`` (sent or not), oldest first."""
        rows = await self.pool.fetch(
            "SELECT template FROM mail_outbox WHERE lower(to_address) = lower($1)"
            " ORDER BY created_at",
            address,
        )
        return [row["template"] for row in rows]

    strong_password = STRONG_PASSWORD
    other_password = OTHER_PASSWORD
    public_url = PUBLIC_URL

    @staticmethod
    def unique_email(prefix: str = "user") -> str:
        return f"{prefix}.{uuid.uuid4().hex[:10]}@example.com"

    @staticmethod
    def client(ip: str = "198.51.100.7", kind: int = pb.CLIENT_KIND_BROWSER) -> pb.ClientInfo:
        return pb.ClientInfo(ip=ip, user_agent="pytest/1.0", kind=kind)

    @staticmethod
    def link_token(message: StoredMessage, page: str) -> str:
        """The token of the first link in ``message`` to ``<PUBLIC_URL>/<page>``."""
        prefix = f"{PUBLIC_URL}/{page}?token="
        for link in message.links:
            if link.startswith(prefix):
                return link[len(prefix) :]
        raise AssertionError(f"no {page} link in {message.subject!r}: {message.links}")

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    async def events(self, subject: str) -> list[bytes]:
        rows = await self.pool.fetch(
            "SELECT payload FROM outbox WHERE subject = $1 ORDER BY created_at, seq", subject
        )
        return [bytes(row["payload"]) for row in rows]


@contextlib.asynccontextmanager
async def running_identity(
    postgres: EmbeddedPostgres, nats_url: str, root: Path, **overrides: Any
) -> AsyncIterator[RunningIdentity]:
    """Start the service on a database of its own; ``overrides`` replace settings groups."""
    database = f"identity_{uuid.uuid4().hex[:10]}"
    postgres.create_database(database)
    database_url = postgres.database_url(database)
    sink = SmtpSink(root / "maildir", port=free_port())
    sink.start()
    settings = IdentitySettings(
        common=CommonSettings(
            database_url=database_url,
            nats_url=nats_url,
            smtp_url=sink.url,
            public_url=PUBLIC_URL,
            addresses=ServiceAddresses(identity=f"127.0.0.1:{free_port()}"),
        ),
        links=LinkSettings(anonymous_min_duration=0.05),
        throttle=ThrottleSettings(
            account_max_failures=3, ip_free_failures=1000, failure_min_duration=0.05
        ),
    )
    settings = dataclasses.replace(settings, **overrides)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, ready=ready))
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiting}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiting.cancel()
        task.result()  # raises the start-up failure
    assert ready.is_set(), "the identity service did not start within 60 s"
    channel = grpc.aio.insecure_channel(settings.common.addresses.identity)
    pool = await create_pool(database_url, "identity", min_size=1, max_size=4)
    try:
        yield RunningIdentity(
            stub=identity_pb2_grpc.IdentityServiceStub(channel),
            mailbox=Mailbox(root / "maildir"),
            pool=pool,
            settings=settings,
            database_url=database_url,
        )
    finally:
        await pool.close()
        await channel.close()
        stop.set()
        await asyncio.wait_for(task, 60)
        sink.stop()


@pytest.fixture(scope="module")
async def identity(
    postgres: EmbeddedPostgres, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningIdentity]:
    """The identity service for this test module (3 failures lock an account)."""
    async with running_identity(postgres, nats_url, tmp_path_factory.mktemp("identity")) as it:
        yield it


@pytest.fixture(scope="module")
def start_identity(
    postgres: EmbeddedPostgres, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., AbstractAsyncContextManager[RunningIdentity]]:
    """Start another identity service with other settings: ``async with start_identity(...)``."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[RunningIdentity]:
        return running_identity(
            postgres, nats_url, tmp_path_factory.mktemp("identity"), **overrides
        )

    return start
