"""Which platform a visitor is on: User-Agent Client Hints first, then the User-Agent."""

from __future__ import annotations

import re

from distribution.domain.model import Platform

_HINTS = {
    "windows": Platform.WINDOWS,
    "macos": Platform.MACOS,
    "linux": Platform.LINUX,
    "chrome os": Platform.LINUX,
    "chromeos": Platform.LINUX,
    "android": Platform.ANDROID,
    "ios": Platform.IOS,
}

# Order matters: Android user agents say Linux, iPads and iPhones say "like Mac OS X".
_AGENTS = (
    (re.compile(r"android", re.I), Platform.ANDROID),
    (re.compile(r"iphone|ipad|ipod|\bios\b", re.I), Platform.IOS),
    (re.compile(r"windows", re.I), Platform.WINDOWS),
    (re.compile(r"macintosh|mac os x|macos", re.I), Platform.MACOS),
    (re.compile(r"linux|x11|cros", re.I), Platform.LINUX),
)


def detect(user_agent: str, platform_hint: str = "") -> Platform | None:
    """The platform named by ``Sec-CH-UA-Platform`` (a quoted string) or found in the UA."""
    hint = platform_hint.strip().strip('"').strip().lower()
    if hint in _HINTS:
        return _HINTS[hint]
    agent = user_agent[:512]
    for pattern, platform in _AGENTS:
        if pattern.search(agent):
            return platform
    return None
