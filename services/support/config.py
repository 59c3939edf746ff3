"""Settings of the support service."""

from __future__ import annotations

from dataclasses import dataclass

from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class SupportSettings:
    common: CommonSettings
