"""Activation codes: format, alphabet, check character, normalisation and storage digest."""

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subscription.domain import codes

CODE_SHAPE = re.compile(r"^[2-9A-HJKMNP-Z]{5}(-[2-9A-HJKMNP-Z]{5}){3}$")


def test_the_alphabet_has_no_look_alikes_and_a_prime_size() -> None:
    assert len(codes.ALPHABET) == 31
    assert len(set(codes.ALPHABET)) == 31
    for ambiguous in "01ILO":
        assert ambiguous not in codes.ALPHABET


def test_a_generated_code_has_the_published_shape() -> None:
    code = codes.generate()
    assert CODE_SHAPE.match(code.formatted()), code.formatted()
    assert code.prefix == code.value[:5]


def test_generated_codes_differ() -> None:
    assert len({codes.generate().value for _ in range(1000)}) == 1000


@given(st.text(alphabet=codes.ALPHABET, min_size=19, max_size=19))
def test_every_code_completed_by_its_check_character_validates(body: str) -> None:
    value = body + codes.check_character(body)
    assert codes.is_valid(value)
    assert codes.parse(codes.format_code(value)).value == value


@given(
    st.text(alphabet=codes.ALPHABET, min_size=19, max_size=19),
    st.integers(min_value=0, max_value=19),
    st.integers(min_value=1, max_value=30),
)
def test_any_single_character_change_is_caught(body: str, position: int, shift: int) -> None:
    value = body + codes.check_character(body)
    wrong = codes.ALPHABET[(codes.ALPHABET.index(value[position]) + shift) % 31]
    changed = value[:position] + wrong + value[position + 1 :]
    assert changed != value
    assert not codes.is_valid(changed)
    with pytest.raises(codes.CheckFailed):
        codes.parse(changed)


@given(
    st.text(alphabet=codes.ALPHABET, min_size=19, max_size=19),
    st.integers(min_value=0, max_value=19),
    st.integers(min_value=0, max_value=19),
)
def test_any_swap_of_two_different_characters_is_caught(body: str, i: int, j: int) -> None:
    value = body + codes.check_character(body)
    if value[i] == value[j]:
        return
    chars = list(value)
    chars[i], chars[j] = chars[j], chars[i]
    assert not codes.is_valid("".join(chars))


def test_typing_is_forgiving_about_case_dashes_and_blanks() -> None:
    value = codes.generate().value
    typed = f"  {value[:5].lower()} {value[5:10]}–{value[10:15].lower()}-- {value[15:]}\t"
    assert codes.parse(typed).value == value
    assert codes.parse(value).value == value


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "ABCDE-FGHJK-MNPQR-STUV",  # 19 characters
        "ABCDE-FGHJK-MNPQR-STUVWX",  # 21 characters
        "ABCDE-FGHJK-MNPQR-STUV0",  # 0 is not in the alphabet
        "ABCDE-FGHJK-MNPQR-STUVI",
        "АБВГД-FGHJK-MNPQR-STUVW",  # Cyrillic look-alikes
        "A" * 10_000,
    ],
)
def test_anything_else_is_malformed(typed: str) -> None:
    with pytest.raises(codes.Malformed):
        codes.parse(typed)


def test_the_store_gets_the_sha256_of_the_normalised_code_only() -> None:
    code = codes.generate()
    assert code.digest == hashlib.sha256(code.value.encode()).digest()
    assert codes.parse(code.formatted().lower()).digest == code.digest
