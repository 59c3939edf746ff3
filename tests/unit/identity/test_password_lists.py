"""The common-password list, its sources, and the Latin views passwords are matched in."""

from __future__ import annotations

import pytest
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from identity.domain.password_lists import (
    ENGLISH_TOP_N,
    build_common_passwords,
    common_passwords,
    keyboard_walks,
)
from identity.domain.password_variants import (
    homoglyph_latin,
    keyboard_latin,
    latin_views,
    skeleton,
    transliterated,
    transliterations,
)


def is_common(password: str) -> bool:
    blocklist = common_passwords()
    return any(blocklist.matches(view) for view in latin_views(password))


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [
        ("йцукен", "qwerty"),
        ("ЙЦУКЕН", "qwerty"),
        ("пароль", "gfhjkm"),
        ("солнышко", "cjkysirj"),
        ("максим", "vfrcbv"),
        ("никита", "ybrbnf"),
        ("любовь", "k.,jdm"),
        ("фывапролджэ", "asdfghjkl;'"),
        ("ячсмить", "zxcvbnm"),
        ("Пароль123!", "gfhjkm123!"),
    ],
)
def test_russian_layout_maps_to_the_latin_keys(cyrillic: str, latin: str) -> None:
    assert keyboard_latin(cyrillic) == latin


def test_other_views() -> None:
    assert homoglyph_latin("Раssword") == "password"
    assert transliterated("Пароль") == "parol"
    assert {"lyubov", "lubov", "ljubov"} <= set(transliterations("любовь"))
    assert len(transliterations("щукищищищ")) <= 16
    assert skeleton("p@$$w0rd!") == "passwordi"
    assert skeleton("l1i|") == "iiii"


def test_latin_passwords_have_one_view_and_cyrillic_ones_three() -> None:
    assert latin_views("Qwerty123") == ("qwerty123",)
    assert latin_views("Раssword") == ("hfssword", "password", "rassword")


def test_skeleton_keeps_positions() -> None:
    text = "P@$$w0rd!1l|7"
    assert len(skeleton(text.lower())) == len(text)


def test_english_list_comes_from_zxcvbn() -> None:
    english = FREQUENCY_LISTS["passwords"][:ENGLISH_TOP_N]
    assert len(english) == 30_000
    blocklist = common_passwords()
    long_enough = [word for word in english if len(word) >= 4]
    missing = [word for word in long_enough if skeleton(word) not in blocklist.skeletons]
    assert missing == []


def test_russian_list_is_bundled_in_keyboard_and_translit_forms() -> None:
    blocklist = common_passwords()
    for entry in ("gfhjkm", "ghbdtn", "cjkysirj", "vfrcbv", "ybrbnf", "k.,jdm", "fylhtq"):
        assert skeleton(entry) in blocklist.skeletons, entry
    for entry in ("parol", "privet", "lyubov", "solnyshko", "kotenok"):
        assert skeleton(entry) in blocklist.skeletons, entry
    for entry in ("1q2w3e4r", "zaq12wsx", "qwe123", "vkontakte"):
        assert skeleton(entry) in blocklist.skeletons, entry


def test_list_sizes() -> None:
    blocklist = common_passwords()
    assert len(blocklist.skeletons) > 30_000
    assert len(blocklist.extra_ranked) > 1_000
    # extra_ranked feeds zxcvbn only what it does not already know.
    assert "password" not in blocklist.extra_ranked
    assert "k.,jdm" in blocklist.extra_ranked


@pytest.mark.parametrize(
    "walk",
    [
        "qwerty",
        "qwertyuiop",
        "asdfgh",
        "zxcvbnm",
        "ytrewq",
        "1234567890",
        "1qaz2wsx",
        "zaq12wsx",
        "zaq1xsw2",
        "1q2w3e4r",
        "q1w2e3r4",
        "qazwsx",
        "qazwsxedc",
        "123qwe",
        "qwe123",
        "qweasdzxc",
        "zxcasdqwe",
        "1qa2ws3ed",
    ],
)
def test_keyboard_walks_include(walk: str) -> None:
    assert walk in keyboard_walks()


def test_keyboard_walks_are_at_least_four_keys() -> None:
    walks = keyboard_walks()
    assert min(map(len, walks)) == 4
    assert len(walks) == len(set(walks))


@pytest.mark.parametrize(
    ("password", "common"),
    [
        ("qwerty", True),
        ("Qwerty1", True),
        ("qwerty2024", True),
        ("qwerty1990!", True),
        ("2024qwerty", True),
        ("!qwerty!", True),
        ("qwerty123q", True),  # a run plus one letter
        ("qwerty12!#", True),
        ("qwerty!!!!!!!!", True),
        ("qwerty01011990", True),
        ("qwertyqwerty", True),
        ("qwerty-dragon", True),
        ("qw3rty", True),
        ("qwerty7394", True),
        ("love2024", True),
        ("love12", True),
        ("abcdefgh1", True),
        ("zzzzzzzz9x", True),  # one unit repeated
        ("qaqaqaqa1", True),
        ("abcabcabc1", True),
        ("love5739", False),  # a short word carries less decoration
        ("qwertyXk", False),  # two letters are not a decoration
        ("xk#qwerty9!z", False),
        ("qwe", False),
        ("correct-horse-battery-staple", False),
        ("Tz7#kQ9m", False),
    ],
)
def test_decorations(password: str, common: bool) -> None:
    assert is_common(password) is common


def test_matcher_over_own_sources() -> None:
    blocklist = build_common_passwords(["sunshine"], ["пароль"], ["zzzz9zzzz"])
    assert blocklist.matches("sunshine2024")
    assert blocklist.matches("gfhjkm1")
    assert blocklist.matches("parol1")
    assert blocklist.matches("zzzz9zzzz")
    assert blocklist.matches("1q2w3e4r")  # walks come with every list
    assert not blocklist.matches("moonshine2024")
    assert not blocklist.matches("dragon1")


def test_whole_password_match_only() -> None:
    # A list word inside a longer passphrase does not make it common.
    assert not is_common("purple-dragon-sings-loudly")
    assert not is_common("my-qwerty-keyboard-is-broken")
