"""``kabinet-admin``: the operator's command line.

It talks to the same PostgreSQL and NATS as the services (``KABINET_DATABASE_URL``,
``KABINET_NATS_URL``; when they are unset it uses the servers ``make run`` starts). Commands:

- ``kabinet-admin events lag``: per service, events waiting in the outbox and how old the oldest
  is, and per durable consumer, messages not yet delivered and not yet acknowledged;
- ``kabinet-admin events parked [--service S] [--all]``: events a consumer gave up on;
- ``kabinet-admin events replay SERVICE PARKED_ID``: ask the consumer to run its handler again;
- ``kabinet-admin migrate [--service S]``: apply every service's pending migrations and exit (the
  release's migration Job; services also migrate at start-up, under the same advisory lock);
- ``kabinet-admin keys rotate [--publish-ahead SECONDS]``: create identity's next signing key now;
- commands that call a service as an operator, one module each (``kabinet.admin_rpc`` holds
  what they share): ``roles`` (``kabinet.admin_roles``), ``plans`` and ``codes``
  (``kabinet.admin_catalog``), ``clients`` (``kabinet.admin_clients``), ``releases``
  (``kabinet.admin_releases``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import nats
from nats.js.errors import NotFoundError

from kabinet import admin_catalog, admin_clients, admin_releases, admin_roles, admin_rpc
from kabinet.config import ConfigError, load_settings
from kabinet.db import check_schema_name, migrate_url
from kabinet.devstack.settings import DevstackSettings
from kabinet.events import list_parked, outbox_lag, request_replay
from kabinet.events.streams import STREAMS
from kabinet.settings import CommonSettings

SERVICES = ("identity", "subscription", "distribution", "support")
# Command groups that call a service as an operator.
RPC_GROUPS = {
    group: module
    for module in (admin_roles, admin_catalog, admin_clients, admin_releases)
    for group in module.GROUPS
}


def _urls() -> tuple[str, str]:
    common = load_settings(CommonSettings)
    dev = load_settings(DevstackSettings)
    database = common.database_url or f"postgresql://postgres@127.0.0.1:{dev.postgres_port}/kabinet"
    bus = common.nats_url or f"nats://127.0.0.1:{dev.nats_port}"
    return database, bus


async def _schemas(conn: asyncpg.Connection, only: str | None) -> list[str]:
    present = {
        r["nspname"]
        for r in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)", SERVICES
        )
    }
    wanted = [only] if only else list(SERVICES)
    return [s for s in wanted if s in present]


async def lag(database: str, bus: str) -> list[str]:
    """Lines describing outbox and consumer lag."""
    lines = ["outbox (events committed, not yet on NATS):"]
    conn = await asyncpg.connect(database)
    try:
        for schema in await _schemas(conn, None):
            await conn.execute(f'SET search_path TO "{check_schema_name(schema)}"')
            pending, oldest = await outbox_lag(conn)
            lines.append(f"  {schema:<13} pending {pending:>6}  oldest {oldest:8.1f}s")
    finally:
        await conn.close()
    lines.append("consumers (JetStream):")
    client = await nats.connect(bus, connect_timeout=3, max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        for stream in STREAMS:
            try:
                names = [c.name for c in await js.consumers_info(stream)]
            except NotFoundError:
                continue
            for name in sorted(names):
                info = await js.consumer_info(stream, name)
                lines.append(
                    f"  {stream:<13} {name:<40} pending {info.num_pending:>6}"
                    f"  unacknowledged {info.num_ack_pending:>6}"
                )
    finally:
        await client.close()
    return lines


async def parked(database: str, service: str | None, include_replayed: bool) -> list[str]:
    """Lines listing parked events."""
    conn = await asyncpg.connect(database)
    lines: list[str] = []
    try:
        for schema in await _schemas(conn, service):
            await conn.execute(f'SET search_path TO "{check_schema_name(schema)}"')
            for event in await list_parked(conn, include_replayed=include_replayed):
                state = (
                    "replayed"
                    if event.replayed_at
                    else ("replay requested" if event.replay_requested_at else "parked")
                )
                lines.append(
                    f"{schema} {event.id} {event.consumer} {event.subject}"
                    f" deliveries={event.deliveries} {state} at {event.parked_at:%Y-%m-%d %H:%M:%S}"
                    f"\n    {event.error}"
                )
    finally:
        await conn.close()
    return lines or ["no parked events"]


async def replay(database: str, service: str, parked_id: uuid.UUID) -> bool:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(f'SET search_path TO "{check_schema_name(service)}"')
        return await request_replay(conn, parked_id)
    finally:
        await conn.close()


def service_migrations(service: str) -> Path:
    """The migrations folder of ``service``'s package, found without importing the service."""
    spec = importlib.util.find_spec(service)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {service} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "migrations"


