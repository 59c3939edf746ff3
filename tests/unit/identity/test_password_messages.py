"""Every password code has its English and Russian message."""

from __future__ import annotations

import re

from identity.domain.password_policy import PASSWORD_CODES
from kabinet import messages
from kabinet.catalog.passwords import MESSAGES as PASSWORD_MESSAGES

CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def test_every_code_has_a_message_and_nothing_else_does() -> None:
    assert set(PASSWORD_MESSAGES) == set(PASSWORD_CODES)


def test_messages_are_english_and_russian() -> None:
    for code, (english, russian) in PASSWORD_MESSAGES.items():
        assert english.strip(), code
        assert russian.strip(), code
        assert not CYRILLIC.search(english), code
        assert CYRILLIC.search(russian), code
        assert english != russian, code


def test_messages_need_no_params() -> None:
    # The gateway may translate a code without its params: no "{...}" may show through.
    for code, pair in PASSWORD_MESSAGES.items():
        for text in pair:
            assert "{" not in text, code
            assert text.format() == text


def test_codes_do_not_clash_with_the_catalog() -> None:
    for code, pair in PASSWORD_MESSAGES.items():
        assert messages.CATALOG.get(code, pair) == pair, code
