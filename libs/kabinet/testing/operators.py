"""Operator credentials for tests of one service without identity beside it.

A service checks operator calls against identity's keys (``kabinet.rpc.callers``). A test that
runs subscription, distribution or support alone gives the service a key ring of its own here
instead, and signs its operator calls with it: the real caller check runs, against other keys.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc

from kabinet.auth.keys import KeyRing, VerificationKeys, generate_signing_key
from kabinet.auth.operator import admin_token
from kabinet.rpc.callers import policy_interceptor, service_policy


class TestOperator:
    """A key ring, the interceptor that trusts it, and the metadata of an operator call."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, *, issuer: str, audience: str) -> None:
        now = datetime.now(UTC) - timedelta(minutes=1)
        self.keys = KeyRing([generate_signing_key(now, active_from=now)])
        self.issuer = issuer
        self.audience = audience

    async def _key_source(self, fresh: bool) -> VerificationKeys:
        return self.keys

    def interceptor(self, package: str) -> grpc.aio.ServerInterceptor:
        """The caller check of ``package`` (e.g. ``subscription.api``), trusting this ring."""
        return policy_interceptor(
            service_policy(package), self._key_source, issuer=self.issuer, audience=self.audience
        )

    def metadata(self) -> tuple[tuple[str, str]]:
        """``authorization`` metadata of an operator tool's call."""
        token = admin_token(self.keys, issuer=self.issuer, audience=self.audience)
        return (("authorization", f"Bearer {token}"),)
