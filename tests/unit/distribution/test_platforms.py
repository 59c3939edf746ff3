"""The visitor's platform: the client hint wins, then the User-Agent (Android before Linux, iOS
before macOS)."""

import pytest

from distribution.domain.model import Platform
from distribution.domain.platforms import detect


@pytest.mark.parametrize(
    ("agent", "hint", "expected"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0", "", Platform.WINDOWS),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15", "", Platform.MACOS),
        ("Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "", Platform.LINUX),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/130.0 Mobile", "", Platform.ANDROID),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari", "", Platform.IOS),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "", Platform.IOS),
        ("Mozilla/5.0 (Windows NT 10.0)", '"macOS"', Platform.MACOS),
        ("", '"Android"', Platform.ANDROID),
        ("", '"Chrome OS"', Platform.LINUX),
        ("curl/8.0", "", None),
        ("", '"Unknown"', None),
    ],
)
def test_detect(agent: str, hint: str, expected: Platform | None) -> None:
    assert detect(agent, hint) is expected
