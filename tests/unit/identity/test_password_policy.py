"""The product's password rule and the guessable-password checks, rule by rule."""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
import zxcvbn.matching
from hypothesis import given, settings
from hypothesis import strategies as st

from identity.domain import password_policy
from identity.domain.password_policy import (
    CONTAINS_EMAIL,
    CONTAINS_PRODUCT_NAME,
    HAS_SPACE,
    INVALID_CHARACTER,
    NO_DIGIT,
    NO_LOWER_LATIN,
    NO_UPPER_LATIN,
    PASSWORD_CODES,
    PRODUCT_NAMES,
    TOO_COMMON,
    TOO_LONG,
    TOO_SHORT,
    TOO_WEAK,
    check_password,
)

STRONG_8 = "Tz7#kQ9m"
EMAIL = "ivan.petrov@example.com"
COMPOSITION = {TOO_SHORT, NO_DIGIT, NO_UPPER_LATIN, NO_LOWER_LATIN, HAS_SPACE, INVALID_CHARACTER}


def codes(
    password: str,
    *,
    email: str | None = None,
    context: Sequence[str] = PRODUCT_NAMES,
    min_strength: int = 2,
    max_length: int = 256,
) -> list[str]:
    violations = check_password(
        password,
        email=email,
        context=context,
        min_strength=min_strength,
        max_length=max_length,
    )
    return [violation.code for violation in violations]


def composition_codes(password: str) -> set[str]:
    return set(codes(password)) & COMPOSITION


def strong(length: int, seed: int = 7) -> str:
    """A random-looking password of ``length`` that satisfies the composition rule."""
    chooser = random.Random(seed)
    body = "".join(chooser.choice(string.ascii_letters + string.digits) for _ in range(length - 3))
    return "Q7z" + body


# --- the composition rule, Latin and Cyrillic --------------------------------------------------


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        pytest.param(STRONG_8, set(), id="all-rules-met"),
        pytest.param("Tz7#kQ9", {TOO_SHORT}, id="7-chars"),
        pytest.param("tz7#kq9m", {NO_UPPER_LATIN}, id="no-upper"),
        pytest.param("TZ7#KQ9M", {NO_LOWER_LATIN}, id="no-lower"),
        pytest.param("Tzx#kQym", {NO_DIGIT}, id="no-digit"),
        pytest.param("", {TOO_SHORT, NO_DIGIT, NO_UPPER_LATIN, NO_LOWER_LATIN}, id="empty"),
        pytest.param("Пароль123", {NO_UPPER_LATIN, NO_LOWER_LATIN}, id="cyrillic-only"),
        pytest.param("пароль12AB", {NO_LOWER_LATIN}, id="cyrillic-lower-doesnt-count"),
        pytest.param("ПАРОЛЬ12ab", {NO_UPPER_LATIN}, id="cyrillic-upper-doesnt-count"),
        pytest.param("Жук7Ёж#Щит", {NO_UPPER_LATIN, NO_LOWER_LATIN}, id="cyrillic-mixed-case"),
        pytest.param("Жук7Ёж#Щq", {NO_UPPER_LATIN}, id="cyrillic-plus-lower-latin"),
        # Cyrillic А and а look like Latin A and a but are not.
        pytest.param("\u0410z7#kq9m", {NO_UPPER_LATIN}, id="cyrillic-A-lookalike"),
        pytest.param("TZ7#KQ9\u0430", {NO_LOWER_LATIN}, id="cyrillic-a-lookalike"),
        pytest.param("ÀÉÎ7àéî#", {NO_UPPER_LATIN, NO_LOWER_LATIN}, id="accented-not-a-z"),
        pytest.param(
            "Ｔｚ７＃ｋＱ９ｍ", {NO_DIGIT, NO_UPPER_LATIN, NO_LOWER_LATIN}, id="fullwidth-not-ascii"
        ),
        pytest.param("Tz٧#kQ٩m", {NO_DIGIT}, id="arabic-indic-digits-dont-count"),
        pytest.param("Tz7 kQ9m", {HAS_SPACE}, id="space"),
        pytest.param("Tz7\x00kQ9m", {INVALID_CHARACTER}, id="nul"),
        pytest.param("Tz7\x7fkQ9m", {INVALID_CHARACTER}, id="del"),
        pytest.param("Tz7#kQ9m\ud800", {INVALID_CHARACTER}, id="lone-surrogate"),
        pytest.param("TZ 7", {TOO_SHORT, HAS_SPACE, NO_LOWER_LATIN}, id="several-at-once"),
    ],
)
def test_composition_rule(password: str, expected: set[str]) -> None:
    assert composition_codes(password) == expected


