"""Issuing and verifying access and ID tokens: what a good token carries and round-trips."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kabinet.auth.keys import KeyRing, NoActiveSigningKey, PublicKeySet, generate_signing_key
from kabinet.auth.tokens import (
    DEFAULT_ACCESS_TTL,
    MAX_TOKEN_LENGTH,
    TOKEN_INVALID,
    AccessClaims,
    InvalidToken,
    Reason,
    issue_access_token,
    issue_id_token,
    verify_access_token,
    verify_id_token,
)
from kabinet.messages import CATALOG

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
ISSUER = "https://id.kabinet.example"
AUDIENCE = "kabinet"


def decode_segment(segment: str) -> dict[str, Any]:
    value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    assert isinstance(value, dict)
    return value


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing([generate_signing_key(NOW - timedelta(days=1))])


def issue(ring: KeyRing, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "account-1",
        "session_id": "session-1",
        "now": NOW,
    }
    arguments.update(overrides)
    return issue_access_token(ring, **arguments)


def verify(keys: Any, token: str, **overrides: Any) -> AccessClaims:
    arguments: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "now": NOW}
    arguments.update(overrides)
    return verify_access_token(keys, token, **arguments)


# ---- access tokens ------------------------------------------------------------------------------


def test_access_token_round_trip(ring: KeyRing):
    token = issue(ring, scope=("profile", "downloads"), client_id="portal")
    claims = verify(ring, token)
    assert claims.issuer == ISSUER
    assert claims.audience == (AUDIENCE,)
    assert claims.subject == "account-1"
    assert claims.session_id == "session-1"
    assert claims.scope == ("profile", "downloads")
    assert claims.client_id == "portal"
    assert claims.issued_at == claims.not_before == T
    assert claims.expires_at == T + 600
    assert claims.key_id == ring.current(NOW).kid
    assert claims.extra == {}


def test_access_token_header_is_exactly_alg_kid_and_at_jwt_type(ring: KeyRing):
    head = decode_segment(issue(ring).split(".")[0])
    assert head == {"alg": "ES256", "kid": ring.current(NOW).kid, "typ": "at+jwt"}


def test_access_token_carries_the_rfc9068_claims(ring: KeyRing):
    body = decode_segment(issue(ring, scope=("profile",), client_id="portal").split(".")[1])
    assert body == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "account-1",
        "sid": "session-1",
        "iat": T,
        "nbf": T,
        "exp": T + int(DEFAULT_ACCESS_TTL.total_seconds()),
        "jti": body["jti"],
        "scope": "profile",
        "client_id": "portal",
    }
    assert timedelta(minutes=10) == DEFAULT_ACCESS_TTL


def test_each_access_token_has_its_own_random_jti(ring: KeyRing):
    ids = {verify(ring, issue(ring)).token_id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)


def test_no_scope_and_no_client_leave_those_claims_out(ring: KeyRing):
    token = issue(ring)
    body = decode_segment(token.split(".")[1])
    assert "scope" not in body
    assert "client_id" not in body
    claims = verify(ring, token)
    assert claims.scope == ()
    assert claims.client_id is None


@pytest.mark.parametrize("scope", [("",), ("two words",)])
def test_scope_values_must_be_single_words(ring: KeyRing, scope: tuple[str, ...]):
    with pytest.raises(ValueError, match="scope"):
        issue(ring, scope=scope)


def test_custom_ttl_is_used(ring: KeyRing):
    claims = verify(ring, issue(ring, ttl=timedelta(minutes=2)))
    assert claims.expires_at - claims.issued_at == 120


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-5), timedelta(hours=2)])
def test_ttl_must_be_positive_and_within_the_rings_max(ring: KeyRing, ttl: timedelta):
    # A token may never outlive its key's place in the JWKS (the ring's max_token_ttl).
    with pytest.raises(ValueError, match="ttl"):
        issue(ring, ttl=ttl)


def test_extra_claims_are_carried_and_returned(ring: KeyRing):
    claims = verify(ring, issue(ring, extra_claims={"roles": ["support"], "locale": "ru"}))
    assert claims.extra == {"roles": ["support"], "locale": "ru"}


@pytest.mark.parametrize("name", ["sub", "exp", "iss", "aud", "sid", "jti", "nbf", "iat", "scope"])
def test_extra_claims_cannot_replace_registered_ones(ring: KeyRing, name: str):
    with pytest.raises(ValueError, match="registered"):
        issue(ring, extra_claims={name: "x"})


def test_extra_claim_that_is_not_json_is_refused_at_issue(ring: KeyRing):
    with pytest.raises(ValueError, match="JSON compliant"):
        issue(ring, extra_claims={"weight": float("nan")})


def test_token_larger_than_verifiers_accept_is_not_issued(ring: KeyRing):
    with pytest.raises(ValueError, match="larger"):
        issue(ring, extra_claims={"blob": "x" * MAX_TOKEN_LENGTH})


def test_naive_times_are_refused(ring: KeyRing):
    with pytest.raises(ValueError, match="timezone"):
        issue(ring, now=NOW.replace(tzinfo=None))


def test_issuing_without_an_active_key_fails_loudly():
    future = KeyRing([generate_signing_key(NOW, active_from=NOW + timedelta(hours=1))])
    with pytest.raises(NoActiveSigningKey):
        issue(future)


def test_verifies_with_a_jwks_dict_and_with_a_public_key_set(ring: KeyRing):
    token = issue(ring)
    jwks = json.loads(json.dumps(ring.public_jwks(NOW)))  # as fetched over HTTP
    assert verify(jwks, token).subject == "account-1"
    assert verify(PublicKeySet.from_jwks(jwks), token).subject == "account-1"


def test_audience_array_containing_ours_is_accepted(ring: KeyRing):
    token = issue(ring, audience=["billing", AUDIENCE])
    assert verify(ring, token).audience == ("billing", AUDIENCE)
    assert verify(ring, token, audience="billing").audience == ("billing", AUDIENCE)


@pytest.mark.parametrize("typ", ["application/at+jwt", "AT+JWT", "Application/At+Jwt"])
def test_at_jwt_type_is_compared_as_a_media_type(ring: KeyRing, typ: str):
    # RFC 7515 4.1.9: typ is case-insensitive and the "application/" prefix may be left out.
    from kabinet.auth import tokens

    key = ring.current(NOW)
    claims = decode_segment(issue(ring).split(".")[1])
    token = tokens.jws.serialize_compact(
        {"alg": "ES256", "kid": key.kid, "typ": typ},
        json.dumps(claims),
        key.private_key,
        algorithms=["ES256"],
    )
    assert verify(ring, token).token_id == claims["jti"]


def test_token_stays_valid_until_its_expiry_and_within_the_leeway(ring: KeyRing):
    token = issue(ring)
    assert verify(ring, token, now=NOW + timedelta(seconds=599)).subject == "account-1"
    assert verify(ring, token, now=NOW + timedelta(seconds=629)).subject == "account-1"
    with pytest.raises(InvalidToken) as caught:
        verify(ring, token, now=NOW + timedelta(seconds=630))
    assert caught.value.reason is Reason.EXPIRED
    with pytest.raises(InvalidToken):
        verify(ring, token, now=NOW + timedelta(seconds=601), leeway=timedelta(0))


def test_clock_of_the_verifier_slightly_behind_is_tolerated(ring: KeyRing):
    token = issue(ring)
    assert verify(ring, token, now=NOW - timedelta(seconds=30)).subject == "account-1"
    with pytest.raises(InvalidToken) as caught:
        verify(ring, token, now=NOW - timedelta(seconds=31))
    assert caught.value.reason in {Reason.ISSUED_IN_FUTURE, Reason.NOT_YET_VALID}


def test_the_token_invalid_code_has_english_and_russian_messages():
    english, russian = CATALOG[TOKEN_INVALID]
    assert english
    assert russian
    assert english != russian
    assert any("а" <= ch <= "я" for ch in russian.lower())


# ---- ID tokens ----------------------------------------------------------------------------------


def test_id_token_round_trip(ring: KeyRing):
    auth_time = NOW - timedelta(minutes=3)
    token = issue_id_token(
        ring,
        issuer=ISSUER,
        audience="portal-app",
        subject="account-1",
        now=NOW,
        auth_time=auth_time,
        nonce="n-0S6_WzA2Mj",
        azp="portal-app",
        extra_claims={"email": "ada@example.org"},
    )
    head = decode_segment(token.split(".")[0])
    assert head == {"alg": "ES256", "kid": ring.current(NOW).kid, "typ": "JWT"}
    claims = verify_id_token(
        ring, token, issuer=ISSUER, audience="portal-app", now=NOW, nonce="n-0S6_WzA2Mj"
    )
    assert claims.subject == "account-1"
    assert claims.audience == ("portal-app",)
    assert claims.nonce == "n-0S6_WzA2Mj"
    assert claims.auth_time == int(auth_time.timestamp())
    assert claims.authorized_party == "portal-app"
    assert claims.expires_at - claims.issued_at == 600
    assert claims.extra == {"email": "ada@example.org"}


def test_id_token_without_nonce_verifies_when_none_is_expected(ring: KeyRing):
    token = issue_id_token(ring, issuer=ISSUER, audience="portal-app", subject="a", now=NOW)
    claims = verify_id_token(ring, token, issuer=ISSUER, audience="portal-app", now=NOW)
    assert claims.nonce is None
    assert claims.auth_time is None
    assert "nonce" not in decode_segment(token.split(".")[1])


def test_id_token_nonce_must_match_when_expected(ring: KeyRing):
    token = issue_id_token(
        ring, issuer=ISSUER, audience="portal-app", subject="a", now=NOW, nonce="right"
    )
    with pytest.raises(InvalidToken) as caught:
        verify_id_token(ring, token, issuer=ISSUER, audience="portal-app", now=NOW, nonce="wrong")
    assert caught.value.reason is Reason.NONCE


def test_id_token_extra_claims_cannot_replace_nonce(ring: KeyRing):
    with pytest.raises(ValueError, match="registered"):
        issue_id_token(
            ring,
            issuer=ISSUER,
            audience="portal-app",
            subject="a",
            now=NOW,
            extra_claims={"nonce": "forced"},
        )


def test_id_token_without_a_typ_header_is_accepted(ring: KeyRing):
    # OIDC does not require typ in ID tokens; only a wrong one (such as at+jwt) is refused.
    from kabinet.auth import tokens

    key = ring.current(NOW)
    claims = {"iss": ISSUER, "aud": "portal-app", "sub": "a", "iat": T, "exp": T + 60}
    token = tokens.jws.serialize_compact(
        {"alg": "ES256", "kid": key.kid}, json.dumps(claims), key.private_key, algorithms=["ES256"]
    )
    assert "typ" not in decode_segment(token.split(".")[0])
    verified = verify_id_token(ring, token, issuer=ISSUER, audience="portal-app", now=NOW)
    assert verified.subject == "a"


def test_a_revoked_session_is_refused_with_the_same_public_error():
    error = InvalidToken(Reason.REVOKED)
    assert error.code == TOKEN_INVALID
    assert str(error) == TOKEN_INVALID
    assert error.params == {}
    assert repr(error) == "InvalidToken('revoked')"
