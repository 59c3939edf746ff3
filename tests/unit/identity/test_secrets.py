"""Opaque link and refresh tokens: entropy, hashing, shape checks and comparison."""

from __future__ import annotations

import base64
import hashlib
import string

import pytest

from identity.domain import secrets as token_secrets
from identity.domain.secrets import (
    REFRESH_TOKEN_PREFIX,
    constant_time_equal,
    hash_token,
    is_well_formed_link_token,
    is_well_formed_refresh_token,
    new_link_token,
    new_refresh_token,
)

URL_SAFE = set(string.ascii_letters + string.digits + "-_")


def raw_bytes(body: str) -> bytes:
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def test_link_token_is_256_url_safe_random_bits():
    token, token_hash = new_link_token()
    assert len(token) == 43
    assert set(token) <= URL_SAFE
    assert len(raw_bytes(token)) == 32
    assert token_hash == hashlib.sha256(token.encode()).digest()
    assert is_well_formed_link_token(token)
    assert not is_well_formed_refresh_token(token)


def test_refresh_token_is_prefixed_and_as_strong():
    token, token_hash = new_refresh_token()
    assert token.startswith(REFRESH_TOKEN_PREFIX)
    assert REFRESH_TOKEN_PREFIX == "krt_"
    body = token.removeprefix(REFRESH_TOKEN_PREFIX)
    assert len(body) == 43
    assert set(body) <= URL_SAFE
    assert len(raw_bytes(body)) == 32
    # The whole string is hashed: a link token's hash can never equal a refresh token's.
    assert token_hash == hashlib.sha256(token.encode()).digest()
    assert is_well_formed_refresh_token(token)
    assert not is_well_formed_link_token(token)
    assert hash_token(body) != token_hash


def test_tokens_come_from_the_csprng(monkeypatch: pytest.MonkeyPatch):
    calls: list[int] = []
    original = token_secrets.secrets.token_urlsafe

    def spy(nbytes: int) -> str:
        calls.append(nbytes)
        return original(nbytes)

    monkeypatch.setattr(token_secrets.secrets, "token_urlsafe", spy)
    new_link_token()
    new_refresh_token()
    assert calls == [32, 32]


@pytest.mark.parametrize("make", [new_link_token, new_refresh_token])
def test_many_tokens_are_all_different(make):
    made = [make() for _ in range(2000)]
    assert len({m.token for m in made}) == len(made)
    assert len({m.token_hash for m in made}) == len(made)


@pytest.mark.parametrize("make", [new_link_token, new_refresh_token])
def test_token_bits_look_uniform(make):
    # 2000 tokens x 256 bits: the share of ones is 0.5 +- 0.0007 (one sigma); 0.48..0.52 is a
    # bound no real CSPRNG misses, while a constant or a counter would.
    data = [raw_bytes(make().token.removeprefix(REFRESH_TOKEN_PREFIX)) for _ in range(2000)]
    ones = sum(bin(byte).count("1") for token in data for byte in token)
    assert 0.48 < ones / (2000 * 256) < 0.52
    for position in range(32):
        assert len({token[position] for token in data}) > 200


def test_hash_is_sha256_and_stable():
    assert hash_token("abc") == bytes.fromhex(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    token, stored = new_link_token()
    assert hash_token(token) == stored
    assert hash_token(token) == hash_token(str(token))
    assert len(stored) == 32


def test_different_tokens_hash_differently():
    first, second = new_link_token(), new_link_token()
    assert hash_token(first.token) != hash_token(second.token)
    # One changed character is a different hash.
    flipped = first.token[:-2] + ("A" if first.token[-2] != "A" else "B") + first.token[-1]
    assert hash_token(flipped) != first.token_hash


def test_new_secret_repr_hides_the_token():
    made = new_link_token()
    assert made.token not in repr(made)
    assert made.token not in str(made)
    assert "redacted" in repr(made)


# A fixed, well-formed token, so that test ids are the same in every worker.
GOOD_BODY = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
GOOD_REFRESH = REFRESH_TOKEN_PREFIX + GOOD_BODY


def test_the_fixed_samples_are_well_formed():
    assert is_well_formed_link_token(GOOD_BODY)
    assert is_well_formed_refresh_token(GOOD_REFRESH)
    assert GOOD_BODY[-1] != "B"


MALFORMED_LINK_TOKENS = {
    "empty": "",
    "one short": GOOD_BODY[:-1],
    "one long": GOOD_BODY + "A",
    "padding": GOOD_BODY[:-1] + "=",
    "plus": GOOD_BODY[:-2] + "+A",
    "slash": GOOD_BODY[:-2] + "/A",
    "space inside": GOOD_BODY[:20] + " " + GOOD_BODY[21:],
    "trailing newline": GOOD_BODY + "\n",
    "leading space": " " + GOOD_BODY[1:],
    "cyrillic a": GOOD_BODY[:-2] + "аA",
    "non-canonical end": GOOD_BODY[:-1] + "B",  # "B" sets bits a 32-byte value leaves zero
    "refresh token": GOOD_REFRESH,
    "bytes": GOOD_BODY.encode(),
    "none": None,
    "int": 42,
    "list": [GOOD_BODY],
    "a megabyte": "x" * 1_000_000,
}


@pytest.mark.parametrize("value", MALFORMED_LINK_TOKENS.values(), ids=MALFORMED_LINK_TOKENS.keys())
def test_malformed_link_tokens_are_refused_before_the_store(value: object):
    assert not is_well_formed_link_token(value)


MALFORMED_REFRESH_TOKENS = {
    "no prefix": GOOD_BODY,
    "upper-case prefix": "KRT_" + GOOD_BODY,
    "prefix without underscore": "krt" + GOOD_BODY,
    "dash prefix": "krt-" + GOOD_BODY,
    "double underscore": "krt__" + GOOD_BODY,
    "one short": GOOD_REFRESH[:-1],
    "one long": GOOD_REFRESH + "A",
    "trailing newline": GOOD_REFRESH + "\n",
    "non-canonical end": GOOD_REFRESH[:-1] + "B",
    "bytes": GOOD_REFRESH.encode(),
    "none": None,
    "prefix only": REFRESH_TOKEN_PREFIX,
}


@pytest.mark.parametrize(
    "value", MALFORMED_REFRESH_TOKENS.values(), ids=MALFORMED_REFRESH_TOKENS.keys()
)
def test_malformed_refresh_tokens_are_refused_before_the_store(value: object):
    assert not is_well_formed_refresh_token(value)


def test_last_character_alphabet_matches_canonical_encodings():
    # Every 32-byte value ends its base64url in one of 16 letters; the check accepts all of them.
    endings = {
        base64.urlsafe_b64encode(bytes(31) + bytes([last])).rstrip(b"=").decode()[-1]
        for last in range(256)
    }
    assert endings == set("AEIMQUYcgkosw048")
    for last in range(256):
        token = base64.urlsafe_b64encode(bytes(31) + bytes([last])).rstrip(b"=").decode()
        assert is_well_formed_link_token(token)
        assert is_well_formed_refresh_token(REFRESH_TOKEN_PREFIX + token)


def test_constant_time_equal():
    token, token_hash = new_link_token()
    assert constant_time_equal(token, token)
    assert constant_time_equal(token, token.encode())
    assert constant_time_equal(token_hash, hash_token(token))
    assert not constant_time_equal(token, token[:-1])
    assert not constant_time_equal(token, new_link_token().token)
    assert not constant_time_equal(token_hash, b"")
    assert constant_time_equal("пароль", "пароль".encode())