def test_exactly_8_characters_accepted_and_7_refused() -> None:
    assert check_password("Tz7#kQ9m", email=None) == []
    assert codes("Tz7#kQ9", email=None) == [TOO_SHORT]


def test_too_short_carries_the_minimum() -> None:
    (violation,) = check_password("Tz7#kQ9", email=None)
    assert violation.field == "password"
    assert violation.params == {"min": "8"}


@pytest.mark.parametrize(
    "space",
    [
        " ",
        "\t",
        "\n",
        "\r",
        "\v",
        "\f",
        "\x85",
        "\xa0",
        "\u1680",
        "\u2000",
        "\u2003",
        "\u2007",
        "\u2009",
        "\u200a",
        "\u2028",
        "\u2029",
        "\u202f",
        "\u205f",
        "\u3000",
        "\u200b",
        "\u2060",
        "\ufeff",
        "\u180e",
    ],
    ids=lambda space: f"U+{ord(space):04X}",
)
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_every_kind_of_whitespace_is_refused(space: str, where: str) -> None:
    password = {
        "start": space + STRONG_8,
        "middle": STRONG_8[:4] + space + STRONG_8[4:],
        "end": STRONG_8 + space,
    }[where]
    assert composition_codes(password) == {HAS_SPACE}


def test_length_counts_code_points_after_nfc() -> None:
    # "é" typed as "e" + combining acute is one character, as its composed form is.
    decomposed = "Tz7#k" + "e\u0301" + "Q"
    assert len(decomposed) == 8
    assert TOO_SHORT in codes(decomposed)
    astral = "Tz7#kQ9" + "😀"  # one code point, two UTF-16 units
    assert TOO_SHORT not in codes(astral)


# --- length limit ------------------------------------------------------------------------------


def test_max_length_is_inclusive() -> None:
    assert TOO_LONG not in codes(strong(256))
    assert codes(strong(257)) == [TOO_LONG]
    assert codes(strong(21), max_length=20) == [TOO_LONG]


def test_too_long_carries_the_maximum() -> None:
    assert check_password(strong(300), email=None)[0].params == {"max": "256"}


def test_decomposed_text_is_measured_after_composition() -> None:
    password = "Q7z" + "e\u0301" * 200  # 403 code points as sent, 203 after NFC
    assert TOO_LONG not in codes(password)


def test_one_megabyte_password_gets_only_too_long_without_expensive_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("an expensive check ran on an over-long password")

    monkeypatch.setattr(zxcvbn.matching, "omnimatch", forbidden)
    monkeypatch.setattr(password_policy, "strength_score", forbidden)
    monkeypatch.setattr(password_policy, "common_passwords", forbidden)
    monkeypatch.setattr(password_policy, "unicodedata", SimpleNamespace(normalize=forbidden))

    huge = ("Aa1 " * 262_144)[: 1024 * 1024]
    assert [(v.code, v.params) for v in check_password(huge, email=EMAIL)] == [
        (TOO_LONG, {"max": "256"})
    ]


def test_moderately_long_password_gets_only_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("zxcvbn ran on an over-long password")

    monkeypatch.setattr(zxcvbn.matching, "omnimatch", forbidden)
    assert codes("password " * 40, email=EMAIL) == [TOO_LONG]


