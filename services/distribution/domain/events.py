"""What distribution announces (mapped to ``kabinet.distribution.v1`` in ``events.outgoing``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from distribution.domain.model import DownloadRecord, Release


@dataclass(frozen=True)
class ReleasePublished:
    release: Release
    occurred_at: datetime


@dataclass(frozen=True)
class DownloadStarted:
    download: DownloadRecord
    occurred_at: datetime


Event = ReleasePublished | DownloadStarted
