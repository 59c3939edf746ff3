"""An operator token for the tools that hold the database credentials (``kabinet-admin``, tests).

Operator-only RPCs need a token (``kabinet.rpc.callers``). The first operator, and the CLI that
grants roles, cannot get one from Kabinet before an operator exists; but whoever holds the
database credentials can already read identity's signing keys and change anything. Such a tool
signs itself a short client_credentials-shaped token with the ``kabinet.admin`` scope, with
identity's current key read from its schema; it names the tool as its client
(``kabinet-admin``), so logs and audits can tell it apart.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from kabinet.auth.keys import KeyRing, from_record
from kabinet.auth.tokens import issue_access_token
from kabinet.db import check_schema_name

OPERATOR_CLIENT = "kabinet-admin"
ADMIN_SCOPE = "kabinet.admin"
MAX_TOKEN_TTL = timedelta(hours=1)


async def operator_token(
    database_url: str,
    *,
    issuer: str,
    audience: str,
    ttl: timedelta = timedelta(minutes=5),
    schema: str = "identity",
) -> str:
    """A token with the admin scope, signed by identity's current key (read from ``schema``)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'SET search_path TO "{check_schema_name(schema)}"')
        rows = await conn.fetch(
            "SELECT kid, algorithm, private_jwk, created_at, active_from, retire_after"
            " FROM signing_keys"
        )
    finally:
        await conn.close()
    keys = []
    for row in rows:
        record: dict[str, Any] = dict(row)
        record["private_jwk"] = json.loads(record["private_jwk"])
        keys.append(from_record(record))
    return admin_token(
        KeyRing(keys, max_token_ttl=MAX_TOKEN_TTL), issuer=issuer, audience=audience, ttl=ttl
    )


def admin_token(
    keyring: KeyRing, *, issuer: str, audience: str, ttl: timedelta = timedelta(minutes=5)
) -> str:
    """The admin-scoped token of ``OPERATOR_CLIENT``, signed by ``keyring``'s current key."""
    return issue_access_token(
        keyring,
        issuer=issuer.rstrip("/"),
        audience=audience,
        subject=OPERATOR_CLIENT,
        session_id=str(uuid.uuid4()),
        now=datetime.now(UTC),
        scope=[ADMIN_SCOPE],
        ttl=ttl,
        client_id=OPERATOR_CLIENT,
        extra_claims={"gty": "client_credentials"},
    )


async def operator_metadata(
    database_url: str, *, issuer: str, audience: str
) -> tuple[tuple[str, str]]:
    """``authorization`` metadata for a gRPC call to an operator-only method."""
    token = await operator_token(database_url, issuer=issuer, audience=audience)
    return (("authorization", f"Bearer {token}"),)
