"""Settings of Kabinet as OpenID provider and of the device authorization grant."""

from __future__ import annotations

from dataclasses import dataclass

from kabinet.config import setting


@dataclass(frozen=True)
class OidcSettings:
    """The client registry's seed file, code lifetimes and device polling."""

    clients_seed: str = setting(
        "KABINET_IDENTITY_CLIENTS_SEED",
        "",
        "OAuth clients file loaded at start-up (empty: services/identity/seed/clients.json)",
    )
    code_ttl: int = setting(
        "KABINET_IDENTITY_CODE_TTL", 300, "lifetime of an authorization code, seconds (at most 600)"
    )
    device_code_ttl: int = setting(
        "KABINET_IDENTITY_DEVICE_CODE_TTL",
        600,
        "lifetime of a device code and its user code, seconds",
    )
    device_interval: int = setting(
        "KABINET_IDENTITY_DEVICE_INTERVAL", 5, "seconds a device waits between polls (RFC 8628)"
    )
    user_code_max_failures: int = setting(
        "KABINET_IDENTITY_USER_CODE_MAX_FAILURES",
        5,
        "wrong user codes one account may enter per window before it must wait",
    )
    user_code_window: int = setting(
        "KABINET_IDENTITY_USER_CODE_WINDOW", 900, "window of the wrong user code limit, seconds"
    )
