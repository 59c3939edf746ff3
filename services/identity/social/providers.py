"""The five providers, each speaking its own protocol (see /work/shared/design/PROVIDERS.md).

- Google: OpenID Connect from its discovery document; code + PKCE + nonce; RS256 ID token.
- Apple: OpenID Connect with ``response_mode=form_post``; the client secret is an ES256 JWT
  minted for each token request (5 minutes); the name comes only on the first authorization, in
  the ``user`` form field.
- Facebook: OAuth 2.0, then Graph ``/me?fields=id,name,email`` with ``appsecret_proof``.
- Yandex ID: OAuth 2.0 with PKCE, then ``login.yandex.ru/info`` with ``Authorization: OAuth``.
- VK ID: OAuth 2.1 with mandatory PKCE; the redirect's ``device_id`` goes to ``/oauth2/auth``;
  the profile comes from ``/oauth2/user_info``.

Which emails count as vouched is decided here, per provider (docs/design-notes.md says why).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import ECKey

from identity.domain.federation import (
    PROVIDER_FAILED,
    AuthorizationRequest,
    Callback,
    ExternalProfile,
    Provider,
    ProviderError,
)
from identity.social.config import (
    AppleSettings,
    FacebookSettings,
    GoogleSettings,
    SocialSettings,
    VkSettings,
    YandexSettings,
)
from identity.social.oauth import Http, Jwks, access_token_of, truthy, verify_id_token

APPLE_SECRET_TTL = 300


def code_request(
    url: str, client_id: str, request: AuthorizationRequest, *, pkce: bool, **extra: str
) -> str:
    """An authorization-code request to ``url``: the common parameters, S256 PKCE when the
    provider takes it, and the provider's own ``extra`` ones."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": request.redirect_uri,
        "state": request.state,
    }
    if pkce:
        params |= {"code_challenge": request.code_challenge, "code_challenge_method": "S256"}
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params | extra)}"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, str | int):
        return str(value)
    return ""


class Google:
    """Google Sign-In over OpenID Connect."""

    name = "google"

    def __init__(self, settings: GoogleSettings, http: Http) -> None:
        self._s = settings
        self._http = http
        self._metadata: dict[str, Any] | None = None
        self._jwks: Jwks | None = None
        self._lock = asyncio.Lock()

    async def _discover(self) -> tuple[dict[str, Any], Jwks]:
        """The endpoints: from the discovery document (read once), or as configured."""
        async with self._lock:
            if self._metadata is None or self._jwks is None:
                if self._s.discovery_url:
                    metadata = await self._http.get_json(self._s.discovery_url, "discovery")
                    if metadata.get("issuer") != self._s.issuer:
                        raise ProviderError(PROVIDER_FAILED, "discovery: unexpected issuer")
                else:
                    metadata = {
                        "authorization_endpoint": self._s.authorize_url,
                        "token_endpoint": self._s.token_url,
                        "jwks_uri": self._s.jwks_url,
                    }
                for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(metadata.get(key), str) or not metadata[key]:
                        raise ProviderError(PROVIDER_FAILED, f"discovery: no {key}")
                self._metadata = metadata
                self._jwks = Jwks(self._http, metadata["jwks_uri"])
            return self._metadata, self._jwks

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        metadata, _ = await self._discover()
        return code_request(
            metadata["authorization_endpoint"],
            self._s.client_id,
            request,
            pkce=True,
            scope="openid email profile",
            nonce=request.nonce,
        )

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        metadata, jwks = await self._discover()
        tokens = await self._http.post_form(
            metadata["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": callback.code,
                "redirect_uri": request.redirect_uri,
                "client_id": self._s.client_id,
                "client_secret": self._s.client_secret,
                "code_verifier": request.code_verifier,
            },
            "token",
        )
        claims = await verify_id_token(
            tokens.get("id_token"),
            jwks,
            issuer=self._s.issuer,
            audience=self._s.client_id,
            nonce=request.nonce,
        )
        return ExternalProfile(
            subject=claims["sub"],
            email=_text(claims.get("email")),
            email_verified=truthy(claims.get("email_verified")),
            name=_text(claims.get("name")),
        )


