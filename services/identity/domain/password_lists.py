"""The common-password list and the matcher that recognises its entries behind decorations.

The list is built once per process from three sources:

* English: the first ``ENGLISH_TOP_N`` entries of the "passwords" frequency list that ships with
  zxcvbn (30,000 entries, from leaked password sets), read from the installed package;
* Russian: ``data/common_ru_cyrillic.txt`` (words and names written in Cyrillic, each expanded to
  its Latin-layout keyboard form and its usual transliterations) and ``data/common_latin.txt``
  (Latin-script passwords common on Russian-language services);
* keyboard walks generated from the QWERTY key grid (rows, columns, zig-zags and stacked chunks),
  which also covers walks typed in the Russian layout once those are mapped to the Latin keys,
  and runs of the alphabet (abcdefgh).

A password is *common* when one of its Latin views splits into ``prefix + entry + suffix`` where
the entry (after leetspeak is undone) is on the list, or is a unit of up to three characters
repeated at least three times, and the prefix and suffix are the usual
decorations: years, dates, digit runs, repeated characters, symbols, another list entry, or a
few characters with at most one letter. Matching is whole-password: a list word inside a long
passphrase is not enough.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from identity.domain.password_variants import (
    has_cyrillic,
    keyboard_latin,
    skeleton,
    transliterations,
)

ENGLISH_TOP_N = 30_000
# Shorter entries ("love", "1234" count; "abc" does not) would make too many strong passwords
# look like a decorated word.
MIN_ENTRY_LENGTH = 4
# How much decoration an entry may carry: one per digit or odd character and one for a single
# letter ("123Q" costs 1: a run plus a letter); symbols, years, dates, runs and other list entries
# cost nothing.
DECORATION_BUDGET = 4

# "zzzzzzzz", "qaqaqaqa" and "abcabcabc" are as common as list entries: a unit this short,
# repeated at least three times.
MAX_REPEATED_UNIT = 3

_KEY_ROWS = ("`1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./")
_DIGIT_RUNS = ("01234567890", "09876543210")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_IMPOSSIBLE = DECORATION_BUDGET + 1


@dataclass(frozen=True)
class CommonPasswords:
    """The list as skeletons, plus the entries zxcvbn does not already know, ranked."""

    skeletons: frozenset[str]
    longest: int
    extra_ranked: Mapping[str, int]

    def __contains__(self, view: str) -> bool:
        return skeleton(view) in self.skeletons

    def matches(self, view: str) -> bool:
        """Whether a Latin view is a list entry, or one short unit repeated (zzzzzzzz, qaqaqaqa,
        abcabcabc), with at most the usual decorations around it."""
        length = len(view)
        if length < MIN_ENTRY_LENGTH:
            return False
        bones = skeleton(view)
        prefix_cost = [self._decoration_cost(view[:i]) for i in range(length + 1)]
        suffix_cost = [self._decoration_cost(view[j:]) for j in range(length + 1)]

        def decorated(start: int, end: int) -> bool:
            # A short entry may carry less: "Blue12" is a decorated word, "Blue5739" is not.
            budget = min(DECORATION_BUDGET, end - start - 2)
            return prefix_cost[start] + suffix_cost[end] <= budget

        for start in range(length - MIN_ENTRY_LENGTH + 1):
            if prefix_cost[start] > DECORATION_BUDGET:
                continue
            last = min(length, start + self.longest)
            for end in range(start + MIN_ENTRY_LENGTH, last + 1):
                if bones[start:end] in self.skeletons and decorated(start, end):
                    return True
            for unit in range(1, MAX_REPEATED_UNIT + 1):
                end = start + unit
                while end < length and view[end] == view[end - unit]:
                    end += 1
                shortest = start + max(MIN_ENTRY_LENGTH, 3 * unit)
                if any(decorated(start, stop) for stop in range(shortest, end + 1)):
                    return True
        return False

    def _decoration_cost(self, text: str) -> int:
        """0 for the usual decorations (symbols, years, dates, runs, list entries), else one
        per digit or other character plus one for a single letter; more than one letter, or
        more than a few characters, is no decoration."""
        core = _strip_symbols(text)
        if not core or self._is_usual(core):
            return 0
        letters = [index for index, char in enumerate(core) if char.isalpha()]
        if len(letters) > 1:
            return _IMPOSSIBLE
        cost = 0
        if letters:
            cost = 1
            core = _strip_symbols(core[: letters[0]] + core[letters[0] + 1 :])
            if not core or self._is_usual(core):
                return cost
        return cost + len(core) if len(core) <= DECORATION_BUDGET else _IMPOSSIBLE

    def _is_usual(self, core: str) -> bool:
        if len(core) >= 3 and len(set(core)) == 1:
            return True
        if core.isascii() and core.isdigit() and _is_digit_pattern(core):
            return True
        return len(core) >= MIN_ENTRY_LENGTH and skeleton(core) in self.skeletons


def _strip_symbols(text: str, most: int = 3) -> str:
    start, end = 0, len(text)
    while start < end and start < most and not text[start].isalnum():
        start += 1
    while end > start and len(text) - end < most and not text[end - 1].isalnum():
        end -= 1
    return text[start:end]


def _is_digit_pattern(digits: str) -> bool:
    """Runs (123, 4321), years (1900-2099) and dates (ddmmyy, ddmmyyyy, yyyymmdd, ...)."""
    if len(digits) >= 3 and any(digits in run for run in _DIGIT_RUNS):
        return True
    if len(digits) == 4 and 1900 <= int(digits) <= 2099:
        return True
    return _is_date(digits)


def _is_date(digits: str) -> bool:
    def plausible(day: str, month: str, year: str) -> bool:
        full_year = len(year) == 2 or 1900 <= int(year) <= 2099
        return 1 <= int(day) <= 31 and 1 <= int(month) <= 12 and full_year

    if len(digits) == 6:
        a, b, c = digits[:2], digits[2:4], digits[4:]
        return plausible(a, b, c) or plausible(b, a, c) or plausible(c, b, a)
    if len(digits) == 8:
        return (
            plausible(digits[:2], digits[2:4], digits[4:])
            or plausible(digits[2:4], digits[:2], digits[4:])
            or plausible(digits[6:], digits[4:6], digits[:4])
        )
    return False


def keyboard_walks() -> list[str]:
    """Walks on the QWERTY key grid: row runs, column runs and zig-zags (1qaz2wsx, zaq12wsx,
    1q2w3e4r, q1w2e3r4), and stacked chunks (123qwe, qweasdzxc), at least four keys long."""
    walks: list[str] = []
    for row in _KEY_ROWS:
        for line in (row, row[::-1]):
            walks += [
                line[i:j]
                for i in range(len(line))
                for j in range(i + MIN_ENTRY_LENGTH, len(line) + 1)
            ]
    # Column k: the digit above-left of it, then the letter keys straight down.
    columns = [
        "".join(row[k + (1 if r == 0 else 0)] for r, row in enumerate(_KEY_ROWS)) for k in range(10)
    ]
    for top, height in itertools.product((0, 1), (2, 3, 4)):
        cut = [column[top : top + height] for column in columns if len(column) >= top + height]
        for start in range(len(cut)):
            for count in range(2, len(cut) - start + 1):
                group = cut[start : start + count]
                down = list(group)
                up = [c[::-1] for c in group]
                zig = [c if i % 2 == 0 else c[::-1] for i, c in enumerate(group)]
                zag = [c[::-1] if i % 2 == 0 else c for i, c in enumerate(group)]
                walks += ["".join(pattern) for pattern in (down, up, zig, zag)]
    for width in range(3, 7):
        for start in range(11 - width):
            chunks = [
                row[start + (1 if r == 0 else 0) :][:width] for r, row in enumerate(_KEY_ROWS)
            ]
            for first in range(4):
                for last in range(first + 2, 5):
                    stack = chunks[first:last]
                    walks += ["".join(stack), "".join(reversed(stack))]
    return [walk for walk in dict.fromkeys(walks) if len(walk) >= MIN_ENTRY_LENGTH]


def alphabet_runs() -> list[str]:
    """Runs of the Latin alphabet, forwards and backwards (abcdefgh, zyxw), at least four long."""
    walks: list[str] = []
    for line in (_ALPHABET, _ALPHABET[::-1]):
        walks += [
            line[i:j] for i in range(len(line)) for j in range(i + MIN_ENTRY_LENGTH, len(line) + 1)
        ]
    return walks


def _data_lines(name: str) -> Iterator[str]:
    text = (
        resources.files("identity.domain")
        .joinpath("data")
        .joinpath(name)
        .read_text(encoding="utf-8")
    )
    for line in text.splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            yield entry.lower()


def _russian_forms(words: Iterable[str]) -> Iterator[str]:
    for word in words:
        if has_cyrillic(word):
            yield keyboard_latin(word)
            yield from transliterations(word)
        else:
            yield word


def build_common_passwords(
    english: Iterable[str], russian_cyrillic: Iterable[str], latin: Iterable[str]
) -> CommonPasswords:
    """The matcher over the given sources plus the generated keyboard walks and runs."""
    extra = [*_russian_forms(russian_cyrillic), *latin, *keyboard_walks(), *alphabet_runs()]
    entries = [
        entry
        for entry in itertools.chain(english, extra)
        if len(entry) >= MIN_ENTRY_LENGTH and not any(char.isspace() for char in entry)
    ]
    skeletons = frozenset(skeleton(entry) for entry in entries)
    known = set(FREQUENCY_LISTS["passwords"])
    ranked: dict[str, int] = {}
    for entry in extra:
        if entry not in known and len(entry) >= MIN_ENTRY_LENGTH:
            ranked.setdefault(entry, len(ranked) + 1)
    return CommonPasswords(
        skeletons=skeletons, longest=max(map(len, skeletons)), extra_ranked=ranked
    )


@functools.cache
def common_passwords() -> CommonPasswords:
    """The process-wide list (built on first use, ~0.3 s; immutable afterwards)."""
    return build_common_passwords(
        FREQUENCY_LISTS["passwords"][:ENGLISH_TOP_N],
        _data_lines("common_ru_cyrillic.txt"),
        _data_lines("common_latin.txt"),
    )
