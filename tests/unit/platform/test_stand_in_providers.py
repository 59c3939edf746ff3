"""The stand-in providers are strict where the real ones are: a test that passes against them
proves the adapter did the protocol right (client authentication, PKCE, single-use codes,
VK ID's device_id, Apple's form_post and client-secret JWT)."""

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from kabinet.devstack.providers import APPLE_KEY_ID, APPLE_TEAM_ID, StandInProviders, s256

REDIRECT = "https://kabinet.example/api/v1/auth/social/{p}/callback"


@pytest.fixture(scope="module")
def providers() -> Iterator[StandInProviders]:
    stand_ins = StandInProviders()
    stand_ins.start()
    yield stand_ins
    stand_ins.stop()


def _code(providers: StandInProviders, provider: str, path: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": providers.client_ids[provider],
        "redirect_uri": REDIRECT.format(p=provider),
        "state": "st",
        "login_as": "person-1",
        "login_email": "anna@example.com",
        **extra,
    }
    reply = httpx.get(f"{providers.url}/{provider}{path}?{urlencode(params)}")
    assert reply.status_code == 302, reply.text
    return {k: v[0] for k, v in parse_qs(urlsplit(reply.headers["location"]).query).items()}


def test_a_code_is_single_use_and_needs_the_client_secret(providers: StandInProviders) -> None:
    code = _code(providers, "yandex", "/authorize")["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": providers.client_ids["yandex"],
        "client_secret": "wrong",
    }
    assert httpx.post(f"{providers.url}/yandex/token", data=form).status_code == 401
    form["client_secret"] = providers.client_secrets["yandex"]
    # The code was spent by the failed attempt, as a real provider would.
    assert httpx.post(f"{providers.url}/yandex/token", data=form).status_code == 400


def test_vk_requires_pkce_and_the_redirects_device_id(providers: StandInProviders) -> None:
    params = {
        "response_type": "code",
        "client_id": providers.client_ids["vk"],
        "redirect_uri": REDIRECT.format(p="vk"),
        "login_as": "p",
    }
    assert httpx.get(f"{providers.url}/vk/authorize?{urlencode(params)}").status_code == 400
    verifier = "v" * 43
    back = _code(
        providers, "vk", "/authorize", code_challenge=s256(verifier), code_challenge_method="S256"
    )
    assert back["device_id"]
    form = {
        "grant_type": "authorization_code",
        "code": back["code"],
        "code_verifier": verifier,
        "client_id": providers.client_ids["vk"],
        "device_id": "another-device",
        "redirect_uri": REDIRECT.format(p="vk"),
        "state": "st",
    }
    assert httpx.post(f"{providers.url}/vk/oauth2/auth", data=form).status_code == 400
    back = _code(
        providers, "vk", "/authorize", code_challenge=s256(verifier), code_challenge_method="S256"
    )
    form |= {"code": back["code"], "device_id": back["device_id"], "code_verifier": "w" * 43}
    assert httpx.post(f"{providers.url}/vk/oauth2/auth", data=form).status_code == 400


def test_apple_checks_the_client_secret_jwt(providers: StandInProviders) -> None:
    params = {
        "response_type": "code",
        "response_mode": "form_post",
        "client_id": providers.client_ids["apple"],
        "redirect_uri": REDIRECT.format(p="apple"),
        "state": "st",
        "login_as": "p",
    }
    page = httpx.get(f"{providers.url}/apple/auth/authorize?{urlencode(params)}")
    assert page.status_code == 200
    assert 'method="post"' in page.text
    code = page.text.split('name="code" value="', 1)[1].split('"', 1)[0]
    now = int(time.time())
    claims = {
        "iss": APPLE_TEAM_ID,
        "sub": providers.client_ids["apple"],
        "aud": providers.issuer("apple"),
        "iat": now,
        "exp": now + 300,
    }
    foreign = ECKey.generate_key("P-256")
    forged = jwt.encode({"alg": "ES256", "kid": APPLE_KEY_ID}, claims, foreign, ["ES256"])
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": providers.client_ids["apple"],
        "client_secret": forged,
        "redirect_uri": REDIRECT.format(p="apple"),
    }
    assert httpx.post(f"{providers.url}/apple/auth/token", data=form).status_code == 401
