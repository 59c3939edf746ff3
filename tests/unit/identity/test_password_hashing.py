"""argon2id hashing: exact verification, parameter upgrades, bounded pool off the event loop."""

from __future__ import annotations

import asyncio
import threading
import unicodedata
from collections.abc import Iterator

import argon2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.domain.password_hashing import Argon2Params, PasswordHasher

# Smallest legal cost, so that the tests are quick; the default parameters are checked apart.
TINY = Argon2Params(memory_kib=8, time_cost=1, parallelism=1)


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    with PasswordHasher(TINY, max_workers=2) as instance:
        yield instance


def test_defaults_are_owasp_argon2id() -> None:
    params = Argon2Params()
    assert (params.memory_kib, params.time_cost, params.parallelism) == (19456, 2, 1)


async def test_default_hash_is_argon2id_with_owasp_parameters() -> None:
    with PasswordHasher(max_workers=1) as hasher:
        encoded = await hasher.hash("Tz7#kQ9m")
        assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert await hasher.verify(encoded, "Tz7#kQ9m")
        assert not hasher.needs_rehash(encoded)


@pytest.mark.parametrize(
    "password",
    [
        "Tz7#kQ9m",
        "Пароль123Qz",
        "密码Tz7#kQ9m",
        "😀🔑Tz7#kQ9m",
        "x" * 4096,
        "",
    ],
    ids=["ascii", "cyrillic", "cjk", "emoji", "4096-chars", "empty"],
)
async def test_round_trip(hasher: PasswordHasher, password: str) -> None:
    encoded = await hasher.hash(password)
    assert await hasher.verify(encoded, password)


async def test_salts_differ(hasher: PasswordHasher) -> None:
    assert await hasher.hash("Tz7#kQ9m") != await hasher.hash("Tz7#kQ9m")


async def test_wrong_password_is_false(hasher: PasswordHasher) -> None:
    encoded = await hasher.hash("Tz7#kQ9m")
    assert not await hasher.verify(encoded, "Tz7#kQ9n")
    assert not await hasher.verify(encoded, "")


@pytest.mark.parametrize("length", [73, 100, 1000, 4096])
async def test_long_passwords_are_not_truncated(hasher: PasswordHasher, length: int) -> None:
    # bcrypt would cut both at 72 bytes and take one for the other.
    first = "A" * (length - 1) + "1"
    second = "A" * (length - 1) + "2"
    encoded = await hasher.hash(first)
    assert await hasher.verify(encoded, first)
    assert not await hasher.verify(encoded, second)


@pytest.mark.parametrize(
    ("stored", "offered"),
    [
        ("Tz7#kQ9m", "tz7#kq9m"),
        ("Tz7#kQ9m", "TZ7#KQ9M"),
        ("ПарольQz7", "парольqz7"),
        ("Straße9Qz", "STRASSE9QZ"),
        ("Straße9Qz", "strasse9qz"),
        ("Tz7#kQ9m", " Tz7#kQ9m"),
        ("Tz7#kQ9m", "Tz7#kQ9m "),
        ("Tz7#kQ9m", "Tz7#kQ9m\n"),
        (" Tz7#kQ9m ", "Tz7#kQ9m"),
        ("Tz7#kQ9m", "Tz7#kQ9"),
    ],
)
async def test_no_case_folding_and_no_stripping(
    hasher: PasswordHasher, stored: str, offered: str
) -> None:
    encoded = await hasher.hash(stored)
    assert not await hasher.verify(encoded, offered)


async def test_canonically_equivalent_text_is_the_same_password(hasher: PasswordHasher) -> None:
    composed = "Caf\u00e9Tz7#"
    decomposed = "Cafe\u0301Tz7#"
    encoded = await hasher.hash(composed)
    assert await hasher.verify(encoded, decomposed)
    # Compatibility forms are not folded: fullwidth letters stay different.
    assert not await hasher.verify(await hasher.hash("Tz7"), "Ｔｚ７")


@pytest.mark.parametrize(
    "bad_hash",
    [
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=8,t=1,p=1$***$***",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$é",
        "$2b$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzABCDE",
    ],
)
async def test_invalid_hash_is_false(hasher: PasswordHasher, bad_hash: str) -> None:
    assert await hasher.verify(bad_hash, "Tz7#kQ9m") is False


