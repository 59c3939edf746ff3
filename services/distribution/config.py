"""Settings of the distribution service."""

from __future__ import annotations

from dataclasses import dataclass

from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class DistributionSettings:
    common: CommonSettings
