"""Password strength estimation with zxcvbn, safe to call from several threads.

zxcvbn's own entry point stores the user inputs in a module-level dictionary before matching,
so two threads checking passwords at once could see each other's email; this module runs the
same steps (match, most guessable sequence, score) with a dictionary set built per call. The
bundled Russian and keyboard-walk entries are added as one more ranked dictionary, so zxcvbn
knows "gfhjkm" as well as "password".

zxcvbn's matching grows faster than the square of the length (about 20 ms at 64 characters and
1 s at 256), so only the first ``STRENGTH_WINDOW`` characters are estimated. A longer password is
at least as hard to guess as its beginning; one whose first 64 characters are guessable is
refused, which asks little of anyone who really chose 64 characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from zxcvbn import matching, scoring, time_estimates

STRENGTH_WINDOW = 64


def strength_score(
    password: str, user_inputs: Iterable[str], extra_ranked: Mapping[str, int]
) -> int:
    """zxcvbn's score (0 = guessable in under 10^3 tries ... 4 = needs more than 10^10)."""
    window = password[:STRENGTH_WINDOW]
    if not window:
        return 0
    inputs = [value.lower() for value in user_inputs if value]
    dictionaries = {
        **matching.RANKED_DICTIONARIES,
        "kabinet_common": extra_ranked,
        "user_inputs": matching.build_ranked_dict(inputs),
    }
    matches = matching.omnimatch(window, dictionaries)
    result = scoring.most_guessable_match_sequence(window, matches)
    return int(time_estimates.guesses_to_score(result["guesses"]))