class Apple:
    """Sign in with Apple: OIDC with form_post and a minted ES256 client secret."""

    name = "apple"

    def __init__(self, settings: AppleSettings, http: Http) -> None:
        if settings.private_key_file is None:
            raise ValueError("KABINET_IDENTITY_APPLE_PRIVATE_KEY_FILE is required for Apple")
        self._s = settings
        self._http = http
        self._key = ECKey.import_key(settings.private_key_file.read_bytes())
        self._jwks = Jwks(http, settings.jwks_url)

    def client_secret(self, now: float | None = None) -> str:
        """A fresh ES256 JWT: iss = team id, sub = services id, aud = Apple, 5 minutes."""
        issued = int(time.time() if now is None else now)
        return jwt.encode(
            {"alg": "ES256", "kid": self._s.key_id},
            {
                "iss": self._s.team_id,
                "iat": issued,
                "exp": issued + APPLE_SECRET_TTL,
                "aud": self._s.issuer,
                "sub": self._s.client_id,
            },
            self._key,
            algorithms=["ES256"],
        )

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        return code_request(
            self._s.authorize_url,
            self._s.client_id,
            request,
            pkce=False,
            response_mode="form_post",
            scope="name email",
            nonce=request.nonce,
        )

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        tokens = await self._http.post_form(
            self._s.token_url,
            {
                "grant_type": "authorization_code",
                "code": callback.code,
                "redirect_uri": request.redirect_uri,
                "client_id": self._s.client_id,
                "client_secret": self.client_secret(),
            },
            "token",
        )
        claims = await verify_id_token(
            tokens.get("id_token"),
            self._jwks,
            issuer=self._s.issuer,
            audience=self._s.client_id,
            nonce=request.nonce,
        )
        return ExternalProfile(
            subject=claims["sub"],
            email=_text(claims.get("email")),
            # Relay addresses (is_private_email) are verified too; they never equal an
            # existing account's email, so they only ever create accounts of their own.
            email_verified=truthy(claims.get("email_verified")),
            name=apple_name(callback.user_json),
        )


def apple_name(user_json: str) -> str:
    """The name from Apple's ``user`` form field (sent on the first authorization only)."""
    if not user_json or len(user_json) > 4096:
        return ""
    try:
        user = json.loads(user_json)
    except ValueError:
        return ""
    name = user.get("name") if isinstance(user, dict) else None
    if not isinstance(name, dict):
        return ""
    parts = (_text(name.get("firstName")), _text(name.get("lastName")))
    return " ".join(p for p in parts if p)


class _OAuthProvider:
    """What Facebook, Yandex ID and VK ID share: no ID token, a profile call, and an email
    vouched for as the operator decided (``KABINET_IDENTITY_<P>_TRUST_EMAIL``)."""

    def __init__(self, http: Http, *, trust_email: bool) -> None:
        self._http = http
        self._trust_email = trust_email

    def _profile(self, subject: str, email: str, name: str) -> ExternalProfile:
        if not subject:
            raise ProviderError(PROVIDER_FAILED, "profile: no subject")
        return ExternalProfile(
            subject=subject,
            email=email,
            email_verified=bool(email) and self._trust_email,
            name=name,
        )


