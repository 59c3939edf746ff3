"""Settings of the subscription service: one typed struct, every knob named by its variable."""

from __future__ import annotations

from dataclasses import dataclass

from kabinet.config import setting
from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class RedeemSettings:
    """Activation codes: guessing throttle and the size of issued batches."""

    max_failures: int = setting(
        "KABINET_SUBSCRIPTION_REDEEM_MAX_FAILURES",
        10,
        "failed code redemptions by one account, within the window, before it must wait",
    )
    window: int = setting(
        "KABINET_SUBSCRIPTION_REDEEM_WINDOW",
        3600,
        "window for counting an account's failed redemptions, seconds",
    )
    max_issue: int = setting(
        "KABINET_SUBSCRIPTION_MAX_ISSUE", 1000, "most activation codes one IssueCodes call makes"
    )


@dataclass(frozen=True)
class SubscriptionSettings:
    """Everything ``python -m subscription`` reads from the environment."""

    common: CommonSettings
    seed: str = setting(
        "KABINET_SUBSCRIPTION_SEED",
        "",
        "plans catalog file loaded at start-up (empty: services/subscription/seed/plans.json)",
    )
    redeem: RedeemSettings = RedeemSettings()