def test_long_passwords_are_estimated_in_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = zxcvbn.matching.omnimatch

    def spy(password: str, *args: object, **kwargs: object) -> object:
        seen.append(len(password))
        return original(password, *args, **kwargs)

    monkeypatch.setattr(zxcvbn.matching, "omnimatch", spy)
    assert check_password(strong(256), email=EMAIL) == []
    assert seen
    assert max(seen) <= 64


# --- common passwords --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Password1",
        "Qwerty123",
        "Qwerty123!",
        "Gfhjkm123",
        "Gfhjkm2024",
        "Йцукен123Q",
        "Пароль2024Q",
        "P@ssw0rd!",
        "P@$$w0rd2024",
        "1q2w3e4r5T",
        "Zaq12wsx!",
        "1Qaz2wsx",
        "Cjkysirj15!",
        "Vfrcbv2000",
        "Ybrbnf123",
        "K.,jdm2024Q",
        "Asdfgh123!",
        "Qwertyuiop1",
        "Iloveyou2!",
        "Dragon01011990",
        "!!Password2024!!",
        "1Password",
        "QwertyQwerty1",
        "Зфыыцщкв1Q",  # "password" typed with the Russian layout on
        "\u0420\u0430ssword1",  # Cyrillic Р and а imitating Latin letters
        "Parol2024!",
        "Lyubov123",
        "Nikita2010",
        "Football7",
    ],
)
def test_common_passwords_are_refused(password: str) -> None:
    assert TOO_COMMON in codes(password)


@pytest.mark.parametrize(
    "password",
    [STRONG_8, "correct-horse-Battery-staple9", "X#1!blue9?Z", "Vixen-Orbit-42x", strong(40)],
)
def test_uncommon_passwords_are_not_refused_as_common(password: str) -> None:
    assert TOO_COMMON not in codes(password)


def test_acceptance_examples_are_refused() -> None:
    for password in ("Password1", "Qwerty123", "Йцукен123Q", "Gfhjkm123"):
        assert TOO_COMMON in codes(password), password
    for password in ("Kabinet2024", "Kabinet123!", "Кабинет2024Q"):
        assert TOO_COMMON in codes(password), password
        assert CONTAINS_PRODUCT_NAME in codes(password), password


# --- email and product name --------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "Ivan.Petrov1",
        "IvanPetrov#77",
        "Xq7!PETROV",
        "Zz1!iv4n.petr0v",
        "ivan.petrov@example.comQ1",
    ],
)
def test_email_derived_passwords_are_refused(password: str) -> None:
    assert CONTAINS_EMAIL in codes(password, email=EMAIL)


def test_email_check_needs_an_email() -> None:
    assert CONTAINS_EMAIL not in codes("Ivan.Petrov1", email=None)
    assert CONTAINS_EMAIL not in codes("Ivan.Petrov1", email="")
    assert CONTAINS_EMAIL not in codes("Ivan.Petrov1", email="olga@example.com")


def test_email_parts_too_short_to_matter_are_ignored() -> None:
    assert CONTAINS_EMAIL not in codes("Tz7#kQ9m-ab", email="ab@example.com")


def test_email_makes_zxcvbn_count_the_email_as_known() -> None:
    password = "Vkhtsrmb9!"
    assert TOO_WEAK not in codes(password, email=None, min_strength=3)
    assert TOO_WEAK in codes(password, email="vkhtsrmb@example.com", min_strength=3)


@pytest.mark.parametrize(
    "password",
    [
        "Kabinet2024",
        "Kabinet123!",
        "K@b1n3t2024",
        "MyKabinetIsGreat7!",
        "Кабинет2024Qq",
        "Rf,bytn2024Q",  # "кабинет" typed with the Latin layout on
    ],
)
def test_product_name_passwords_are_refused(password: str) -> None:
    assert CONTAINS_PRODUCT_NAME in codes(password)


def test_product_names_come_from_the_context() -> None:
    assert CONTAINS_PRODUCT_NAME in codes("Acme2024!xQ", context=("acme",))
    assert CONTAINS_PRODUCT_NAME not in codes("Kabinet2024", context=("acme",))