async def test_other_argon2_types_are_refused(hasher: PasswordHasher) -> None:
    argon2i = argon2.PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I
    ).hash("Tz7#kQ9m")
    assert await hasher.verify(argon2i, "Tz7#kQ9m") is False


async def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    encoded = await hasher.hash("Tz7#kQ9m")
    assert not hasher.needs_rehash(encoded)
    for changed in (
        Argon2Params(memory_kib=16, time_cost=1),
        Argon2Params(memory_kib=8, time_cost=2),
        Argon2Params(memory_kib=16, time_cost=1, parallelism=2),
        Argon2Params(memory_kib=8, time_cost=1, hash_len=16),
    ):
        with PasswordHasher(changed, max_workers=1) as upgraded:
            assert upgraded.needs_rehash(encoded), changed
            rehashed = await upgraded.hash("Tz7#kQ9m")
            assert not upgraded.needs_rehash(rehashed)
            # An old hash still verifies after the upgrade, so the rehash can happen at sign-in.
            assert await upgraded.verify(encoded, "Tz7#kQ9m")


def test_unreadable_hash_needs_rehash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash("garbage")


async def test_over_long_password_is_refused_before_hashing(hasher: PasswordHasher) -> None:
    with PasswordHasher(TINY, max_workers=1, max_password_length=100) as limited:
        encoded = await limited.hash("x" * 100)
        with pytest.raises(ValueError, match="too long"):
            await limited.hash("x" * 101)
        assert await limited.verify(encoded, "x" * 101) is False
        assert await limited.verify(encoded, "x" * 1024 * 1024) is False


async def test_unencodable_password(hasher: PasswordHasher) -> None:
    encoded = await hasher.hash("Tz7#kQ9m")
    with pytest.raises(ValueError, match="Unicode"):
        await hasher.hash("Tz7#\ud800")
    assert await hasher.verify(encoded, "Tz7#\ud800") is False


async def test_verify_dummy_spends_a_verification(
    hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str, password: bytes) -> bool:
        calls.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    for password in ("Tz7#kQ9m", "", "x" * 10_000, "\ud800"):
        await hasher.verify_dummy(password)
    assert len(calls) == 4
    assert len(set(calls)) == 1  # one fixed dummy hash
    assert calls[0].startswith("$argon2id$v=19$m=8,t=1,p=1$")  # made with the current params


async def test_hashing_runs_in_the_bounded_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    running = 0
    most = 0
    threads: set[str] = set()
    original = argon2.PasswordHasher.hash

    def spy(self: argon2.PasswordHasher, password: bytes, **kwargs: object) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            threads.add(threading.current_thread().name)
        try:
            return original(self, password)
        finally:
            with lock:
                running -= 1

    with PasswordHasher(TINY, max_workers=2) as hasher:
        monkeypatch.setattr(argon2.PasswordHasher, "hash", spy)
        await asyncio.gather(*(hasher.hash(f"password-{n}") for n in range(16)))
    assert 1 <= most <= 2
    assert threading.current_thread().name not in threads
    assert all(name.startswith("argon2") for name in threads)


async def test_each_hasher_owns_its_pool() -> None:
    first = PasswordHasher(TINY, max_workers=1)
    second = PasswordHasher(TINY, max_workers=1)
    encoded = await first.hash("Tz7#kQ9m")
    first.close()
    assert await second.verify(encoded, "Tz7#kQ9m")
    second.close()
    with pytest.raises(RuntimeError):
        await first.hash("Tz7#kQ9m")


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=64), st.text(max_size=64))
def test_verification_is_exact(first: str, second: str) -> None:
    async def check() -> tuple[bool, bool]:
        with PasswordHasher(TINY, max_workers=1) as hasher:
            encoded = await hasher.hash(first)
            return await hasher.verify(encoded, first), await hasher.verify(encoded, second)

    same, other = asyncio.run(check())
    assert same
    assert other == (unicodedata.normalize("NFC", first) == unicodedata.normalize("NFC", second))
