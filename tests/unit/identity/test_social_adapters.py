"""The provider adapters against scripted HTTP answers (httpx.MockTransport): what each sends,
and the ID-token checks that must refuse (signature, alg, kid, iss, aud, exp, nonce)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from identity.domain.federation import AuthorizationRequest, Callback, ProviderError
from identity.social.config import (
    AppleSettings,
    FacebookSettings,
    GoogleSettings,
    SocialSettings,
    VkSettings,
    YandexSettings,
)
from identity.social.oauth import Http, Jwks, verify_id_token
from identity.social.providers import (
    Apple,
    Facebook,
    Google,
    Vk,
    Yandex,
    apple_name,
    configured_providers,
)

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
ISSUER = "https://accounts.example"
REQUEST = AuthorizationRequest(
    state="st", nonce="n-1", code_verifier="v" * 43, redirect_uri="https://k.example/cb"
)

Handler = Callable[[httpx.Request], httpx.Response]


def _http(handler: Handler) -> Http:
    return Http(httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def _jwks_answer(key: RSAKey = KEY) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def _id_token(key: Any = KEY, alg: str = "RS256", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "client-1",
        "sub": "123",
        "iat": now,
        "exp": now + 300,
        "nonce": "n-1",
        "email": "anna@example.com",
        "email_verified": True,
    } | overrides
    header = {"alg": alg, "kid": "k1"}
    return jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, key, [alg])


async def _verify(token: str, jwks: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = jwks or _jwks_answer()
    http = _http(lambda request: httpx.Response(200, json=answer))
    return await verify_id_token(
        token, Jwks(http, "https://jwks"), issuer=ISSUER, audience="client-1", nonce="n-1"
    )


class TestIdTokens:
    async def test_a_good_token_passes(self) -> None:
        claims = await _verify(_id_token())
        assert claims["sub"] == "123"

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"iss": "https://evil.example"}, "iss"),
            ({"aud": "someone-else"}, "aud"),
            ({"aud": ["someone-else", "client-1"]}, "azp"),
            ({"exp": int(time.time()) - 3600}, "exp"),
            ({"nonce": "other"}, "nonce"),
            ({"nonce": None}, "nonce"),
            ({"iat": int(time.time()) + 3600}, "iat"),
            ({"sub": ""}, "sub"),
        ],
    )
    async def test_wrong_claims_are_refused(self, overrides: dict[str, Any], reason: str) -> None:
        with pytest.raises(ProviderError) as caught:
            await _verify(_id_token(**overrides))
        assert caught.value.code == "social.id_token_invalid"
        assert reason in caught.value.reason

    async def test_a_token_signed_by_another_key_is_refused(self) -> None:
        with pytest.raises(ProviderError, match="signature"):
            await _verify(_id_token(OTHER_KEY))

    async def test_hs256_with_the_public_key_and_alg_none_are_refused(self) -> None:
        public = json.dumps(KEY.as_dict(private=False)).encode()
        forged = _id_token(OctKey.import_key(public), alg="HS256")
        with pytest.raises(ProviderError):
            await _verify(forged)
        header, claims, _ = _id_token().split(".")
        none = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
        with pytest.raises(ProviderError):
            await _verify(f"{none}.{claims}.")
        with pytest.raises(ProviderError):
            await _verify(f"{header}.{claims}.")  # signature stripped

    async def test_an_unknown_kid_fetches_the_keys_again_but_not_too_often(self) -> None:
        old = RSAKey.generate_key(2048, parameters={"kid": "old"})
        answers = [_jwks_answer(old), _jwks_answer()]
        fetched: list[int] = []

        def handler(request: httpx.Request) -> httpx.Response:
            fetched.append(1)
            return httpx.Response(200, json=answers[min(len(fetched), 2) - 1])

        jwks = Jwks(_http(handler), "https://jwks")
        await jwks.keys()  # the provider had not published the new key yet
        with pytest.raises(ProviderError, match="signature"):
            await verify_id_token(
                _id_token(), jwks, issuer=ISSUER, audience="client-1", nonce="n-1"
            )
        assert len(fetched) == 1  # a refetch right after a fetch is skipped
        jwks._fetched -= 120  # a while later
        claims = await verify_id_token(
            _id_token(), jwks, issuer=ISSUER, audience="client-1", nonce="n-1"
        )
        assert claims["sub"] == "123"
        assert len(fetched) == 2


class TestGoogle:
    def _google(self, requests: list[httpx.Request], discovery_issuer: str = ISSUER) -> Google:
        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            if request.url.path == "/.well-known/openid-configuration":
                return httpx.Response(
                    200,
                    json={
                        "issuer": discovery_issuer,
                        "authorization_endpoint": "https://accounts.example/auth",
                        "token_endpoint": "https://accounts.example/token",
                        "jwks_uri": "https://accounts.example/jwks",
                    },
                )
            if request.url.path == "/jwks":
                return httpx.Response(200, json=_jwks_answer())
            return httpx.Response(200, json={"access_token": "at", "id_token": _id_token()})

        settings = GoogleSettings(
            client_id="client-1",
            client_secret="secret-1",
            discovery_url="https://accounts.example/.well-known/openid-configuration",
            issuer=ISSUER,
        )
        return Google(settings, _http(handler))

    async def test_code_flow_with_pkce_and_nonce(self) -> None:
        requests: list[httpx.Request] = []
        google = self._google(requests)
        url = urlsplit(await google.authorization_url(REQUEST))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert query["code_challenge_method"] == "S256"
        assert query["code_challenge"] == REQUEST.code_challenge
        assert query["nonce"] == "n-1"
        assert query["scope"] == "openid email profile"
        assert query["redirect_uri"] == REQUEST.redirect_uri
        profile = await google.redeem(Callback(code="c-1"), REQUEST)
        assert (profile.subject, profile.email, profile.email_verified) == (
            "123",
            "anna@example.com",
            True,
        )
        token_call = next(r for r in requests if r.url.path == "/token")
        form = parse_qs(token_call.content.decode())
        assert form["code_verifier"] == ["v" * 43]
        assert form["grant_type"] == ["authorization_code"]

    async def test_configured_endpoints_stand_in_for_discovery(self) -> None:
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            if request.url.path == "/keys":
                return httpx.Response(200, json=_jwks_answer())
            return httpx.Response(200, json={"id_token": _id_token()})

        settings = GoogleSettings(
            client_id="client-1",
            discovery_url="",
            authorize_url="https://g.example/auth",
            token_url="https://g.example/token",
            jwks_url="https://g.example/keys",
            issuer=ISSUER,
        )
        google = Google(settings, _http(handler))
        assert (await google.authorization_url(REQUEST)).startswith("https://g.example/auth?")
        assert (await google.redeem(Callback(code="c"), REQUEST)).subject == "123"
        assert seen == ["/token", "/keys"]
        unset = Google(GoogleSettings(client_id="c", discovery_url=""), _http(handler))
        with pytest.raises(ProviderError):
            await unset.authorization_url(REQUEST)

    async def test_a_discovery_document_of_another_issuer_is_refused(self) -> None:
        google = self._google([], discovery_issuer="https://evil.example")
        with pytest.raises(ProviderError) as caught:
            await google.authorization_url(REQUEST)
        assert caught.value.code == "social.provider_failed"


class TestApple:
    def _apple(self, tmp_path: Path, handler: Handler) -> tuple[Apple, ECKey]:
        key = ECKey.generate_key("P-256")
        path = tmp_path / "key.p8"
        path.write_bytes(key.as_pem(private=True))
        settings = AppleSettings(
            client_id="client-1",
            team_id="TEAM",
            key_id="KEY1",
            private_key_file=path,
            issuer=ISSUER,
            authorize_url="https://apple.example/auth/authorize",
            token_url="https://apple.example/auth/token",
            jwks_url="https://apple.example/auth/keys",
        )
        return Apple(settings, _http(handler)), key

    def test_the_client_secret_is_a_short_es256_jwt(self, tmp_path: Path) -> None:
        apple, key = self._apple(tmp_path, lambda r: httpx.Response(500))
        secret = jwt.decode(apple.client_secret(now=1000), key, algorithms=["ES256"])
        assert secret.header == {"alg": "ES256", "kid": "KEY1", "typ": "JWT"}
        assert secret.claims == {
            "iss": "TEAM",
            "sub": "client-1",
            "aud": ISSUER,
            "iat": 1000,
            "exp": 1300,
        }

    async def test_form_post_and_the_name_of_the_first_authorization(self, tmp_path: Path) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/auth/keys":
                return httpx.Response(200, json=_jwks_answer())
            return httpx.Response(
                200, json={"id_token": _id_token(email_verified="true", is_private_email="true")}
            )

        apple, _ = self._apple(tmp_path, handler)
        query = parse_qs(urlsplit(await apple.authorization_url(REQUEST)).query)
        assert query["response_mode"] == ["form_post"]
        assert query["scope"] == ["name email"]
        user = json.dumps({"name": {"firstName": "Anna", "lastName": "Petrova"}})
        profile = await apple.redeem(Callback(code="c", user_json=user), REQUEST)
        assert profile.email_verified
        assert profile.name == "Anna Petrova"

    def test_the_user_field_is_read_defensively(self) -> None:
        assert apple_name("") == ""
        assert apple_name("not json") == ""
        assert apple_name('{"name": "Anna"}') == ""
        assert apple_name('{"name": {"firstName": "Anna"}}') == "Anna"


class TestOAuthProviders:
    def _facebook(self, debug: dict[str, Any], seen: list[httpx.Request]) -> Facebook:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if request.url.path.endswith("/access_token"):
                return httpx.Response(200, json={"access_token": "fb-token"})
            if request.url.path == "/debug_token":
                return httpx.Response(200, json={"data": debug})
            return httpx.Response(200, json={"id": "42", "name": "Anna"})  # no email granted

        settings = FacebookSettings(
            client_id="app",
            client_secret="app-secret",
            authorize_url="https://fb.example/dialog/oauth",
            token_url="https://graph.example/oauth/access_token",
            profile_url="https://graph.example/me",
            debug_token_url="https://graph.example/debug_token",
        )
        return Facebook(settings, _http(handler))

    async def test_facebook_checks_the_token_and_asks_graph_with_a_header_and_a_proof(
        self,
    ) -> None:
        seen: list[httpx.Request] = []
        facebook = self._facebook({"is_valid": True, "app_id": "app", "user_id": "42"}, seen)
        profile = await facebook.redeem(Callback(code="c"), REQUEST)
        assert profile.subject == "42"
        assert not profile.email_verified  # no email, nothing vouched
        debug = next(r for r in seen if r.url.path == "/debug_token")
        assert debug.headers["authorization"] == "Bearer app|app-secret"
        assert debug.url.params["input_token"] == "fb-token"
        me = seen[-1]
        assert me.headers["authorization"] == "Bearer fb-token"
        assert "fb-token" not in str(me.url)
        assert me.url.params["fields"] == "id,name,email"
        assert len(me.url.params["appsecret_proof"]) == 64

    @pytest.mark.parametrize(
        "debug",
        [
            {"is_valid": True, "app_id": "another-app", "user_id": "42"},
            {"is_valid": False, "app_id": "app", "user_id": "42"},
            {"is_valid": True, "app_id": "app", "user_id": "43"},
        ],
    )
    async def test_facebook_refuses_a_token_of_another_app_user_or_an_invalid_one(
        self, debug: dict[str, Any]
    ) -> None:
        with pytest.raises(ProviderError) as caught:
            await self._facebook(debug, []).redeem(Callback(code="c"), REQUEST)
        assert caught.value.code == "social.provider_failed"

    async def test_yandex_reads_the_profile_with_an_oauth_header(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if request.url.path == "/token":
                return httpx.Response(200, json={"access_token": "y-token"})
            return httpx.Response(200, json={"id": "7", "default_email": "a@yandex.ru"})

        settings = YandexSettings(
            client_id="y",
            client_secret="ys",
            token_url="https://oauth.example/token",
            profile_url="https://login.example/info",
        )
        profile = await Yandex(settings, _http(handler)).redeem(Callback(code="c"), REQUEST)
        assert (profile.subject, profile.email, profile.email_verified) == (
            "7",
            "a@yandex.ru",
            True,
        )
        assert seen[-1].headers["authorization"] == "OAuth y-token"
        assert parse_qs(seen[0].content.decode())["code_verifier"] == ["v" * 43]
        untrusted = YandexSettings(
            client_id="y",
            token_url=settings.token_url,
            profile_url=settings.profile_url,
            trust_email=False,
        )
        profile = await Yandex(untrusted, _http(handler)).redeem(Callback(code="c"), REQUEST)
        assert not profile.email_verified

    async def test_vk_id_sends_pkce_and_device_id_and_needs_the_device_id(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if request.url.path == "/oauth2/auth":
                return httpx.Response(200, json={"access_token": "vk-token", "state": "st"})
            return httpx.Response(
                200, json={"user": {"user_id": 99, "email": "a@vk.com", "first_name": "Anna"}}
            )

        vk = Vk(
            VkSettings(
                client_id="vk",
                token_url="https://id.example/oauth2/auth",
                profile_url="https://id.example/oauth2/user_info",
            ),
            _http(handler),
        )
        query = parse_qs(urlsplit(await vk.authorization_url(REQUEST)).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["scope"] == ["vkid.personal_info email"]
        with pytest.raises(ProviderError):
            await vk.redeem(Callback(code="c"), REQUEST)
        profile = await vk.redeem(Callback(code="c", device_id="dev-1"), REQUEST)
        assert (profile.subject, profile.name) == ("99", "Anna")
        token_form = parse_qs(seen[0].content.decode())
        assert token_form["device_id"] == ["dev-1"]
        assert token_form["code_verifier"] == ["v" * 43]
        assert token_form["state"] == ["st"]
        assert parse_qs(seen[1].content.decode())["access_token"] == ["vk-token"]

    async def test_errors_and_outages_have_their_codes(self) -> None:
        for status, code in ((400, "social.provider_failed"), (503, "social.provider_unavailable")):
            yandex = Yandex(
                YandexSettings(client_id="y"), _http(lambda r, s=status: httpx.Response(s))
            )
            with pytest.raises(ProviderError) as caught:
                await yandex.redeem(Callback(code="c"), REQUEST)
            assert caught.value.code == code

        def down(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused")

        with pytest.raises(ProviderError) as caught:
            await Yandex(YandexSettings(client_id="y"), _http(down)).redeem(
                Callback(code="c"), REQUEST
            )
        assert caught.value.code == "social.provider_unavailable"


def test_only_providers_with_credentials_are_configured() -> None:
    http = _http(lambda r: httpx.Response(500))
    assert configured_providers(SocialSettings(), http) == {}
    some = SocialSettings(google=GoogleSettings(client_id="g"), vk=VkSettings(client_id="v"))
    assert sorted(configured_providers(some, http)) == ["google", "vk"]
    with pytest.raises(ValueError, match="KABINET_IDENTITY_APPLE_TEAM_ID"):
        configured_providers(SocialSettings(apple=AppleSettings(client_id="a")), http)
