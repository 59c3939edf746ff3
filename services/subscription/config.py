"""Settings of the subscription service."""

from __future__ import annotations

from dataclasses import dataclass

from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class SubscriptionSettings:
    common: CommonSettings
