"""``make bench``: every benchmark in turn, each printing its table.

``python -m bench NAME ...`` runs only the named ones.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys

from bench.common import every_cpu, pinned, print_table

BENCHMARKS = {
    "events": "Event path: outbox commit → consumer handler",
    "passwords": "Password policy and argon2id",
    "tokens": "Access tokens (ES256)",
    "signin": "Sign-in and ValidateToken",
    "gateway": "Token-checked gateway requests",
    "entitlements": "CheckEntitlement over gRPC",
    "grants": "OAuth grants through the token endpoint (refresh_token, client_credentials)",
    "downloads": "Downloads through the gateway vs disk; signed links",
}


def main(names: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmarks: {unknown}; known: {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names or list(BENCHMARKS):
        module = importlib.import_module(f"bench.{name}")
        with pinned(every_cpu()):  # a benchmark that pins this process must not shrink the next
            result = module.run()
            rows = asyncio.run(result) if inspect.iscoroutine(result) else result
        print_table(BENCHMARKS[name], rows)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
