"""The memory of verified tokens never outlives the token's time or its key."""

from datetime import UTC, datetime, timedelta

from kabinet.auth.keys import KeyRing, generate_signing_key
from kabinet.auth.tokens import issue_access_token, verify_access_token
from kabinet.auth.verified import VerifiedTokens

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def token_and_claims(ring: KeyRing, now: datetime = T0):
    token = issue_access_token(
        ring, issuer="https://i", audience="a", subject="s", session_id="sid", now=now
    )
    return token, verify_access_token(ring, token, issuer="https://i", audience="a", now=now)


def test_a_remembered_token_is_given_back_while_it_holds() -> None:
    ring = KeyRing([generate_signing_key(T0)])
    token, claims = token_and_claims(ring)
    memory = VerifiedTokens()
    assert memory.get(token, ring, T0) is None
    memory.remember(token, claims)
    assert memory.get(token, ring, T0 + timedelta(minutes=9)) == claims


def test_an_expired_token_is_forgotten() -> None:
    ring = KeyRing([generate_signing_key(T0)])
    token, claims = token_and_claims(ring)
    memory = VerifiedTokens()
    memory.remember(token, claims)
    assert memory.get(token, ring, T0 + timedelta(minutes=11)) is None
    assert len(memory) == 0


def test_a_token_whose_key_left_the_ring_is_forgotten() -> None:
    key = generate_signing_key(T0)
    ring = KeyRing([key])
    token, claims = token_and_claims(ring)
    memory = VerifiedTokens()
    memory.remember(token, claims)
    other = KeyRing([generate_signing_key(T0)])
    assert memory.get(token, other, T0) is None


def test_the_memory_is_bounded() -> None:
    ring = KeyRing([generate_signing_key(T0)])
    memory = VerifiedTokens(size=3)
    tokens = [token_and_claims(ring) for _ in range(5)]
    for token, claims in tokens:
        memory.remember(token, claims)
    assert len(memory) == 3
    assert memory.get(tokens[0][0], ring, T0) is None
    assert memory.get(tokens[-1][0], ring, T0) == tokens[-1][1]
