"""Portal rules that need no service: where a page may send the browser next, and the words."""

from __future__ import annotations

import pytest

from gateway.web import safe_next
from gateway.web.texts import PASSWORD_RULES, TEXTS
from kabinet.messages import translate


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/account",
        "//evil.example/account",
        "/\\evil.example",
        "javascript:alert(1)",
        "account",
        "",
        None,
    ],
)
def test_next_never_leaves_the_site(target: str | None) -> None:
    assert safe_next(target) == "/account"


@pytest.mark.parametrize(
    "target", ["/account", "/subscriptions?tab=codes", "/oauth2/authorize?x=1"]
)
def test_next_keeps_paths_on_the_site(target: str) -> None:
    assert safe_next(target) == target


def test_both_languages_have_every_word() -> None:
    assert TEXTS["en"].keys() == TEXTS["ru"].keys()
    for language in ("en", "ru"):
        assert all(value.strip() for value in TEXTS[language].values())


def test_every_rule_shown_is_a_real_password_rule() -> None:
    for rule in PASSWORD_RULES:
        assert f"rule.{rule}" in TEXTS["en"]
        assert translate(rule, "en", {}) != rule  # the code exists in the error catalog
