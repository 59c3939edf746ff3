"""HTTP Range for downloads: one bytes= range, suffixes, open ends, unsatisfiable ranges; and a
Content-Disposition that cannot break its header."""

import pytest

from gateway.controllers.downloads import content_disposition, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=990-5000", (990, 1000)),
        ("bytes=-10", (990, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=0-0", (0, 1)),
        ("bytes=1-2,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=20-10", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(ValueError, match="bytes"):
        parse_range(header, 1000)


def test_content_disposition_is_one_safe_line() -> None:
    value = content_disposition('evil"\r\nSet-Cookie: x=1.exe')
    assert "\r" not in value
    assert "\n" not in value
    assert value.startswith('attachment; filename="evil')
    assert value.count('"') == 2
    assert content_disposition("kabinet-vpn-2.1.0-setup.exe") == (
        'attachment; filename="kabinet-vpn-2.1.0-setup.exe"; '
        "filename*=UTF-8''kabinet-vpn-2.1.0-setup.exe"
    )
