"""Every way an access or ID token must be refused, each built for real and checked on its own.

The malicious tokens are assembled by hand (base64url, JSON, HMAC or ECDSA over the signing input)
rather than through the module under test, so a bug in our issuing can't hide a bug in verifying.
Each test checks the public error (UNAUTHENTICATED, ``token.invalid``) and the internal reason,
so a token refused for the wrong reason fails the test too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc.errors import UnsupportedAlgorithmError

from kabinet.auth import tokens
from kabinet.auth.keys import KeyRing, PublicKeySet, SigningKey, generate_signing_key
from kabinet.auth.tokens import (
    MAX_TOKEN_LENGTH,
    InvalidToken,
    Reason,
    issue_access_token,
    issue_id_token,
    verify_access_token,
    verify_id_token,
)
from kabinet.errors import DomainError, ErrorKind

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
ISSUER = "https://id.kabinet.example"
AUDIENCE = "kabinet"
CLIENT = "portal-app"

Signer = Callable[[bytes], bytes]


# ---- building tokens by hand -------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def es256_signer(private: ec.EllipticCurvePrivateKey) -> Signer:
    """Raw r||s over the signing input, as JWS wants it (RFC 7518 section 3.4)."""

    def sign(signing_input: bytes) -> bytes:
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def forge(header: dict[str, Any] | str, claims: dict[str, Any] | str, signer: Signer | None) -> str:
    """A compact JWS from raw parts; a str part is used as the already-encoded segment."""
    head = header if isinstance(header, str) else b64json(header)
    body = claims if isinstance(claims, str) else b64json(claims)
    signing_input = f"{head}.{body}".encode("ascii")
    signature = b64(signer(signing_input)) if signer else ""
    return f"{head}.{body}.{signature}"


def access_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "account-1",
        "sid": "session-1",
        "iat": T - 60,
        "nbf": T - 60,
        "exp": T + 540,
        "jti": "jti-1",
    }
    for name, value in changes.items():
        if value is ...:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


def header(key: SigningKey, **changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}
    for name, value in changes.items():
        if value is ...:
            result.pop(name)
        else:
            result[name] = value
    return result


def refused(reason: Reason, call: Callable[[], object]) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        call()
    error = caught.value
    assert isinstance(error, DomainError)
    assert error.kind is ErrorKind.UNAUTHENTICATED
    assert error.code == "token.invalid"
    assert error.params == {}
    assert error.reason is reason
    return error


# ---- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key(NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def ring(key: SigningKey) -> KeyRing:
    return KeyRing([key])


@pytest.fixture(scope="module")
def ours(key: SigningKey) -> Signer:
    private = key.private_key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return es256_signer(private)


def verify(ring: KeyRing, token: str) -> object:
    return verify_access_token(ring, token, issuer=ISSUER, audience=AUDIENCE, now=NOW)


# ---- the hand-built baseline is accepted (so each refusal below is about its one change) -------


def test_hand_built_token_with_our_key_is_accepted(ring: KeyRing, key: SigningKey, ours: Signer):
    claims = verify_access_token(
        ring, forge(header(key), access_claims(), ours), issuer=ISSUER, audience=AUDIENCE, now=NOW
    )
    assert claims.subject == "account-1"
    assert claims.session_id == "session-1"


# ---- algorithm ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_without_signature_is_refused(ring: KeyRing, key: SigningKey, alg: str):
    token = forge(header(key, alg=alg), access_claims(), None)
    assert token.endswith(".")
    refused(Reason.ALGORITHM, lambda: verify(ring, token))


def test_alg_none_with_a_signature_attached_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    token = forge(header(key, alg="none"), access_claims(), ours)
    refused(Reason.ALGORITHM, lambda: verify(ring, token))


def test_missing_alg_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    refused(
        Reason.ALGORITHM, lambda: verify(ring, forge(header(key, alg=...), access_claims(), ours))
    )


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
def test_foreign_algorithm_is_refused_before_any_key_lookup(key: SigningKey, alg: str):
    looked_up: list[str] = []

    class Recording:
        def verification_key(self, kid: str, now: datetime) -> None:
            looked_up.append(kid)

    token = forge(header(key, alg=alg), access_claims(), lambda data: b"x" * 64)
    refused(
        Reason.ALGORITHM,
        lambda: verify_access_token(Recording(), token, issuer=ISSUER, audience=AUDIENCE, now=NOW),
    )
    assert looked_up == []


def _public_key_secrets(key: SigningKey) -> dict[str, bytes]:
    """The encodings of our public key an attacker would try as an HMAC secret."""
    public = key.public.key.public_key
    return {
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "point": public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
        "jwk": json.dumps(key.public_jwk).encode(),
    }


@pytest.mark.parametrize("encoding", ["pem", "der", "point", "jwk"])
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_our_public_key_is_refused(
    ring: KeyRing, key: SigningKey, encoding: str, alg: str
):
    secret = _public_key_secrets(key)[encoding]
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    token = forge(
        header(key, alg=alg), access_claims(), lambda data: hmac.new(secret, data, digest).digest()
    )
    refused(Reason.ALGORITHM, lambda: verify(ring, token))


def test_joserfc_alone_also_refuses_hmac_with_our_registry(key: SigningKey):
    # Second line of defence: even if our header check were gone, the registry joserfc gets
    # allows ES256 only, and an HMAC over our public key is refused there too.
    secret = _public_key_secrets(key)["pem"]
    token = forge(
        header(key, alg="HS256"),
        access_claims(),
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )
    with pytest.raises(UnsupportedAlgorithmError):
        tokens.jws.deserialize_compact(
            token, key.public.key, algorithms=["ES256"], registry=tokens._REGISTRIES["ES256"]
        )


def _rsa_signer(pss: bool) -> Signer:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    scheme = (
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        if pss
        else padding.PKCS1v15()
    )
    return lambda data: private.sign(data, scheme, hashes.SHA256())


def _es_signer(curve: ec.EllipticCurve, digest: hashes.HashAlgorithm, size: int) -> Signer:
    private = ec.generate_private_key(curve)

    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private.sign(data, ec.ECDSA(digest)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign


def _ed25519_signer() -> Signer:
    return ed25519.Ed25519PrivateKey.generate().sign


@pytest.mark.parametrize(
    ("alg", "make_signer"),
    [
        ("RS256", lambda: _rsa_signer(pss=False)),
        ("PS256", lambda: _rsa_signer(pss=True)),
        ("ES384", lambda: _es_signer(ec.SECP384R1(), hashes.SHA384(), 48)),
        ("ES512", lambda: _es_signer(ec.SECP521R1(), hashes.SHA512(), 66)),
        ("ES256K", lambda: _es_signer(ec.SECP256K1(), hashes.SHA256(), 32)),
        ("EdDSA", _ed25519_signer),
    ],
)
def test_algorithms_outside_the_allow_list_are_refused(
    ring: KeyRing, key: SigningKey, alg: str, make_signer: Callable[[], Signer]
):
    token = forge(header(key, alg=alg), access_claims(), make_signer())
    refused(Reason.ALGORITHM, lambda: verify(ring, token))


def test_joserfc_is_given_our_fixed_algorithm_never_the_header_choice(
    ring: KeyRing, key: SigningKey, ours: Signer, monkeypatch: pytest.MonkeyPatch
):
    seen: list[Any] = []
    original = tokens.jws.deserialize_compact

    def spy(value: Any, public_key: Any, algorithms: Any = None, registry: Any = None) -> Any:
        seen.append((algorithms, registry.allowed, public_key))
        return original(value, public_key, algorithms=algorithms, registry=registry)

    monkeypatch.setattr(tokens.jws, "deserialize_compact", spy)
    verify(ring, forge(header(key), access_claims(), ours))
    [(algorithms, allowed, public_key)] = seen
    assert list(algorithms) == ["ES256"]
    assert list(allowed) == ["ES256"]
    assert public_key is key.public.key
    assert not public_key.is_private


# ---- key id -------------------------------------------------------------------------------------


def test_token_signed_by_a_key_we_do_not_know_is_refused(ring: KeyRing):
    stranger = generate_signing_key(NOW)
    private = stranger.private_key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    token = forge(header(stranger), access_claims(), es256_signer(private))
    refused(Reason.KID_UNKNOWN, lambda: verify(ring, token))


def test_token_resigned_with_a_fresh_key_under_our_kid_is_refused(ring: KeyRing, key: SigningKey):
    token = forge(
        header(key), access_claims(), es256_signer(ec.generate_private_key(ec.SECP256R1()))
    )
    refused(Reason.SIGNATURE, lambda: verify(ring, token))


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "..%2f..%2fkeys",
        "/dev/null",
        "' OR '1'='1",
        "x'; DROP TABLE signing_keys; --",
        "a" * 65,
        "",
        "kid with spaces",
        "ключ",
        "kid\u0000",
        "kid\n",
    ],
)
def test_malformed_kid_is_refused(ring: KeyRing, key: SigningKey, ours: Signer, kid: str):
    token = forge(header(key, kid=kid), access_claims(), ours)
    refused(Reason.KID_MALFORMED, lambda: verify(ring, token))


def test_very_long_kid_is_refused_by_the_header_limit(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key, kid="k" * 400), access_claims(), ours)
    assert len(token) <= MAX_TOKEN_LENGTH
    refused(Reason.HEADER, lambda: verify(ring, token))


def test_huge_kid_is_refused_by_the_size_limit(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key, kid="k" * 100_000), access_claims(), ours)
    refused(Reason.TOO_LARGE, lambda: verify(ring, token))


@pytest.mark.parametrize("kid", [None, 123, ["a"], {"kid": "x"}, True])
def test_kid_that_is_not_a_string_is_refused(
    ring: KeyRing, key: SigningKey, kid: object, ours: Signer
):
    refused(
        Reason.KID_MALFORMED,
        lambda: verify(ring, forge(header(key, kid=kid), access_claims(), ours)),
    )


def test_missing_kid_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    refused(
        Reason.KID_MALFORMED,
        lambda: verify(ring, forge(header(key, kid=...), access_claims(), ours)),
    )


def test_lookup_never_sees_a_malformed_kid(key: SigningKey, ours: Signer):
    looked_up: list[str] = []

    class Recording:
        def verification_key(self, kid: str, now: datetime) -> None:
            looked_up.append(kid)

    token = forge(header(key, kid="../etc/passwd"), access_claims(), ours)
    refused(
        Reason.KID_MALFORMED,
        lambda: verify_access_token(Recording(), token, issuer=ISSUER, audience=AUDIENCE, now=NOW),
    )
    assert looked_up == []


# ---- header members -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ("x5t", "c2hhMQ"),
        ("x5t#S256", "c2hhMjU2"),
        ("crit", ["exp"]),
        ("b64", False),
        ("cty", "JWT"),
        ("zip", "DEF"),
        ("enc", "A256GCM"),
        ("custom", "anything"),
    ],
)
def test_headers_beyond_alg_kid_typ_are_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, member: str, value: object
):
    token = forge({**header(key), member: value}, access_claims(), ours)
    refused(Reason.FORBIDDEN_HEADER, lambda: verify(ring, token))


def test_embedded_jwk_of_the_attackers_own_key_is_refused(ring: KeyRing, key: SigningKey):
    attacker = generate_signing_key(NOW)
    private = attacker.private_key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    token = forge(
        {**header(key), "jwk": attacker.public_jwk}, access_claims(), es256_signer(private)
    )
    refused(Reason.FORBIDDEN_HEADER, lambda: verify(ring, token))


def test_crit_naming_an_extension_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge({**header(key), "crit": ["exp"], "exp": T + 60}, access_claims(), ours)
    refused(Reason.FORBIDDEN_HEADER, lambda: verify(ring, token))


def test_rfc7797_unencoded_payload_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge({**header(key), "b64": False, "crit": ["b64"]}, access_claims(), ours)
    refused(Reason.FORBIDDEN_HEADER, lambda: verify(ring, token))


def test_header_member_given_twice_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    raw = f'{{"alg":"ES256","kid":"{key.kid}","typ":"at+jwt","alg":"none"}}'
    token = forge(b64(raw.encode()), access_claims(), ours)
    refused(Reason.HEADER, lambda: verify(ring, token))


def test_oversized_header_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge({**header(key), "typ": "at+jwt" + " " * 600}, access_claims(), ours)
    refused(Reason.HEADER, lambda: verify(ring, token))


# ---- typ ----------------------------------------------------------------------------------------


def test_id_token_is_refused_as_an_access_token(ring: KeyRing):
    id_token = issue_id_token(ring, issuer=ISSUER, audience=AUDIENCE, subject="account-1", now=NOW)
    refused(Reason.TYPE, lambda: verify(ring, id_token))


def test_access_token_is_refused_as_an_id_token(ring: KeyRing):
    access = issue_access_token(
        ring, issuer=ISSUER, audience=CLIENT, subject="account-1", session_id="s", now=NOW
    )
    refused(
        Reason.TYPE,
        lambda: verify_id_token(ring, access, issuer=ISSUER, audience=CLIENT, now=NOW),
    )


@pytest.mark.parametrize("typ", [..., "JWT", "jwt", "at+JWT+x", "application/jwt", "", 1, None])
def test_access_token_without_the_at_jwt_type_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, typ: object
):
    token = forge(header(key, typ=typ), access_claims(), ours)
    refused(Reason.TYPE, lambda: verify(ring, token))


# ---- signature ----------------------------------------------------------------------------------


def test_stripped_signature_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    head, body, _ = forge(header(key), access_claims(), ours).split(".")
    refused(Reason.SIGNATURE, lambda: verify(ring, f"{head}.{body}."))


def test_stripped_signature_is_refused_without_a_verification_attempt(
    ring: KeyRing, key: SigningKey, ours: Signer, monkeypatch: pytest.MonkeyPatch
):
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("an empty signature reached the verifier")

    monkeypatch.setattr(tokens.jws, "deserialize_compact", must_not_run)
    head, body, _ = forge(header(key), access_claims(), ours).split(".")
    refused(Reason.SIGNATURE, lambda: verify(ring, f"{head}.{body}."))


def test_payload_changed_after_signing_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    head, _, signature = forge(header(key), access_claims(), ours).split(".")
    forged_body = b64json(access_claims(sub="admin"))
    refused(Reason.SIGNATURE, lambda: verify(ring, f"{head}.{forged_body}.{signature}"))


def test_header_changed_after_signing_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    _, body, signature = forge(header(key), access_claims(), ours).split(".")
    head = b64json(header(key, typ="application/at+jwt"))
    refused(Reason.SIGNATURE, lambda: verify(ring, f"{head}.{body}.{signature}"))


def test_all_zero_signature_is_refused(ring: KeyRing, key: SigningKey):
    # The "psychic signature" (r = s = 0) some ECDSA verifiers once accepted.
    refused(
        Reason.SIGNATURE,
        lambda: verify(ring, forge(header(key), access_claims(), lambda _: bytes(64))),
    )


def test_der_encoded_signature_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    def der(data: bytes) -> bytes:
        raw = ours(data)
        return encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )

    refused(Reason.SIGNATURE, lambda: verify(ring, forge(header(key), access_claims(), der)))


def test_signature_of_another_token_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    other = forge(header(key), access_claims(sub="someone-else"), ours)
    head, body, _ = forge(header(key), access_claims(), ours).split(".")
    refused(Reason.SIGNATURE, lambda: verify(ring, f"{head}.{body}.{other.split('.')[2]}"))


# ---- issuer, audience, time ---------------------------------------------------------------------


def test_wrong_issuer_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key), access_claims(iss="https://evil.example"), ours)
    refused(Reason.ISSUER, lambda: verify(ring, token))


@pytest.mark.parametrize("iss", [ISSUER.upper(), ISSUER + "/", ISSUER + " ", "kabinet"])
def test_issuer_that_is_nearly_ours_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, iss: str
):
    token = forge(header(key), access_claims(iss=iss), ours)
    refused(Reason.ISSUER, lambda: verify(ring, token))


def test_wrong_audience_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key), access_claims(aud="another-service"), ours)
    refused(Reason.AUDIENCE, lambda: verify(ring, token))


def test_audience_array_without_ours_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key), access_claims(aud=["billing", "support", "Kabinet"]), ours)
    refused(Reason.AUDIENCE, lambda: verify(ring, token))


@pytest.mark.parametrize("aud", [[], "", [""], [AUDIENCE, 7], 7, {"aud": AUDIENCE}, None])
def test_audience_of_the_wrong_shape_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, aud: object
):
    token = forge(header(key), access_claims(aud=aud), ours)
    refused(Reason.CLAIM_INVALID, lambda: verify(ring, token))


def test_expired_token_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key), access_claims(iat=T - 1200, nbf=T - 1200, exp=T - 600), ours)
    refused(Reason.EXPIRED, lambda: verify(ring, token))


def test_expiry_boundary_is_exactly_exp_plus_leeway(ring: KeyRing, key: SigningKey, ours: Signer):
    leeway = timedelta(seconds=30)
    exp = T - 30
    token = forge(header(key), access_claims(iat=T - 600, nbf=T - 600, exp=exp), ours)
    refused(
        Reason.EXPIRED,
        lambda: verify_access_token(
            ring, token, issuer=ISSUER, audience=AUDIENCE, now=NOW, leeway=leeway
        ),
    )
    one_second_earlier = NOW - timedelta(seconds=1)
    claims = verify_access_token(
        ring, token, issuer=ISSUER, audience=AUDIENCE, now=one_second_earlier, leeway=leeway
    )
    assert claims.expires_at == exp


def test_not_before_in_the_future_beyond_leeway_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    token = forge(header(key), access_claims(nbf=T + 31), ours)
    refused(Reason.NOT_YET_VALID, lambda: verify(ring, token))


def test_not_before_within_leeway_is_accepted(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key), access_claims(nbf=T + 30, iat=T + 30), ours)
    assert (
        verify_access_token(ring, token, issuer=ISSUER, audience=AUDIENCE, now=NOW).not_before
        == T + 30
    )


def test_issued_in_the_future_beyond_leeway_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    token = forge(header(key), access_claims(iat=T + 3600, exp=T + 4200), ours)
    refused(Reason.ISSUED_IN_FUTURE, lambda: verify(ring, token))


# ---- claims -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iss", "aud", "sub", "sid", "exp", "iat", "nbf", "jti"])
def test_missing_required_claim_is_refused(ring: KeyRing, key: SigningKey, ours: Signer, name: str):
    token = forge(header(key), access_claims(**{name: ...}), ours)
    refused(Reason.CLAIM_MISSING, lambda: verify(ring, token))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("exp", str(T + 600)),
        ("exp", True),
        ("exp", float(T + 600)),
        ("exp", None),
        ("iat", [T]),
        ("nbf", "now"),
        ("sub", ""),
        ("sub", 42),
        ("sid", None),
        ("jti", ""),
        ("iss", ["https://id.kabinet.example"]),
        ("scope", ["read", "write"]),
        ("client_id", 5),
    ],
)
def test_claim_of_the_wrong_type_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, name: str, value: object
):
    token = forge(header(key), access_claims(**{name: value}), ours)
    refused(Reason.CLAIM_INVALID, lambda: verify(ring, token))


@pytest.mark.parametrize("constant", ["Infinity", "-Infinity", "NaN"])
def test_non_json_number_constants_are_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, constant: str
):
    # Python's json would read "exp": Infinity as a token that never expires.
    raw = json.dumps(access_claims(exp=0)).replace('"exp": 0', f'"exp": {constant}')
    assert constant in raw
    refused(Reason.PAYLOAD, lambda: verify(ring, forge(header(key), b64(raw.encode()), ours)))


def test_claim_given_twice_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    raw = json.dumps(access_claims())[:-1] + ', "aud": "another-service"}'
    refused(Reason.PAYLOAD, lambda: verify(ring, forge(header(key), b64(raw.encode()), ours)))


@pytest.mark.parametrize("payload", [b"[]", b'"claims"', b"42", b"null", b"{", b"\xff\xfe{}"])
def test_payload_that_is_not_a_json_object_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, payload: bytes
):
    refused(Reason.PAYLOAD, lambda: verify(ring, forge(header(key), b64(payload), ours)))


def test_deeply_nested_payload_is_refused_not_crashed(ring: KeyRing, key: SigningKey, ours: Signer):
    nested = b"[" * 2500 + b"]" * 2500
    body = b64(b'{"iss":' + nested + b"}")
    token = forge(header(key), body, ours)
    assert len(token) <= MAX_TOKEN_LENGTH
    refused(Reason.PAYLOAD, lambda: verify(ring, token))


# ---- shape and size -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        ".eyJ9.c2ln",
        "eyJ9..c2ln",
        "eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln=",
        "eyJhbGciOiJFUzI1NiJ9+.eyJ9.c2ln",
        "eyJhbGciOiJFUzI1NiJ9/.eyJ9.c2ln",
        " eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln",
        "eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln\n",
        "eyJhbGciOiJFUzI1NiJ9.ey J9.c2ln",
        "eyJhbGciOiJFUzI1NiJ9.eyJ9.c2lnйй",
        "Bearer eyJhbGciOiJFUzI1NiJ9.eyJ9.c2ln",
    ],
)
def test_malformed_token_is_refused(ring: KeyRing, token: str):
    refused(Reason.MALFORMED, lambda: verify(ring, token))


@pytest.mark.parametrize("value", [None, b"a.b.c", 42, ["a", "b", "c"]])
def test_token_that_is_not_a_string_is_refused(ring: KeyRing, value: Any):
    refused(Reason.MALFORMED, lambda: verify(ring, value))


@pytest.mark.parametrize(
    "segment",
    [
        b64(b"not json"),
        b64(b"[]"),
        b64(b'"alg"'),
        b64(b"{"),
        b64(b"\xff"),
        "eyJhbGciOiJFUzI1NiJ9X",  # a length no base64 string can have
    ],
)
def test_header_that_is_not_base64url_json_object_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer, segment: str
):
    refused(Reason.HEADER, lambda: verify(ring, forge(segment, access_claims(), ours)))


def test_non_canonical_base64url_header_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    # Same bytes to a lenient decoder, different text: the signature covers the text, and a
    # strict decoder refuses the stray bits outright.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    segment = b64json(header(key))
    assert len(segment) % 4  # our header's encoding ends in a partial group, with spare bits
    candidates = [segment[:-1] + alphabet[alphabet.index(segment[-1]) | bit] for bit in (1, 2, 3)]
    tweaked = next(c for c in candidates if c != segment)
    padding_needed = "=" * (-len(tweaked) % 4)
    lenient = base64.urlsafe_b64decode(tweaked + padding_needed)
    assert lenient == base64.urlsafe_b64decode(segment + padding_needed)
    token = forge(tweaked, access_claims(), ours)
    refused(Reason.HEADER, lambda: verify(ring, token))


def test_token_over_the_size_limit_is_refused_before_any_parsing(
    ring: KeyRing, key: SigningKey, ours: Signer, monkeypatch: pytest.MonkeyPatch
):
    token = forge(header(key), access_claims(pad="x" * MAX_TOKEN_LENGTH), ours)
    assert len(token) > MAX_TOKEN_LENGTH

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the oversized token was parsed")

    monkeypatch.setattr(tokens, "urlsafe_b64decode", must_not_run)
    monkeypatch.setattr(tokens, "_DECODER", None)
    monkeypatch.setattr(tokens.jws, "deserialize_compact", must_not_run)
    refused(Reason.TOO_LARGE, lambda: verify(ring, token))


def test_a_megabyte_of_garbage_is_refused_as_too_large(ring: KeyRing):
    refused(Reason.TOO_LARGE, lambda: verify(ring, "A" * 1_000_000))


def test_token_just_under_the_size_limit_is_still_verified(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    base = len(forge(header(key), access_claims(pad=""), ours))
    pad = (MAX_TOKEN_LENGTH - base) * 3 // 4 - 2
    token = forge(header(key), access_claims(pad="x" * pad), ours)
    assert MAX_TOKEN_LENGTH - 8 <= len(token) <= MAX_TOKEN_LENGTH
    assert verify_access_token(ring, token, issuer=ISSUER, audience=AUDIENCE, now=NOW).extra["pad"]


# ---- key lifetime -------------------------------------------------------------------------------


def test_token_of_a_key_gone_from_the_jwks_is_refused():
    old = generate_signing_key(NOW - timedelta(days=30))
    new = generate_signing_key(NOW - timedelta(days=2))
    ring = KeyRing([old, new], max_token_ttl=timedelta(hours=1))
    private = old.private_key.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    token = forge(header(old), access_claims(), es256_signer(private))
    refused(Reason.KID_UNKNOWN, lambda: verify(ring, token))


def test_jwks_entry_for_our_kid_with_another_algorithm_gives_no_key(key: SigningKey, ours: Signer):
    jwks = {"keys": [{**key.public_jwk, "alg": "RS256"}]}
    token = forge(header(key), access_claims(), ours)
    refused(
        Reason.KID_UNKNOWN,
        lambda: verify_access_token(jwks, token, issuer=ISSUER, audience=AUDIENCE, now=NOW),
    )
    assert PublicKeySet.from_jwks(jwks).kids == ()


# ---- ID tokens ----------------------------------------------------------------------------------


def id_claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "account-1", "iat": T - 10, "exp": T + 590}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not ...}


def verify_id(ring: KeyRing, token: str, nonce: str | None = None) -> object:
    return verify_id_token(ring, token, issuer=ISSUER, audience=CLIENT, now=NOW, nonce=nonce)


def test_id_token_alg_none_is_refused(ring: KeyRing, key: SigningKey):
    token = forge({"alg": "none", "kid": key.kid, "typ": "JWT"}, id_claims(), None)
    refused(Reason.ALGORITHM, lambda: verify_id(ring, token))


def test_id_token_for_another_client_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key, typ="JWT"), id_claims(aud="other-client"), ours)
    refused(Reason.AUDIENCE, lambda: verify_id(ring, token))


def test_id_token_with_a_wrong_nonce_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key, typ="JWT"), id_claims(nonce="n-attacker"), ours)
    refused(Reason.NONCE, lambda: verify_id(ring, token, nonce="n-expected"))


def test_id_token_without_the_expected_nonce_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    token = forge(header(key, typ="JWT"), id_claims(), ours)
    refused(Reason.NONCE, lambda: verify_id(ring, token, nonce="n-expected"))


def test_id_token_with_several_audiences_and_no_azp_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    token = forge(header(key, typ="JWT"), id_claims(aud=[CLIENT, "other-client"]), ours)
    refused(Reason.AUTHORIZED_PARTY, lambda: verify_id(ring, token))


def test_id_token_authorized_for_another_party_is_refused(
    ring: KeyRing, key: SigningKey, ours: Signer
):
    token = forge(header(key, typ="JWT"), id_claims(azp="other-client"), ours)
    refused(Reason.AUTHORIZED_PARTY, lambda: verify_id(ring, token))


def test_expired_id_token_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key, typ="JWT"), id_claims(iat=T - 7200, exp=T - 3600), ours)
    refused(Reason.EXPIRED, lambda: verify_id(ring, token))


def test_id_token_with_jku_header_is_refused(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(
        {**header(key, typ="JWT"), "jku": "https://attacker.example/k"}, id_claims(), ours
    )
    refused(Reason.FORBIDDEN_HEADER, lambda: verify_id(ring, token))


# ---- what the caller may see ---------------------------------------------------------------------


def test_refusal_reveals_nothing_of_the_token(ring: KeyRing, key: SigningKey, ours: Signer):
    token = forge(header(key), access_claims(iss="https://evil.example", sub="secret-sub"), ours)
    error = refused(Reason.ISSUER, lambda: verify(ring, token))
    shown = f"{error} {error!r} {error.args} {error.params}"
    assert "secret-sub" not in shown
    assert "evil" not in shown
    assert token.split(".")[2] not in shown
    assert str(error) == "token.invalid"
