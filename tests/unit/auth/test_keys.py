"""Signing keys: generation, JWKS content, rotation with overlap, retirement and persistence."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from joserfc.jwk import ECKey, RSAKey

from kabinet.auth.keys import (
    DEFAULT_LEEWAY,
    KeyRing,
    NoActiveSigningKey,
    PublicKeySet,
    SigningKey,
    export_private,
    from_record,
    generate_signing_key,
    import_private,
    to_record,
)
from kabinet.auth.tokens import (
    InvalidToken,
    Reason,
    issue_access_token,
    verify_access_token,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://id.kabinet.example"
AUDIENCE = "kabinet"
MAX_TTL = timedelta(hours=1)
OVERLAP = timedelta(hours=2)
PUBLIC_MEMBERS = {"kty", "crv", "x", "y", "kid", "alg", "use"}


def issue(ring: KeyRing, now: datetime) -> str:
    return issue_access_token(
        ring, issuer=ISSUER, audience=AUDIENCE, subject="a", session_id="s", now=now
    )


def verify(keys: object, token: str, now: datetime) -> str:
    claims = verify_access_token(keys, token, issuer=ISSUER, audience=AUDIENCE, now=now)  # type: ignore[arg-type]
    return claims.key_id


# ---- one key ------------------------------------------------------------------------------------


def test_generated_key_is_es256_on_p256_with_its_rfc7638_thumbprint_as_kid():
    key = generate_signing_key(T0)
    jwk = key.public_jwk
    assert key.algorithm == "ES256"
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":")
    )
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    assert key.kid == thumbprint.decode()
    assert key.private_key.is_private
    assert key.created_at == key.active_from == T0
    assert key.retire_after is None


def test_two_generated_keys_differ():
    first, second = generate_signing_key(T0), generate_signing_key(T0)
    assert first.kid != second.kid
    assert first.public_jwk["x"] != second.public_jwk["x"]


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone"):
        generate_signing_key(T0.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone"):
        generate_signing_key(T0, active_from=T0.replace(tzinfo=None))


def test_key_repr_shows_no_private_material():
    key = generate_signing_key(T0)
    d = export_private(key)["d"]
    assert d not in repr(key)
    assert d not in str(key)
    assert key.kid in repr(key)


def test_a_key_with_a_public_part_only_cannot_sign():
    key = generate_signing_key(T0)
    with pytest.raises(ValueError, match="private"):
        SigningKey(
            kid=key.kid,
            algorithm="ES256",
            private_key=key.public.key,
            created_at=T0,
            active_from=T0,
        )


def test_a_key_whose_curve_does_not_match_its_algorithm_is_refused():
    p384 = ECKey.generate_key("P-384")
    with pytest.raises(ValueError, match="curve"):
        SigningKey(
            kid=p384.thumbprint(),
            algorithm="ES256",
            private_key=p384,
            created_at=T0,
            active_from=T0,
        )


# ---- JWKS ---------------------------------------------------------------------------------------


def test_jwks_holds_only_public_members():
    ring = KeyRing([generate_signing_key(T0), generate_signing_key(T0 + timedelta(days=1))])
    jwks = ring.public_jwks(T0 + timedelta(days=1))
    assert set(jwks) == {"keys"}
    assert len(jwks["keys"]) == 2
    for jwk in jwks["keys"]:
        assert set(jwk) == PUBLIC_MEMBERS
        assert "d" not in jwk
        assert jwk["use"] == "sig"
        assert jwk["alg"] == "ES256"


def test_jwks_text_contains_no_private_value():
    key = generate_signing_key(T0)
    text = json.dumps(KeyRing([key]).public_jwks(T0))
    assert export_private(key)["d"] not in text
    assert '"d"' not in text


def test_jwks_round_trips_into_a_public_key_set_that_verifies():
    ring = KeyRing([generate_signing_key(T0)])
    keys = PublicKeySet.from_jwks(json.loads(json.dumps(ring.public_jwks(T0))))
    assert keys.kids == (ring.current(T0).kid,)
    assert verify(keys, issue(ring, T0), T0) == ring.current(T0).kid


def test_verification_keys_are_public_only():
    ring = KeyRing([generate_signing_key(T0)])
    public = ring.verification_key(ring.current(T0).kid, T0)
    assert public is not None
    assert not public.key.is_private


# ---- rotation -----------------------------------------------------------------------------------


@pytest.fixture
def rotation() -> tuple[SigningKey, SigningKey, datetime, datetime]:
    """Key A signs from T0; at T1 key B is created, to sign from T1 + OVERLAP."""
    a = generate_signing_key(T0)
    t1 = T0 + timedelta(days=30)
    b = generate_signing_key(t1, active_from=t1 + OVERLAP)
    return a, b, t1, t1 + OVERLAP


def test_new_key_is_published_before_it_signs(
    rotation: tuple[SigningKey, SigningKey, datetime, datetime],
):
    a, b, t1, switch = rotation
    ring = KeyRing([a, b], max_token_ttl=MAX_TTL)
    for moment in (t1, switch - timedelta(seconds=1)):
        assert ring.current(moment) == a
        assert decode_kid(issue(ring, moment)) == a.kid
        assert [k["kid"] for k in ring.public_jwks(moment)["keys"]] == [b.kid, a.kid]
    assert ring.current(switch) == b
    assert decode_kid(issue(ring, switch)) == b.kid


def test_token_of_the_previous_key_verifies_through_the_overlap(
    rotation: tuple[SigningKey, SigningKey, datetime, datetime],
):
    a, b, _, switch = rotation
    ring = KeyRing([a, b], max_token_ttl=MAX_TTL)
    last_of_a = issue(ring, switch - timedelta(seconds=1))
    assert decode_kid(last_of_a) == a.kid
    later = switch + timedelta(minutes=9)
    assert verify(ring, last_of_a, later) == a.kid
    # ... also for a verifier that only has the JWKS published at that moment.
    assert verify(ring.public_jwks(later), last_of_a, later) == a.kid


def test_retired_key_leaves_the_jwks_only_after_the_max_token_ttl(
    rotation: tuple[SigningKey, SigningKey, datetime, datetime],
):
    a, b, _, switch = rotation
    ring = KeyRing([a, b], max_token_ttl=MAX_TTL, leeway=DEFAULT_LEEWAY)
    gone = switch + MAX_TTL + DEFAULT_LEEWAY
    assert ring.signing_until(a) == switch
    assert ring.published_until(a) == gone
    assert ring.published_until(b) is None
    just_before = gone - timedelta(seconds=1)
    assert a.kid in kids(ring, just_before)
    assert ring.verification_key(a.kid, just_before) is not None
    assert kids(ring, gone) == [b.kid]
    assert ring.verification_key(a.kid, gone) is None
    assert ring.removable(gone) == (a,)
    assert ring.removable(just_before) == ()


def test_a_token_signed_by_the_retired_key_is_refused_once_the_key_is_gone(
    rotation: tuple[SigningKey, SigningKey, datetime, datetime],
):
    a, b, _, switch = rotation
    ring = KeyRing([a, b], max_token_ttl=MAX_TTL)
    token = issue(ring, switch - timedelta(seconds=1))
    with pytest.raises(InvalidToken) as caught:
        verify(ring, token, switch + MAX_TTL + DEFAULT_LEEWAY)
    # It has long expired by then too, but the key is what goes first in the checks.
    assert caught.value.reason is Reason.KID_UNKNOWN


def test_explicit_retirement_stops_signing_and_keeps_publishing_for_the_ttl():
    key = generate_signing_key(T0)
    retired = SigningKey(
        kid=key.kid,
        algorithm=key.algorithm,
        private_key=key.private_key,
        created_at=key.created_at,
        active_from=key.active_from,
        retire_after=T0 + timedelta(days=1),
    )
    ring = KeyRing([retired], max_token_ttl=MAX_TTL)
    assert ring.current(T0 + timedelta(hours=23)) == retired
    with pytest.raises(NoActiveSigningKey):
        ring.current(T0 + timedelta(days=1))
    assert kids(ring, T0 + timedelta(days=1) + MAX_TTL) == [key.kid]
    assert kids(ring, T0 + timedelta(days=1) + MAX_TTL + DEFAULT_LEEWAY) == []


def test_key_is_not_used_before_its_activation():
    pending = generate_signing_key(T0, active_from=T0 + OVERLAP)
    ring = KeyRing([pending])
    with pytest.raises(NoActiveSigningKey):
        ring.current(T0)
    assert kids(ring, T0) == [pending.kid]


def test_empty_ring_has_no_current_key_and_an_empty_jwks():
    ring = KeyRing([])
    with pytest.raises(NoActiveSigningKey):
        ring.current(T0)
    assert ring.public_jwks(T0) == {"keys": []}


def test_three_generations_keep_only_what_is_needed():
    a = generate_signing_key(T0)
    b = generate_signing_key(T0 + timedelta(days=30), active_from=T0 + timedelta(days=30) + OVERLAP)
    c = generate_signing_key(T0 + timedelta(days=60), active_from=T0 + timedelta(days=60) + OVERLAP)
    ring = KeyRing([c, a, b], max_token_ttl=MAX_TTL)
    moment = T0 + timedelta(days=60)
    assert ring.current(moment) == b
    assert kids(ring, moment) == [c.kid, b.kid]
    assert ring.removable(moment) == (a,)


def test_rotation_due_only_when_the_current_key_is_old_and_nothing_waits():
    rotate_every = timedelta(days=30)

    def due(ring: KeyRing, moment: datetime) -> bool:
        return ring.rotation_due(moment, rotate_every=rotate_every, publish_ahead=OVERLAP)

    a = generate_signing_key(T0)
    ring = KeyRing([a])
    # The next key is made OVERLAP ahead of its turn, so that it takes over after rotate_every.
    due_at = T0 + rotate_every - OVERLAP
    assert not due(ring, T0 + timedelta(days=20))
    assert not due(ring, due_at - timedelta(seconds=1))
    assert due(ring, due_at)
    b = generate_signing_key(due_at, active_from=due_at + OVERLAP)
    rotated = KeyRing([a, b])
    assert not due(rotated, due_at)
    assert not due(rotated, due_at + OVERLAP - timedelta(seconds=1))
    assert rotated.current(due_at + OVERLAP) == b
    assert not due(rotated, due_at + OVERLAP)


def test_rotation_is_due_on_an_empty_ring():
    assert KeyRing([]).rotation_due(T0, rotate_every=timedelta(days=30), publish_ahead=OVERLAP)


def test_two_keys_with_one_kid_are_refused():
    key = generate_signing_key(T0)
    with pytest.raises(ValueError, match="kid"):
        KeyRing([key, key])


@pytest.mark.parametrize("kid", ["../x", "a" * 65, "", "x y", "' OR 1=1"])
def test_malformed_kid_finds_no_key(kid: str):
    ring = KeyRing([generate_signing_key(T0)])
    assert ring.verification_key(kid, T0) is None
    assert PublicKeySet.from_jwks(ring.public_jwks(T0)).verification_key(kid, T0) is None


# ---- persistence --------------------------------------------------------------------------------


def test_record_round_trips_through_json():
    key = generate_signing_key(T0, active_from=T0 + OVERLAP)
    record = json.loads(json.dumps(to_record(key)))
    restored = from_record(record)
    assert restored == key
    assert restored.public_jwk == key.public_jwk
    assert restored.active_from == T0 + OVERLAP
    # Same private key: what one signs, the other's public half verifies.
    assert verify(KeyRing([key]), issue(KeyRing([restored]), T0 + OVERLAP), T0 + OVERLAP) == key.kid


def test_record_with_the_kid_of_another_key_is_refused():
    record = to_record(generate_signing_key(T0))
    record["kid"] = generate_signing_key(T0).kid
    with pytest.raises(ValueError, match="kid"):
        from_record(record)


def test_private_part_that_does_not_match_the_public_point_is_refused():
    exported = export_private(generate_signing_key(T0))
    exported["d"] = export_private(generate_signing_key(T0))["d"]
    with pytest.raises(ValueError, match="invalid"):
        import_private(exported)


@pytest.mark.parametrize("missing", ["d", "x", "y", "crv", "kty"])
def test_incomplete_private_key_is_refused(missing: str):
    exported = export_private(generate_signing_key(T0))
    del exported[missing]
    with pytest.raises(ValueError, match="EC key"):
        import_private(exported)


def test_private_key_of_another_type_is_refused():
    rsa = RSAKey.generate_key(2048).as_dict(private=True)
    with pytest.raises(ValueError, match="P-256"):
        import_private(rsa)


def test_export_private_is_the_only_place_with_d():
    key = generate_signing_key(T0)
    exported = export_private(key)
    assert set(exported) == {"kty", "crv", "x", "y", "d"}
    assert "d" not in key.public_jwk
    assert to_record(key)["private_jwk"] == exported


# ---- reading someone's JWKS ---------------------------------------------------------------------


def test_public_key_set_skips_what_it_cannot_use():
    good = generate_signing_key(T0)
    other = generate_signing_key(T0)
    off_curve = {**generate_signing_key(T0).public_jwk, "y": good.public_jwk["x"]}
    jwks = {
        "keys": [
            RSAKey.generate_key(2048).as_dict(private=False, kid="rsa-key", alg="RS256"),
            {**ECKey.generate_key("P-384").as_dict(), "kid": "p384", "alg": "ES384"},
            {**other.public_jwk, "use": "enc"},
            {**other.public_jwk, "alg": "HS256"},
            {**other.public_jwk, "kid": "../../etc"},
            off_curve,
            "not a key",
            {**good.public_jwk, "d": export_private(good)["d"]},
        ]
    }
    keys = PublicKeySet.from_jwks(jwks)
    assert keys.kids == (good.kid,)
    found = keys.verification_key(good.kid, T0)
    assert found is not None
    assert not found.key.is_private


@pytest.mark.parametrize("document", [{}, {"keys": "x"}, {"keys": {"a": 1}}, []])
def test_public_key_set_needs_a_keys_list(document: object):
    with pytest.raises(ValueError, match="keys"):
        PublicKeySet.from_jwks(document)  # type: ignore[arg-type]


def kids(ring: KeyRing, now: datetime) -> list[str]:
    return [k["kid"] for k in ring.public_jwks(now)["keys"]]


def decode_kid(token: str) -> str:
    head = token.split(".")[0]
    kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    assert isinstance(kid, str)
    return kid
