"""``kabinet-admin roles grant|revoke EMAIL ROLE``: give or take a role (``support_agent``,
``operator``) through identity's ``GrantRole``/``RevokeRole``; the account's tokens carry the
change from its next sign-in or refresh."""

from __future__ import annotations

import argparse
from typing import Any

from kabinet.admin_rpc import operator_link
from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc

GROUPS = ("roles",)


def add_parser(groups: Any) -> None:
    roles = groups.add_parser("roles", help="grant or revoke an account's role")
    commands = roles.add_subparsers(dest="command", required=True)
    for action in ("grant", "revoke"):
        sub = commands.add_parser(action, help=f"{action} a role (support_agent, operator)")
        sub.add_argument("email")
        sub.add_argument("role")


async def run(args: argparse.Namespace, database: str) -> list[str]:
    """The line to print; gRPC errors propagate."""
    async with operator_link(database, lambda a: a.identity) as link:
        stub: Any = identity_pb2_grpc.IdentityServiceStub(link.channel)
        if args.command == "grant":
            changed = await stub.GrantRole(
                identity_pb2.GrantRoleRequest(email=args.email, role=args.role),
                metadata=link.metadata,
            )
        else:
            changed = await stub.RevokeRole(
                identity_pb2.RevokeRoleRequest(email=args.email, role=args.role),
                metadata=link.metadata,
            )
    state = "changed" if changed.changed else "unchanged"
    return [f"{changed.account_id} roles: {', '.join(changed.roles) or '-'} ({state})"]
