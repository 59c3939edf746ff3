"""What every ``kabinet-admin`` command that calls a service shares: the operator token (signed
with identity's key, read with the database credentials, the way the first operator is made), a
channel with a deadline on every call, and the reporting of errors.

A command group is a module with ``add_parser(groups)`` and ``async run(args, database)`` that
returns the lines to print; ``run_group`` runs it and turns failures into exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import ServiceDescriptor

from kabinet.auth.operator import operator_metadata
from kabinet.config import ConfigError, load_settings
from kabinet.messages import translate
from kabinet.rpc.client import create_channel
from kabinet.rpc.errors import domain_error_from_rpc
from kabinet.settings import CommonSettings, ServiceAddresses

# Deadline of one operator call (uploads set their own, longer one).
CALL_TIMEOUT = 30.0

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OperatorLink:
    """A channel to one service and the metadata that makes a call an operator's."""

    channel: grpc.aio.Channel
    metadata: Metadata


@contextlib.asynccontextmanager
async def operator_link(
    database: str,
    address: Callable[[ServiceAddresses], str],
    services: Sequence[ServiceDescriptor] = (),
    timeout: float = CALL_TIMEOUT,
) -> AsyncIterator[OperatorLink]:
    """A channel to the service at ``address(KABINET_*_ADDR)`` whose calls all have a deadline
    (idempotent methods of ``services`` are retried), with an operator token."""
    common = load_settings(CommonSettings)
    metadata = await operator_metadata(database, issuer=common.issuer, audience=common.api_audience)
    channel = create_channel(address(common.addresses), services=services, default_timeout=timeout)
    try:
        yield OperatorLink(channel, metadata)
    finally:
        await channel.close()


def run_group(
    run: Callable[[argparse.Namespace, str], Coroutine[Any, Any, list[str]]],
    args: argparse.Namespace,
    database: Callable[[], str],
) -> int:
    """Run one command; print its lines, or the error (exit 1; 2 for a configuration error)."""
    try:
        print("\n".join(asyncio.run(run(args, database()))))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except grpc.aio.AioRpcError as exc:
        print(f"error: {exc.code().name}: {describe_rpc_error(exc)}", file=sys.stderr)
        return 1
    except (OSError, ValueError, json_format.Error, asyncpg.PostgresError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def describe_rpc_error(exc: grpc.aio.AioRpcError) -> str:
    """The service's refusal in English, with its stable code and what it names."""
    err = domain_error_from_rpc(exc)
    lines = [f"{translate(err.code, 'en', err.params)} ({err.code})"]
    lines += [
        f"  {v.field or '-'}: {translate(v.code, 'en', v.params)} ({v.code})"
        for v in err.violations
    ]
    return "\n".join(lines)
