"""Signed download links: HMAC-SHA256 over the artifact, the account and the expiry.

A link is ``v1.<artifact>.<account>.<expires>.<signature>`` (ids as 32 hex digits, expiry in Unix
seconds, signature base64url). Nothing is stored: the signature proves distribution made the link
for that account and artifact until that moment. The signature is compared in constant time and
checked before anything else, so a forged link learns nothing about expiry or owner; the link
itself never goes into a log, an event or a table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

VERSION = "v1"
MAX_LENGTH = 256


class LinkProblem(StrEnum):
    INVALID = "invalid"  # malformed or tampered
    EXPIRED = "expired"
    OTHER_ACCOUNT = "other_account"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class LinkClaims:
    artifact_id: uuid.UUID
    account_id: uuid.UUID
    expires_at: datetime


def _mac(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign(secret: bytes, claims: LinkClaims) -> str:
    """The link text for ``claims``."""
    body = ".".join(
        (
            VERSION,
            claims.artifact_id.hex,
            claims.account_id.hex,
            str(int(claims.expires_at.timestamp())),
        )
    )
    return f"{body}.{_b64(_mac(secret, body))}"


def verify(secret: bytes, link: str, account_id: uuid.UUID, now: datetime) -> LinkClaims:
    """The claims of a link made for ``account_id`` and still valid at ``now``; else
    ``LinkRefused`` saying why (invalid before expired before other account)."""
    if len(link) > MAX_LENGTH or not link.isascii():
        raise LinkRefused(LinkProblem.INVALID)
    body, _, signature = link.rpartition(".")
    try:
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except ValueError:
        raise LinkRefused(LinkProblem.INVALID) from None
    if not hmac.compare_digest(_mac(secret, body), given):
        raise LinkRefused(LinkProblem.INVALID)
    parts = body.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise LinkRefused(LinkProblem.INVALID)
    try:
        claims = LinkClaims(
            artifact_id=uuid.UUID(hex=parts[1]),
            account_id=uuid.UUID(hex=parts[2]),
            expires_at=datetime.fromtimestamp(int(parts[3]), UTC),
        )
    except (ValueError, OverflowError, OSError):
        raise LinkRefused(LinkProblem.INVALID) from None
    if claims.expires_at <= now:
        raise LinkRefused(LinkProblem.EXPIRED)
    if not hmac.compare_digest(claims.account_id.bytes, account_id.bytes):
        raise LinkRefused(LinkProblem.OTHER_ACCOUNT)
    return claims
