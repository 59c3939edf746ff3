"""Signed webhooks: HMAC-SHA256 over ``timestamp + "." + body`` with a shared secret.

The sender puts ``t=<unix seconds>,v1=<hex digest>`` in the ``Kabinet-Signature`` header; the
receiver recomputes the digest, compares in constant time (``hmac.compare_digest``) and refuses a
timestamp older (or newer) than its tolerance, so a captured delivery cannot be sent again later.
Replays inside the tolerance are refused by the receiver's record of event ids.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Kabinet-Signature"
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong, or its timestamp is out of tolerance."""


def digest(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE
) -> int:
    """The signed timestamp when ``header`` signs ``body``; else ``SignatureError``."""
    if not secret:
        raise SignatureError("no webhook secret is configured")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("no timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp out of tolerance")
    expected = digest(secret, timestamp, body)
    # Every offered v1 is compared (a sender rotating secrets may send two).
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise SignatureError("signature mismatch")
    return timestamp