class Facebook(_OAuthProvider):
    """Facebook Login: OAuth 2.0 and the Graph API."""

    name = "facebook"

    def __init__(self, settings: FacebookSettings, http: Http) -> None:
        super().__init__(http, trust_email=settings.trust_email)
        self._s = settings

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        return code_request(
            self._s.authorize_url,
            self._s.client_id,
            request,
            pkce=False,
            scope="email,public_profile",
        )

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        tokens = await self._http.post_form(
            self._s.token_url,
            {
                "client_id": self._s.client_id,
                "client_secret": self._s.client_secret,
                "redirect_uri": request.redirect_uri,
                "code": callback.code,
            },
            "token",
        )
        access_token = access_token_of(tokens, "token")
        proof = hmac.new(
            self._s.client_secret.encode(), access_token.encode(), hashlib.sha256
        ).hexdigest()
        user_id = await self._debug_token(access_token)
        me = await self._http.get_json(
            self._s.profile_url,
            "profile",
            params={"fields": "id,name,email", "appsecret_proof": proof},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if _text(me.get("id")) != user_id:
            raise ProviderError(PROVIDER_FAILED, "profile: not the token's user")
        return self._profile(user_id, _text(me.get("email")), _text(me.get("name")))

    async def _debug_token(self, access_token: str) -> str:
        """Ask Facebook (with the app token) whether the token is valid and was issued to this
        app; the user it belongs to."""
        answer = await self._http.get_json(
            self._s.debug_token_url,
            "debug_token",
            params={"input_token": access_token},
            headers={"Authorization": f"Bearer {self._s.client_id}|{self._s.client_secret}"},
        )
        data = answer.get("data")
        if not isinstance(data, dict) or data.get("is_valid") is not True:
            raise ProviderError(PROVIDER_FAILED, "debug_token: not valid")
        if _text(data.get("app_id")) != self._s.client_id:
            raise ProviderError(PROVIDER_FAILED, "debug_token: issued to another app")
        user_id = _text(data.get("user_id"))
        if not user_id:
            raise ProviderError(PROVIDER_FAILED, "debug_token: no user")
        return user_id


class Yandex(_OAuthProvider):
    """Yandex ID: OAuth 2.0 (PKCE) and the login.yandex.ru profile."""

    name = "yandex"

    def __init__(self, settings: YandexSettings, http: Http) -> None:
        super().__init__(http, trust_email=settings.trust_email)
        self._s = settings

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        return code_request(self._s.authorize_url, self._s.client_id, request, pkce=True)

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        tokens = await self._http.post_form(
            self._s.token_url,
            {
                "grant_type": "authorization_code",
                "code": callback.code,
                "client_id": self._s.client_id,
                "client_secret": self._s.client_secret,
                "code_verifier": request.code_verifier,
            },
            "token",
        )
        access_token = access_token_of(tokens, "token")
        info = await self._http.get_json(
            self._s.profile_url,
            "profile",
            params={"format": "json"},
            headers={"Authorization": f"OAuth {access_token}"},
        )
        name = _text(info.get("real_name")) or _text(info.get("display_name"))
        return self._profile(_text(info.get("id")), _text(info.get("default_email")), name)


class Vk(_OAuthProvider):
    """VK ID: OAuth 2.1 with PKCE and device_id."""

    name = "vk"

    def __init__(self, settings: VkSettings, http: Http) -> None:
        super().__init__(http, trust_email=settings.trust_email)
        self._s = settings

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        return code_request(
            self._s.authorize_url,
            self._s.client_id,
            request,
            pkce=True,
            scope="vkid.personal_info email",
        )

    async def redeem(self, callback: Callback, request: AuthorizationRequest) -> ExternalProfile:
        if not callback.device_id:
            raise ProviderError(PROVIDER_FAILED, "redirect without device_id")
        tokens = await self._http.post_form(
            self._s.token_url,
            {
                "grant_type": "authorization_code",
                "code": callback.code,
                "code_verifier": request.code_verifier,
                "client_id": self._s.client_id,
                "device_id": callback.device_id,
                "redirect_uri": request.redirect_uri,
                "state": request.state,
            },
            "token",
        )
        if tokens.get("state") not in (None, request.state):
            raise ProviderError(PROVIDER_FAILED, "token: state does not match")
        access_token = access_token_of(tokens, "token")
        info = await self._http.post_form(
            self._s.profile_url,
            {"access_token": access_token, "client_id": self._s.client_id},
            "profile",
        )
        user = info.get("user")
        if not isinstance(user, dict):
            raise ProviderError(PROVIDER_FAILED, "profile: no user")
        parts = (_text(user.get("first_name")), _text(user.get("last_name")))
        name = " ".join(p for p in parts if p)
        return self._profile(_text(user.get("user_id")), _text(user.get("email")), name)


def configured_providers(settings: SocialSettings, http: Http) -> dict[str, Provider]:
    """Every provider whose credentials are set (the others are never offered)."""
    providers: dict[str, Provider] = {}
    if settings.google.client_id:
        providers["google"] = Google(settings.google, http)
    apple = settings.apple
    if apple.client_id:
        missing = [
            name
            for name, value in (
                ("KABINET_IDENTITY_APPLE_TEAM_ID", apple.team_id),
                ("KABINET_IDENTITY_APPLE_KEY_ID", apple.key_id),
                ("KABINET_IDENTITY_APPLE_PRIVATE_KEY_FILE", apple.private_key_file),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"Apple sign-in needs {', '.join(missing)} as well")
        providers["apple"] = Apple(apple, http)
    if settings.facebook.client_id:
        providers["facebook"] = Facebook(settings.facebook, http)
    if settings.yandex.client_id:
        providers["yandex"] = Yandex(settings.yandex, http)
    if settings.vk.client_id:
        providers["vk"] = Vk(settings.vk, http)
    return providers
