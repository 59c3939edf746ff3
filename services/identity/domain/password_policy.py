"""The product's password rule, plus the checks against guessable passwords on top of it.

The rule, exactly as the product states it: at least 8 characters; at least one digit, one
uppercase and one lowercase Latin letter (A-Z, a-z; Cyrillic letters don't count); no whitespace.
On top of it, as ASVS and NIST ask: no common password (a bundled list, see ``password_lists``),
none derived from the email or the product's name, and a zxcvbn score at or above a threshold.

Every broken rule is reported as its own ``Violation``; an empty list means accepted.

Text handling: the password is NFC-normalised (canonical composition only, no compatibility
folding), so "й" typed as one code point or as "и" + combining breve is the same password, here
and in ``password_hashing``; lengths are counted in code points of the NFC form. Nothing is
stripped, truncated or case-folded: matching against lists uses lower-cased views, the password
itself is kept exactly.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence

from identity.domain.password_lists import (
    CommonPasswords,
    build_common_passwords,
    common_passwords,
)
from identity.domain.password_strength import strength_score
from identity.domain.password_variants import (
    has_cyrillic,
    keyboard_latin,
    latin_views,
    skeleton,
    transliterations,
)
from kabinet.errors import Violation

TOO_SHORT = "password.too_short"
TOO_LONG = "password.too_long"
NO_DIGIT = "password.no_digit"
NO_UPPER_LATIN = "password.no_upper_latin"
NO_LOWER_LATIN = "password.no_lower_latin"
HAS_SPACE = "password.has_space"
INVALID_CHARACTER = "password.invalid_character"
TOO_COMMON = "password.too_common"
TOO_WEAK = "password.too_weak"
CONTAINS_EMAIL = "password.contains_email"
CONTAINS_PRODUCT_NAME = "password.contains_product_name"

# Every code ``check_password`` can return, in the order it reports them.
PASSWORD_CODES = (
    TOO_SHORT,
    TOO_LONG,
    NO_DIGIT,
    NO_UPPER_LATIN,
    NO_LOWER_LATIN,
    HAS_SPACE,
    INVALID_CHARACTER,
    TOO_COMMON,
    CONTAINS_EMAIL,
    CONTAINS_PRODUCT_NAME,
    TOO_WEAK,
)

MIN_LENGTH = 8
DEFAULT_MAX_LENGTH = 256
DEFAULT_MIN_STRENGTH = 2
PRODUCT_NAMES = ("kabinet", "кабинет")
# Parts of an email shorter than this are too short to mean anything inside a password.
MIN_CONTEXT_LENGTH = 4
# NFC never shrinks text to less than a quarter (no canonical decomposition is longer than four
# code points), so anything longer than this many times the limit is refused unread.
_NFC_MAX_SHRINK = 4
# Invisible characters that are not Unicode White_Space but act as spaces when typed or pasted.
_INVISIBLE_SPACES = frozenset("\u180e\u200b\u2060\ufeff")
_FIELD = "password"


def check_password(
    password: str,
    *,
    email: str | None,
    context: Sequence[str] = PRODUCT_NAMES,
    min_strength: int = DEFAULT_MIN_STRENGTH,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> list[Violation]:
    """Every rule the password breaks, in a stable order; an empty list means accepted.

    ``context`` names the product (a password containing one is refused, and zxcvbn counts it
    as known); ``min_strength`` is the lowest zxcvbn score accepted (0-4). A password longer
    than ``max_length`` code points gets ``password.too_long`` alone, before any costly check.
    """
    if len(password) > max_length * _NFC_MAX_SHRINK:
        return [_too_long(max_length)]
    text = unicodedata.normalize("NFC", password)
    if len(text) > max_length:
        return [_too_long(max_length)]

    violations = [Violation(code, _FIELD, params) for code, params in _composition(text)]
    views = latin_views(text)
    blocklist = common_passwords()
    names = _name_forms(context)
    # The product's name with the usual decorations ("Kabinet2024!") is as guessable as any
    # list entry; a longer password that merely contains it gets its own code below.
    brand = _brand_passwords(tuple(names))
    if any(blocklist.matches(view) or brand.matches(view) for view in views):
        violations.append(Violation(TOO_COMMON, _FIELD))
    email_parts = _email_parts(email)
    if _contains_any(views, email_parts):
        violations.append(Violation(CONTAINS_EMAIL, _FIELD))
    if _contains_any(views, names):
        violations.append(Violation(CONTAINS_PRODUCT_NAME, _FIELD))
    score = _strength(text, [*email_parts, *names], blocklist.extra_ranked)
    if score < min_strength:
        violations.append(
            Violation(TOO_WEAK, _FIELD, {"score": str(score), "min_score": str(min_strength)})
        )
    return violations


def _too_long(max_length: int) -> Violation:
    return Violation(TOO_LONG, _FIELD, {"max": str(max_length)})


def _composition(text: str) -> list[tuple[str, dict[str, str]]]:
    """The product's own rule. Digits and letters are ASCII only: other scripts' digits and
    letters (Cyrillic, fullwidth) don't count, as the product states for letters."""
    broken: list[tuple[str, dict[str, str]]] = []
    if len(text) < MIN_LENGTH:
        broken.append((TOO_SHORT, {"min": str(MIN_LENGTH)}))
    if not any("0" <= char <= "9" for char in text):
        broken.append((NO_DIGIT, {}))
    if not any("A" <= char <= "Z" for char in text):
        broken.append((NO_UPPER_LATIN, {}))
    if not any("a" <= char <= "z" for char in text):
        broken.append((NO_LOWER_LATIN, {}))
    if any(char.isspace() or char in _INVISIBLE_SPACES for char in text):
        broken.append((HAS_SPACE, {}))
    if any(_is_unusable(char) for char in text):
        broken.append((INVALID_CHARACTER, {}))
    return broken


