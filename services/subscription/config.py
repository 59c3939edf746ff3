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
class PaymentSettings:
    """The payment provider (the sandbox PSP in development and tests)."""

    sandbox_url: str = setting(
        "KABINET_PAYMENTS_SANDBOX_URL",
        "",
        "base URL of the sandbox payment provider's API (make run and the tests start one)",
    )
    sandbox_api_key: str = setting(
        "KABINET_PAYMENTS_SANDBOX_API_KEY",
        "sandbox-api-key",
        "the key the subscription service presents to the sandbox payment provider",
    )
    timeout: float = setting(
        "KABINET_PAYMENTS_TIMEOUT", 10.0, "seconds to wait for the payment provider's answer"
    )


@dataclass(frozen=True)
class ScheduleSettings:
    """The scheduler: expiry, reminders and automatic renewal (safe with several replicas)."""

    interval: float = setting(
        "KABINET_SUBSCRIPTION_SCHEDULE_INTERVAL",
        60.0,
        "seconds between scheduler passes (0: no scheduler in this process)",
    )
    grace_days: int = setting(
        "KABINET_SUBSCRIPTION_GRACE_DAYS",
        7,
        "days after its end a subscription still works before it expires",
    )
    renew_days: int = setting(
        "KABINET_SUBSCRIPTION_RENEW_DAYS",
        3,
        "days before its end an automatic renewal is attempted",
    )
    identity_timeout: float = setting(
        "KABINET_SUBSCRIPTION_IDENTITY_TIMEOUT",
        2.0,
        "seconds to wait for identity's GetAccount (the owner's address for reminder mail)",
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
    entitlement_cache: int = setting(
        "KABINET_SUBSCRIPTION_ENTITLEMENT_CACHE",
        50_000,
        "entitlement answers each replica keeps in memory, about 450 bytes each, kept exact by"
        " NOTIFY (0: ask the database every time)",
    )
    redeem: RedeemSettings = RedeemSettings()
    payments: PaymentSettings = PaymentSettings()
    schedule: ScheduleSettings = ScheduleSettings()
