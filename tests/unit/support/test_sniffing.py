"""Attachments are recognised by their bytes; names and declared types play no part."""

import pytest

from support.domain.sniffing import GIF, JPEG, PDF, PNG, TEXT, WEBP, sniff


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (b"GIF89a\x01\x00", GIF),
        (b"GIF87a\x01\x00", GIF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", WEBP),
        (b"%PDF-1.7\n", PDF),
        (b"2026-03-01 12:00 scanner started\n\terror: 0x80070005\r\n", TEXT),
        ("Ошибка установки\n".encode(), TEXT),
    ],
)
def test_allowed_formats(data: bytes, expected: str) -> None:
    assert sniff(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable
        b"\x7fELF\x02\x01\x01",  # a Linux executable
        b"PK\x03\x04\x14\x00",  # a zip archive
        b"<html>\x00<script>",  # text with a NUL is binary
        b"\xff\xfe\x00\x00",  # not UTF-8
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF but not WebP
        b"",
        b"\x1b[31mred\x1b[0m",  # terminal escapes
    ],
)
def test_everything_else_is_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_a_text_sample_cut_inside_a_character_is_still_text() -> None:
    data = ("я" * 5000).encode()  # 10,000 bytes: the 8 KiB sample ends mid-character or not
    assert sniff(data) == TEXT