def _is_unusable(char: str) -> bool:
    """Control characters (other than whitespace, reported as such) and lone surrogates, which
    nobody can type and which cannot be encoded for hashing."""
    return unicodedata.category(char) in ("Cc", "Cs") and not char.isspace()


def _email_parts(email: str | None) -> list[str]:
    """The whole email, its local part, the local part without separators, and each word of it
    ("ivan.petrov@example.com" -> that, "ivan.petrov", "ivanpetrov", "ivan", "petrov")."""
    if not email or not email.strip():
        return []
    address = email.strip().lower()
    local = address.rpartition("@")[0] or address
    words = "".join(char if char.isalnum() else " " for char in local).split()
    parts = [address, local, "".join(words), *words]
    return [part for part in dict.fromkeys(parts) if len(part) >= MIN_CONTEXT_LENGTH]


@functools.cache
def _brand_passwords(names: tuple[str, ...]) -> CommonPasswords:
    """A matcher whose only entries are the product's names (cached per set of names)."""
    return build_common_passwords((), (), names)


def _name_forms(names: Sequence[str]) -> list[str]:
    """Each product name as given, and for a Cyrillic one also its Latin-layout keyboard form
    and transliterations ("кабинет" -> "rf,bytn", "kabinet")."""
    forms: list[str] = []
    for name in names:
        lowered = name.strip().lower()
        forms.append(lowered)
        if has_cyrillic(lowered):
            forms += [keyboard_latin(lowered), *transliterations(lowered)]
    return [form for form in dict.fromkeys(forms) if len(form) >= MIN_CONTEXT_LENGTH]


def _contains_any(views: Sequence[str], needles: Sequence[str]) -> bool:
    """Whether a view contains a needle, both with leetspeak undone and Cyrillic in the
    needle mapped the way the view was."""
    haystacks = [skeleton(view) for view in views]
    for needle in needles:
        for form in latin_views(needle):
            bones = skeleton(form)
            if any(bones in haystack for haystack in haystacks):
                return True
    return False


def _strength(text: str, user_inputs: list[str], extra_ranked: Mapping[str, int]) -> int:
    """The lowest zxcvbn score of the password and, when it has Cyrillic, of its keyboard view
    (zxcvbn's dictionaries are Latin: "зфыыцщкв" is "password" typed in the Russian layout)."""
    candidates = [text]
    if has_cyrillic(text):
        candidates.append(keyboard_latin(text))
    return min(strength_score(candidate, user_inputs, extra_ranked) for candidate in candidates)
