"""Small conversions between Python values and protobuf's well-known types."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def timestamp(moment: datetime) -> Timestamp:
    """``moment`` (timezone-aware) as a ``google.protobuf.Timestamp``."""
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
