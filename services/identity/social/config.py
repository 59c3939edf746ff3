"""Settings of social sign-in: each provider's credentials and endpoints, and the region table.

A provider is offered only when its credentials are set. Endpoints default to the providers' real
ones and are configurable so that tests and ``make run`` can point them at local stand-ins
(``kabinet.devstack.providers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kabinet.config import setting


@dataclass(frozen=True)
class GoogleSettings:
    """Google: OpenID Connect, code + PKCE + nonce, RS256 ID tokens."""

    client_id: str = setting("KABINET_IDENTITY_GOOGLE_CLIENT_ID", "", "Google OAuth client id")
    client_secret: str = setting(
        "KABINET_IDENTITY_GOOGLE_CLIENT_SECRET", "", "Google OAuth client secret"
    )
    discovery_url: str = setting(
        "KABINET_IDENTITY_GOOGLE_DISCOVERY_URL",
        "https://accounts.google.com/.well-known/openid-configuration",
        "Google's OpenID discovery document (its issuer must equal the configured one); "
        "empty: the three endpoints below",
    )
    authorize_url: str = setting(
        "KABINET_IDENTITY_GOOGLE_AUTHORIZE_URL",
        "",
        "Google authorization endpoint, when there is no discovery URL",
    )
    token_url: str = setting(
        "KABINET_IDENTITY_GOOGLE_TOKEN_URL",
        "",
        "Google token endpoint, when there is no discovery URL",
    )
    jwks_url: str = setting(
        "KABINET_IDENTITY_GOOGLE_JWKS_URL", "", "Google JWKS, when there is no discovery URL"
    )
    issuer: str = setting(
        "KABINET_IDENTITY_GOOGLE_ISSUER", "https://accounts.google.com", "Google ID tokens' iss"
    )


@dataclass(frozen=True)
class AppleSettings:
    """Apple: OpenID Connect with form_post and an ES256 client-secret JWT minted per request."""

    client_id: str = setting(
        "KABINET_IDENTITY_APPLE_CLIENT_ID", "", "Apple Services ID (the client id)"
    )
    team_id: str = setting("KABINET_IDENTITY_APPLE_TEAM_ID", "", "Apple developer team id")
    key_id: str = setting("KABINET_IDENTITY_APPLE_KEY_ID", "", "id of the Sign in with Apple key")
    private_key_file: Path | None = setting(
        "KABINET_IDENTITY_APPLE_PRIVATE_KEY_FILE",
        None,
        "the Sign in with Apple .p8 key (PEM, EC P-256) that signs the client secret",
    )
    issuer: str = setting(
        "KABINET_IDENTITY_APPLE_ISSUER",
        "https://appleid.apple.com",
        "Apple ID tokens' iss, and the client secret's aud",
    )
    authorize_url: str = setting(
        "KABINET_IDENTITY_APPLE_AUTHORIZE_URL",
        "https://appleid.apple.com/auth/authorize",
        "Apple authorization endpoint",
    )
    token_url: str = setting(
        "KABINET_IDENTITY_APPLE_TOKEN_URL",
        "https://appleid.apple.com/auth/token",
        "Apple token endpoint",
    )
    jwks_url: str = setting(
        "KABINET_IDENTITY_APPLE_JWKS_URL", "https://appleid.apple.com/auth/keys", "Apple JWKS"
    )


@dataclass(frozen=True)
class FacebookSettings:
    """Facebook: OAuth 2.0 and the Graph API (no OpenID Connect)."""

    client_id: str = setting("KABINET_IDENTITY_FACEBOOK_CLIENT_ID", "", "Facebook app id")
    client_secret: str = setting(
        "KABINET_IDENTITY_FACEBOOK_CLIENT_SECRET", "", "Facebook app secret"
    )
    authorize_url: str = setting(
        "KABINET_IDENTITY_FACEBOOK_AUTHORIZE_URL",
        "https://www.facebook.com/v21.0/dialog/oauth",
        "Facebook login dialog",
    )
    token_url: str = setting(
        "KABINET_IDENTITY_FACEBOOK_TOKEN_URL",
        "https://graph.facebook.com/v21.0/oauth/access_token",
        "Facebook token endpoint",
    )
    profile_url: str = setting(
        "KABINET_IDENTITY_FACEBOOK_PROFILE_URL",
        "https://graph.facebook.com/v21.0/me",
        "Graph API /me (asked for id,name,email)",
    )
    debug_token_url: str = setting(
        "KABINET_IDENTITY_FACEBOOK_DEBUG_TOKEN_URL",
        "https://graph.facebook.com/debug_token",
        "Graph API /debug_token: checks that a token is valid and was issued to this app",
    )
    trust_email: bool = setting(
        "KABINET_IDENTITY_FACEBOOK_TRUST_EMAIL",
        True,
        "treat the email Graph returns as verified (see docs/design-notes.md)",
    )


@dataclass(frozen=True)
class YandexSettings:
    """Yandex ID: OAuth 2.0 (with PKCE) and login.yandex.ru/info."""

    client_id: str = setting("KABINET_IDENTITY_YANDEX_CLIENT_ID", "", "Yandex ID client id")
    client_secret: str = setting(
        "KABINET_IDENTITY_YANDEX_CLIENT_SECRET", "", "Yandex ID client secret"
    )
    authorize_url: str = setting(
        "KABINET_IDENTITY_YANDEX_AUTHORIZE_URL",
        "https://oauth.yandex.ru/authorize",
        "Yandex authorization endpoint",
    )
    token_url: str = setting(
        "KABINET_IDENTITY_YANDEX_TOKEN_URL",
        "https://oauth.yandex.ru/token",
        "Yandex token endpoint",
    )
    profile_url: str = setting(
        "KABINET_IDENTITY_YANDEX_PROFILE_URL",
        "https://login.yandex.ru/info",
        "Yandex profile (called with Authorization: OAuth)",
    )
    trust_email: bool = setting(
        "KABINET_IDENTITY_YANDEX_TRUST_EMAIL",
        True,
        "treat Yandex's default_email as verified (see docs/design-notes.md)",
    )


@dataclass(frozen=True)
class VkSettings:
    """VK ID: OAuth 2.1 with mandatory PKCE and the device_id of the redirect."""

    client_id: str = setting("KABINET_IDENTITY_VK_CLIENT_ID", "", "VK ID app id")
    authorize_url: str = setting(
        "KABINET_IDENTITY_VK_AUTHORIZE_URL", "https://id.vk.com/authorize", "VK ID authorization"
    )
    token_url: str = setting(
        "KABINET_IDENTITY_VK_TOKEN_URL", "https://id.vk.com/oauth2/auth", "VK ID token endpoint"
    )
    profile_url: str = setting(
        "KABINET_IDENTITY_VK_PROFILE_URL",
        "https://id.vk.com/oauth2/user_info",
        "VK ID user_info endpoint",
    )
    trust_email: bool = setting(
        "KABINET_IDENTITY_VK_TRUST_EMAIL",
        True,
        "treat the email VK ID returns as verified (see docs/design-notes.md)",
    )


@dataclass(frozen=True)
class SocialSettings:
    """Flows, the region table, and every provider."""

    flow_ttl: int = setting(
        "KABINET_IDENTITY_SOCIAL_FLOW_TTL", 600, "how long a started social flow may be completed"
    )
    http_timeout: float = setting(
        "KABINET_IDENTITY_SOCIAL_HTTP_TIMEOUT",
        5.0,
        "deadline of each call to a provider's token, JWKS and profile endpoints, seconds",
    )
    regions: tuple[str, ...] = setting(
        "KABINET_IDENTITY_SOCIAL_REGIONS",
        ("RU=google|apple|yandex|vk", "*=google|apple|facebook|yandex|vk"),
        "which providers each region is offered: REGION=p1|p2 entries, * for every other region",
    )
    default_region: str = setting(
        "KABINET_IDENTITY_SOCIAL_DEFAULT_REGION",
        "",
        "region assumed when neither the edge nor the account tells one (empty: the * row)",
    )
    google: GoogleSettings = GoogleSettings()
    apple: AppleSettings = AppleSettings()
    facebook: FacebookSettings = FacebookSettings()
    yandex: YandexSettings = YandexSettings()
    vk: VkSettings = VkSettings()
