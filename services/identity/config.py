"""Settings of the identity service: one typed struct, every knob named by its variable."""

from __future__ import annotations

from dataclasses import dataclass

from identity.domain.password_policy import DEFAULT_MIN_STRENGTH
from identity.oidc_config import OidcSettings
from identity.social.config import SocialSettings
from kabinet.config import setting
from kabinet.settings import CommonSettings


@dataclass(frozen=True)
class TokenSettings:
    """Access tokens, refresh tokens, sessions and signing keys."""

    access_ttl: int = setting(
        "KABINET_IDENTITY_ACCESS_TTL", 600, "lifetime of an access token, seconds (at most 3600)"
    )
    session_ttl: int = setting(
        "KABINET_IDENTITY_SESSION_TTL",
        30 * 24 * 3600,
        "absolute lifetime of a session and its refresh tokens, seconds",
    )
    key_rotate_every: int = setting(
        "KABINET_IDENTITY_KEY_ROTATE_EVERY",
        30 * 24 * 3600,
        "a new signing key takes over after this many seconds of signing (0: never by itself)",
    )
    key_publish_ahead: int = setting(
        "KABINET_IDENTITY_KEY_PUBLISH_AHEAD",
        3600,
        "a new key is in the JWKS this many seconds before it signs (longer than any JWKS cache)",
    )
    key_reload_interval: float = setting(
        "KABINET_IDENTITY_KEY_RELOAD_INTERVAL",
        60.0,
        "how often each replica re-reads the signing keys and does its housekeeping, seconds",
    )
    max_session_checks: int = setting(
        "KABINET_IDENTITY_MAX_SESSION_CHECKS", 1000, "most session ids one CheckSessions may ask"
    )


@dataclass(frozen=True)
class PasswordSettings:
    """Hashing (argon2id, OWASP parameters by default) and the strength rule."""

    argon2_time_cost: int = setting(
        "KABINET_IDENTITY_ARGON2_TIME_COST", 2, "argon2id iterations (t)"
    )
    argon2_memory_kib: int = setting(
        "KABINET_IDENTITY_ARGON2_MEMORY_KIB", 19456, "argon2id memory in KiB (m); 19 MiB by OWASP"
    )
    argon2_parallelism: int = setting(
        "KABINET_IDENTITY_ARGON2_PARALLELISM", 1, "argon2id lanes (p)"
    )
    hash_workers: int = setting(
        "KABINET_IDENTITY_HASH_WORKERS",
        0,
        "threads that hash passwords off the event loop (0: one per CPU)",
    )
    min_strength: int = setting(
        "KABINET_IDENTITY_PASSWORD_MIN_STRENGTH",
        DEFAULT_MIN_STRENGTH,
        "lowest zxcvbn score (0-4) a new password must reach",
    )


@dataclass(frozen=True)
class LinkSettings:
    """Emailed single-use links: how long they last and how often they may be asked for."""

    activation_ttl: int = setting(
        "KABINET_IDENTITY_ACTIVATION_TTL", 48 * 3600, "activation link lifetime, seconds"
    )
    create_password_ttl: int = setting(
        "KABINET_IDENTITY_CREATE_PASSWORD_TTL",
        7 * 24 * 3600,
        "lifetime of the 'create your password' link sent after a purchase, seconds",
    )
    reset_ttl: int = setting(
        "KABINET_IDENTITY_RESET_TTL", 3600, "password reset link lifetime, seconds"
    )
    email_change_ttl: int = setting(
        "KABINET_IDENTITY_EMAIL_CHANGE_TTL", 24 * 3600, "email change link lifetime, seconds"
    )
    per_account_limit: int = setting(
        "KABINET_IDENTITY_LINK_LIMIT",
        3,
        "most links of one kind (and notices) mailed to one account per window",
    )
    per_account_window: int = setting(
        "KABINET_IDENTITY_LINK_WINDOW", 3600, "the window of KABINET_IDENTITY_LINK_LIMIT, seconds"
    )
    anonymous_min_duration: float = setting(
        "KABINET_IDENTITY_ANONYMOUS_MIN_DURATION",
        0.25,
        "calls that must not tell whether an email exists take at least this long, seconds",
    )


@dataclass(frozen=True)
class ThrottleSettings:
    """Sign-in throttling, shared by every replica through PostgreSQL."""

    account_max_failures: int = setting(
        "KABINET_IDENTITY_ACCOUNT_MAX_FAILURES",
        10,
        "failed sign-ins to one account, within the window, that lock it",
    )
    account_window: int = setting(
        "KABINET_IDENTITY_ACCOUNT_WINDOW", 900, "window for counting an account's failures, seconds"
    )
    account_lock: int = setting(
        "KABINET_IDENTITY_ACCOUNT_LOCK", 900, "how long a locked account stays locked, seconds"
    )
    ip_free_failures: int = setting(
        "KABINET_IDENTITY_IP_FREE_FAILURES",
        20,
        "failed sign-ins from one client address, within the window, before it must wait",
    )
    ip_window: int = setting(
        "KABINET_IDENTITY_IP_WINDOW", 3600, "window for counting an address's failures, seconds"
    )
    ip_base_delay: float = setting(
        "KABINET_IDENTITY_IP_BASE_DELAY",
        1.0,
        "first wait imposed on an address past its free failures, seconds; doubles each failure",
    )
    ip_max_delay: float = setting(
        "KABINET_IDENTITY_IP_MAX_DELAY", 900.0, "longest wait imposed on an address, seconds"
    )
    failure_min_duration: float = setting(
        "KABINET_IDENTITY_SIGNIN_FAILURE_MIN_DURATION",
        0.1,
        "a refused sign-in answers no sooner than this, seconds (longer than one verification)",
    )


@dataclass(frozen=True)
class IdentitySettings:
    """Everything ``python -m identity`` reads from the environment."""

    common: CommonSettings
    tokens: TokenSettings = TokenSettings()
    passwords: PasswordSettings = PasswordSettings()
    links: LinkSettings = LinkSettings()
    throttle: ThrottleSettings = ThrottleSettings()
    social: SocialSettings = SocialSettings()  # noqa: RUF009 (frozen, like the others)
    oidc: OidcSettings = OidcSettings()  # noqa: RUF009 (frozen, like the others)

    @property
    def issuer(self) -> str:
        """The tokens' ``iss``: the public origin, as for every verifier of the cluster."""
        return self.common.issuer
