"""Latin views of a password, used only to match it against word lists.

People who write Russian type a Russian word with the keyboard left in the Latin layout
("пароль" becomes "gfhjkm"), or a Latin word with the keyboard left in the Russian layout
("qwerty" becomes "йцукен"); they also transliterate ("parol") and decorate with leetspeak
("p@ssw0rd"). Every matcher compares *views*: lower-cased strings in which Cyrillic has been
mapped to Latin in one of three ways, and a *skeleton* in which look-alike digits and symbols
have been mapped back to letters. None of this touches the password that gets hashed.
"""

from __future__ import annotations

import itertools

# The standard Russian ЙЦУКЕН layout over the US QWERTY keys (plus the Ukrainian letters that
# share those keys), lower case only: views lower-case first.
_LAYOUT_PAIRS = {
    "й": "q",
    "ц": "w",
    "у": "e",
    "к": "r",
    "е": "t",
    "н": "y",
    "г": "u",
    "ш": "i",
    "щ": "o",
    "з": "p",
    "х": "[",
    "ъ": "]",
    "ф": "a",
    "ы": "s",
    "в": "d",
    "а": "f",
    "п": "g",
    "р": "h",
    "о": "j",
    "л": "k",
    "д": "l",
    "ж": ";",
    "э": "'",
    "я": "z",
    "ч": "x",
    "с": "c",
    "м": "v",
    "и": "b",
    "т": "n",
    "ь": "m",
    "б": ",",
    "ю": ".",
    "ё": "`",
    "і": "s",
    "ї": "]",
    "є": "'",
    "ґ": "`",
}
RUSSIAN_LAYOUT_TO_LATIN = str.maketrans(_LAYOUT_PAIRS)

# Cyrillic letters that look like Latin ones ("Раssword" written with a Cyrillic Р and а).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "і": "i",
    }
)

# Transliteration, most usual spelling first; alternatives are used only to expand word lists.
TRANSLIT: dict[str, tuple[str, ...]] = {
    "а": ("a",),
    "б": ("b",),
    "в": ("v", "w"),
    "г": ("g",),
    "д": ("d",),
    "е": ("e",),
    "ё": ("e", "yo", "jo"),
    "ж": ("zh", "j"),
    "з": ("z",),
    "и": ("i",),
    "й": ("y", "i", "j"),
    "к": ("k",),
    "л": ("l",),
    "м": ("m",),
    "н": ("n",),
    "о": ("o",),
    "п": ("p",),
    "р": ("r",),
    "с": ("s",),
    "т": ("t",),
    "у": ("u",),
    "ф": ("f",),
    "х": ("h", "kh", "x"),
    "ц": ("c", "ts", "tz"),
    "ч": ("ch",),
    "ш": ("sh",),
    "щ": ("sch", "sh", "shch"),
    "ъ": ("",),
    "ы": ("y", "i"),
    "ь": ("",),
    "э": ("e",),
    "ю": ("yu", "u", "ju"),
    "я": ("ya", "ja", "ia"),
    "і": ("i",),
    "ї": ("yi", "i"),
    "є": ("ye", "e"),
    "ґ": ("g",),
}
_TRANSLIT_FIRST = str.maketrans({letter: options[0] for letter, options in TRANSLIT.items()})

# Leetspeak back to letters. Every value is one character so that a skeleton keeps the positions
# of its view; "l" folds into "i" because "1" stands for both.
LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "i",
        "l": "i",
    }
)


def has_cyrillic(text: str) -> bool:
    """Whether any character is in the Cyrillic block."""
    return any("\u0400" <= char <= "\u04ff" for char in text)


def keyboard_latin(text: str) -> str:
    """Lower-cased, Cyrillic replaced by the Latin keys it sits on ("Йцукен" -> "qwerty")."""
    return text.lower().translate(RUSSIAN_LAYOUT_TO_LATIN)


def homoglyph_latin(text: str) -> str:
    """Lower-cased, Cyrillic look-alikes replaced by the Latin letters they imitate."""
    return text.lower().translate(HOMOGLYPHS)


def transliterated(text: str) -> str:
    """Lower-cased, Cyrillic transliterated in its most usual spelling ("Пароль" -> "parol")."""
    return text.lower().translate(_TRANSLIT_FIRST)


def transliterations(word: str, limit: int = 16) -> list[str]:
    """Up to ``limit`` spellings of a Cyrillic word ("любовь" -> "lyubov", "lubov", ...)."""
    options = [TRANSLIT.get(char, (char,)) for char in word.lower()]
    spellings = ("".join(parts) for parts in itertools.product(*options))
    return list(dict.fromkeys(itertools.islice(spellings, limit)))


def skeleton(view: str) -> str:
    """A view with leetspeak undone ("p@ssw0rd" -> "password"); same length as the view."""
    return view.translate(LEET)


def latin_views(password: str) -> tuple[str, ...]:
    """The distinct Latin views of a password: the keyboard view always, and for text with
    Cyrillic also the look-alike and transliterated views."""
    views = [keyboard_latin(password)]
    if has_cyrillic(password):
        views += [homoglyph_latin(password), transliterated(password)]
    return tuple(dict.fromkeys(views))