# --- strength ----------------------------------------------------------------------------------


def test_strong_passphrases_are_accepted() -> None:
    for password in ("correct-horse-Battery-staple9", "Vixen-Orbit-42x", "Зелёный-Слон-7-Qz"):
        assert check_password(password, email=EMAIL) == [], password


def test_min_strength_is_the_callers() -> None:
    # zxcvbn estimates 8 random characters at 10^8 guesses: score 2, never 3.
    assert codes(STRONG_8, min_strength=2) == []
    assert codes(STRONG_8, min_strength=3) == [TOO_WEAK]
    assert codes(STRONG_8 + "x", min_strength=3) == []
    weak = check_password("Xkcdxkcd1", email=None, min_strength=4)
    assert weak[-1].code == TOO_WEAK
    assert weak[-1].params == {"score": weak[-1].params["score"], "min_score": "4"}


@pytest.mark.parametrize("password", ["Aaaaaaaa1", "Abcdefgh1", "Hello1Hello1", "Elephant1"])
def test_predictable_passwords_are_too_weak(password: str) -> None:
    assert TOO_WEAK in codes(password)


def test_strength_catches_what_the_list_does_not() -> None:
    # Names and words zxcvbn knows, joined: on no list, and still guessable.
    assert codes("Jenniferlopez1", min_strength=3) == [TOO_WEAK]


def test_zxcvbn_shared_state_is_not_touched() -> None:
    before = zxcvbn.matching.RANKED_DICTIONARIES.get("user_inputs")
    check_password("Ivan.Petrov1", email=EMAIL)
    assert zxcvbn.matching.RANKED_DICTIONARIES.get("user_inputs") is before


def test_violations_come_in_the_documented_order() -> None:
    result = codes("Пароль", email=None)
    assert result == sorted(result, key=PASSWORD_CODES.index)
    assert result[:3] == [TOO_SHORT, NO_DIGIT, NO_UPPER_LATIN]


# --- properties --------------------------------------------------------------------------------


def reference_composition(password: str) -> set[str]:
    """The product's rule written as plainly as possible, to compare against."""
    text = unicodedata.normalize("NFC", password)
    broken = set()
    if len(text) < 8:
        broken.add(TOO_SHORT)
    if not set(text) & set(string.digits):
        broken.add(NO_DIGIT)
    if not set(text) & set(string.ascii_uppercase):
        broken.add(NO_UPPER_LATIN)
    if not set(text) & set(string.ascii_lowercase):
        broken.add(NO_LOWER_LATIN)
    if any(char.isspace() or char in "\u180e\u200b\u2060\ufeff" for char in text):
        broken.add(HAS_SPACE)
    if any(unicodedata.category(c) in ("Cc", "Cs") and not c.isspace() for c in text):
        broken.add(INVALID_CHARACTER)
    return broken


passwords = st.text(
    alphabet=st.one_of(
        st.sampled_from(string.ascii_letters + string.digits + "!#$%&*-_.@ \t\xa0"),
        st.characters(min_codepoint=0x0400, max_codepoint=0x04FF),
        st.characters(),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(passwords)
def test_composition_matches_the_plain_rule(password: str) -> None:
    assert composition_codes(password) == reference_composition(password)


@settings(max_examples=300, deadline=None)
@given(passwords)
def test_an_accepted_password_satisfies_the_product_rule(password: str) -> None:
    if check_password(password, email=None, min_strength=0) == []:
        text = unicodedata.normalize("NFC", password)
        assert len(text) >= 8
        assert any(c in string.digits for c in text)
        assert any(c in string.ascii_uppercase for c in text)
        assert any(c in string.ascii_lowercase for c in text)
        assert not any(c.isspace() for c in text)


@settings(max_examples=100, deadline=None)
@given(passwords)
def test_every_code_returned_is_a_documented_one(password: str) -> None:
    assert set(codes(password, email=EMAIL)) <= set(PASSWORD_CODES)
