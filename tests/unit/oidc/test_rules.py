"""Pure rules of the provider: redirect URIs, seed files, PKCE, user codes, messages."""

import base64
import hashlib

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from identity.domain import devices, oidc
from kabinet.errors import DomainError
from kabinet.messages import CATALOG


@pytest.mark.parametrize(
    "uri",
    [
        "https://site.example/cb",
        "https://site.example:8443/cb?x=1",
        "http://127.0.0.1:9/cb",
        "http://[::1]:9/cb",
        "http://localhost/cb",
    ],
)
def test_accepted_redirect_uris(uri: str) -> None:
    oidc.check_redirect_uri(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://site.example/cb",  # http only on loopback
        "https://site.example/cb#x",
        "https://site.example/c b",
        "javascript:alert(1)",
        "/relative",
        "ftp://site.example/",
        "http://127.0.0.1.evil.example/cb",
    ],
)
def test_refused_redirect_uris(uri: str) -> None:
    with pytest.raises(DomainError):
        oidc.check_redirect_uri(uri)


def test_s256_agrees_with_an_independent_implementation() -> None:
    verifier = "dBjftJeZ4CVP-mJ92K9qpzRZ8L3OhbtDt4ctX8mYOgmA"
    assert oidc.s256(verifier) == create_s256_code_challenge(verifier)
    digest = hashlib.sha256(verifier.encode()).digest()
    assert oidc.s256(verifier) == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert len(oidc.s256(verifier)) == 43


def test_seed_file_errors_name_the_entry() -> None:
    with pytest.raises(ValueError, match=r"clients\[1\]"):
        oidc.load_seed(
            '{"clients": [{"client_id": "ok-1", "grant_types": ["client_credentials"],'
            ' "secret_sha256": "' + "ab" * 32 + '"},'
            ' {"client_id": "bad", "grant_types": ["password"]}]}'
        )
    with pytest.raises(ValueError, match="clients"):
        oidc.load_seed("[]")
    (client,) = oidc.load_seed(
        '{"clients": [{"client_id": "ok-1", "grant_types": ["client_credentials"],'
        ' "secret_sha256": "' + "ab" * 32 + '"}]}'
    )
    assert client.confidential


def test_user_codes_are_unambiguous_and_normalised() -> None:
    codes = {devices.new_user_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 8
        assert not set(code) & set("01OIL AEUY")
    assert devices.normalise_user_code("bcdf-ghjk") == "BCDFGHJK"
    assert devices.normalise_user_code(" BCDF GHJK ") == "BCDFGHJK"
    assert devices.normalise_user_code("BCDF-GHJ0") is None
    assert devices.normalise_user_code("BCDF-GHJ") is None
    assert devices.display_user_code("BCDFGHJK") == "BCDF-GHJK"


def test_every_code_has_both_messages() -> None:
    codes = [*oidc.CODES, *devices.CODES, *(f"oauth.{e}" for e in oidc.OAUTH_ERRORS)]
    for code in codes:
        english, russian = CATALOG[code]
        assert english.strip()
        assert russian.strip()
        assert english != russian
