"""Settings of the distribution service: one typed struct, every knob named by its variable."""

from __future__ import annotations

from dataclasses import dataclass

from kabinet.config import setting
from kabinet.objectstore.config import ObjectStoreSettings
from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class DistributionSettings:
    """Everything ``python -m distribution`` reads from the environment."""

    common: CommonSettings
    objects: ObjectStoreSettings = ObjectStoreSettings()  # noqa: RUF009 - frozen settings
    link_secret: str = setting(
        "KABINET_DISTRIBUTION_LINK_SECRET",
        "",
        "HMAC-SHA256 key of download links, at least 32 characters, the same on every replica"
        " (empty: a random key per process, for development)",
    )
    link_ttl: int = setting(
        "KABINET_DISTRIBUTION_LINK_TTL", 600, "how long a download link works, seconds"
    )
    entitlements_ttl: float = setting(
        "KABINET_DISTRIBUTION_ENTITLEMENTS_TTL",
        30.0,
        "how long an account's entitlements from subscription are reused, seconds",
    )
    max_artifact_bytes: int = setting(
        "KABINET_DISTRIBUTION_MAX_ARTIFACT_BYTES",
        4 * 1024**3,
        "largest installer an operator may upload, bytes",
    )
    send_limit: int = setting(
        "KABINET_DISTRIBUTION_SEND_LIMIT",
        5,
        "send-to-device mails one account may send per window",
    )
    send_window: int = setting(
        "KABINET_DISTRIBUTION_SEND_WINDOW", 3600, "window of the send-to-device limit, seconds"
    )
    seed: str = setting(
        "KABINET_DISTRIBUTION_SEED",
        "",
        "catalog seed file loaded at start-up (empty: services/distribution/seed/catalog.json)",
    )
    placeholders: bool = setting(
        "KABINET_DISTRIBUTION_PLACEHOLDERS",
        False,
        "add generated placeholder installers for the seed's releases (development; `make run`"
        " turns it on)",
    )
