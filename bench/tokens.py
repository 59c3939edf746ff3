"""Access-token costs on one core: issuing, verifying, and refusing.

Each measure runs one operation at a time in this process (pinned to one CPU where the platform
allows it) and reports operations per second with the p50/p99 latency of a single operation.
Beside our verification it measures a bare ES256 signature check with ``cryptography``, so the
overhead of the header, key and claim checks is visible in the same run.

Run with ``python -m bench.tokens``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.util import urlsafe_b64decode

from bench.common import Row, measure, one_core, print_table
from kabinet.auth.keys import KeyRing, PublicKeySet, generate_signing_key
from kabinet.auth.tokens import InvalidToken, issue_access_token, verify_access_token

ISSUER = "https://id.kabinet.example"
AUDIENCE = "kabinet"
OPERATIONS = 5_000
WARMUP = 300


def _refused(operation: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            operation()
        except InvalidToken:
            return
        raise AssertionError("a token that must be refused was accepted")

    return run


def run() -> list[Row]:
    """Measure issue and verify rates for access tokens; one row per measure."""
    now = datetime.now(UTC)
    ring = KeyRing([generate_signing_key(now)])
    jwks = PublicKeySet.from_jwks(ring.public_jwks(now))
    token = issue_access_token(
        ring,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="3f0c6a52-7a8e-4a43-9d0e-3c1f0a9b6c21",
        session_id="9d7b1f0e-55c2-4d0c-8f3b-0e5c1d2a7b64",
        scope=("profile", "downloads"),
        now=now,
    )
    forged = generate_signing_key(now)
    forged_token = issue_access_token(
        KeyRing([forged]), issuer=ISSUER, audience=AUDIENCE, subject="x", session_id="y", now=now
    )
    # The same header, payload and kid as ours, signed by a stranger's key: full cost of a forgery.
    forged_token = ".".join([*token.split(".")[:2], forged_token.split(".")[2]])

    raw = ring.current(now).public.key.public_key
    signing_input, signature = token.rsplit(".", 1)
    rs = urlsafe_b64decode(signature.encode())
    der = encode_dss_signature(int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big"))

    def bare_verify() -> None:
        raw.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))

    def verify_with(keys: Any, value: str) -> Callable[[], object]:
        return lambda: verify_access_token(keys, value, issuer=ISSUER, audience=AUDIENCE, now=now)

    timed = functools.partial(measure, count=OPERATIONS, warmup=WARMUP)
    with one_core():
        return [
            timed(
                "access token issue (ES256)",
                lambda: issue_access_token(
                    ring,
                    issuer=ISSUER,
                    audience=AUDIENCE,
                    subject="3f0c6a52-7a8e-4a43-9d0e-3c1f0a9b6c21",
                    session_id="9d7b1f0e-55c2-4d0c-8f3b-0e5c1d2a7b64",
                    now=now,
                ),
            ),
            timed("access token verify, KeyRing", verify_with(ring, token)),
            timed("access token verify, cached JWKS", verify_with(jwks, token)),
            timed("bare ES256 verify (cryptography)", bare_verify),
            timed("forged signature refused", _refused(verify_with(ring, forged_token))),
            timed("1 MB token refused", _refused(verify_with(ring, "A" * 1_000_000))),
        ]


if __name__ == "__main__":
    print_table("Access tokens (ES256)", run())
