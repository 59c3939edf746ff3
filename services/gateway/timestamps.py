"""Protobuf timestamps as the API's ISO 8601 strings (UTC, ``Z``), in one place for every
controller."""

from __future__ import annotations

from typing import Any


def iso(ts: Any) -> str:
    """``2026-01-02T03:04:05Z``-style text; an unset timestamp (zero seconds) is ``""``."""
    return ts.ToDatetime().isoformat() + "Z" if getattr(ts, "seconds", 0) else ""
