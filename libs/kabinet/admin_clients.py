"""``kabinet-admin clients ...``: OAuth/OpenID clients, through identity's
``ClientRegistryService``.

- ``clients list``: every client, disabled ones marked;
- ``clients register FILE.json``: a new client (JSON of ``kabinet.identity.v1.OAuthClient``:
  ``{"client_id": ..., "name": ..., "confidential": true, "redirect_uris": [...],
  "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "email"]}``);
  a confidential client's secret is printed once, here, and Kabinet keeps only its hash;
- ``clients update FILE.json``: replace a client's settings (its secret is kept); a file that
  does not say ``"disabled"`` keeps the client's current state, so an update never quietly
  enables a disabled client;
- ``clients disable CLIENT_ID``: refuse the client from now on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from kabinet.admin_rpc import operator_link
from kabinet.identity.v1 import oidc_pb2, oidc_pb2_grpc

GROUPS = ("clients",)
SERVICES = [oidc_pb2.DESCRIPTOR.services_by_name["ClientRegistryService"]]


def add_parser(groups: Any) -> None:
    clients = groups.add_parser("clients", help="OAuth/OpenID clients of identity")
    commands = clients.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every client")
    for name, text in (
        ("register", "register a client from JSON (a confidential one's secret is shown once)"),
        ("update", "replace a client's settings from JSON"),
    ):
        commands.add_parser(name, help=text).add_argument("file", type=Path)
    commands.add_parser("disable", help="refuse a client from now on").add_argument("client_id")


def describe(client: oidc_pb2.OAuthClient) -> str:
    kind = "confidential" if client.confidential else "public"
    flags = [kind] + (["first-party"] if client.first_party else [])
    flags += ["DISABLED"] if client.disabled else []
    return (
        f"{client.client_id}  {client.name}  ({', '.join(flags)})"
        f"  grants: {' '.join(client.grant_types)}  scopes: {' '.join(client.scopes)}"
        f"  redirects: {' '.join(client.redirect_uris) or '-'}"
    )


def _client(path: Path) -> oidc_pb2.OAuthClient:
    return json_format.Parse(path.read_text(encoding="utf-8"), oidc_pb2.OAuthClient())


async def run(args: argparse.Namespace, database: str) -> list[str]:
    """The command's output lines; gRPC errors propagate."""
    async with operator_link(database, lambda a: a.identity, SERVICES) as link:
        stub: Any = oidc_pb2_grpc.ClientRegistryServiceStub(link.channel)
        md = link.metadata
        if args.command == "list":
            listed = await stub.ListClients(oidc_pb2.ListClientsRequest(), metadata=md)
            return [describe(c) for c in listed.clients] or ["no clients"]
        if args.command == "register":
            made = await stub.RegisterClient(
                oidc_pb2.RegisterClientRequest(client=_client(args.file)), metadata=md
            )
            lines = [describe(made.client)]
            if made.client_secret:
                lines.append(f"client secret (shown once, keep it now): {made.client_secret}")
            return lines
        if args.command == "update":
            text = args.file.read_text(encoding="utf-8")
            client = json_format.Parse(text, oidc_pb2.OAuthClient())
            if "disabled" not in json.loads(text):
                listed = await stub.ListClients(oidc_pb2.ListClientsRequest(), metadata=md)
                current = [c for c in listed.clients if c.client_id == client.client_id]
                client.disabled = bool(current) and current[0].disabled
            updated = await stub.UpdateClient(
                oidc_pb2.UpdateClientRequest(client=client), metadata=md
            )
            return [describe(updated.client)]
        await stub.DisableClient(
            oidc_pb2.DisableClientRequest(client_id=args.client_id), metadata=md
        )
        return [f"{args.client_id} disabled"]