async def migrate_all(database: str, services: Sequence[str] = SERVICES) -> list[str]:
    """Apply each service's pending migrations (shared ones first); lines saying what was done."""
    lines = []
    for service in services:
        applied = await migrate_url(database, service, service_migrations(service))
        lines.append(f"{service}: " + (", ".join(applied) if applied else "up to date"))
    return lines


async def rotate_key(database: str, publish_ahead: float | None) -> str:
    ops = importlib.import_module("identity.ops")
    key = await ops.rotate_signing_key(database, publish_ahead)
    when = f"{key.active_from:%Y-%m-%d %H:%M:%S %Z}"
    return f"signing key {key.kid} created; published now, signs from {when}"


def _positive(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kabinet-admin", description=__doc__.split("\n\n")[0])
    groups = parser.add_subparsers(dest="group", required=True)
    events = groups.add_parser("events", help="the event stream: lag, parked events, replay")
    commands = events.add_subparsers(dest="command", required=True)
    commands.add_parser("lag", help="outbox and consumer lag")
    listing = commands.add_parser("parked", help="events a consumer gave up on")
    listing.add_argument("--service", choices=SERVICES)
    listing.add_argument("--all", action="store_true", help="also those already replayed")
    again = commands.add_parser("replay", help="run a parked event's handler again")
    again.add_argument("service", choices=SERVICES)
    again.add_argument("parked_id", type=uuid.UUID)
    migrating = groups.add_parser("migrate", help="apply pending database migrations and exit")
    migrating.add_argument("--service", choices=SERVICES, help="only this service's schema")
    keys = groups.add_parser("keys", help="identity's token signing keys")
    key_commands = keys.add_subparsers(dest="command", required=True)
    rotating = key_commands.add_parser("rotate", help="create the next signing key now")
    rotating.add_argument(
        "--publish-ahead",
        type=_positive,
        help="seconds it is published before it signs (default KABINET_IDENTITY_KEY_PUBLISH_AHEAD)",
    )
    for module in dict.fromkeys(RPC_GROUPS.values()):
        module.add_parser(groups)
    args = parser.parse_args(argv)
    if args.group in RPC_GROUPS:
        return admin_rpc.run_group(RPC_GROUPS[args.group].run, args, lambda: _urls()[0])
    try:
        database, bus = _urls()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.group == "migrate":
            only = [args.service] if args.service else SERVICES
            print("\n".join(asyncio.run(migrate_all(database, only))))
        elif args.group == "keys":
            print(asyncio.run(rotate_key(database, args.publish_ahead)))
        elif args.command == "lag":
            print("\n".join(asyncio.run(lag(database, bus))))
        elif args.command == "parked":
            print("\n".join(asyncio.run(parked(database, args.service, args.all))))
        else:
            if not asyncio.run(replay(database, args.service, args.parked_id)):
                print("no such parked event, or it was replayed already", file=sys.stderr)
                return 1
            print("replay requested; the consumer runs it within seconds")
    except (OSError, RuntimeError, ValueError, asyncpg.PostgresError, nats.errors.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
