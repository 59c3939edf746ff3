"""The MIME message built from a queued row, read back the way the mailbox reader does."""

import uuid
from datetime import UTC, datetime

import pytest

from kabinet.devstack.mailbox import find_links, parse_message
from kabinet.mail.message import Sender, build_message, check_address

MAIL_ID = uuid.UUID("0b6f4a52-8d0e-4a53-9a55-2a1c0f6d3e11")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def build(html: str | None = "<p>Привет</p>") -> bytes:
    message = build_message(
        mail_id=MAIL_ID,
        sender=Sender.parse("Kabinet <no-reply@kabinet.example>"),
        to="anna@example.com",
        subject="Подтвердите адрес — Kabinet",
        text="Откройте ссылку: https://kabinet.example/activate?t=AbC_123&x=1.\n",
        html=html,
        now=NOW,
    )
    return bytes(message)


def test_message_is_multipart_alternative_with_utf8_parts() -> None:
    raw = build()
    assert raw.isascii()  # encoded words and quoted-printable: any relay takes it
    stored = parse_message("k", raw, NOW)
    assert stored.subject == "Подтвердите адрес — Kabinet"
    assert stored.text == "Откройте ссылку: https://kabinet.example/activate?t=AbC_123&x=1.\n"
    assert stored.html == "<p>Привет</p>\n"
    assert stored.links == ("https://kabinet.example/activate?t=AbC_123&x=1",)
    assert b"multipart/alternative" in raw
    assert stored.sender == "Kabinet <no-reply@kabinet.example>"
    assert stored.to == "anna@example.com"


def test_headers_identify_the_row_and_the_time() -> None:
    stored = parse_message("k", build(), NOW)
    assert stored.message_id == f"<{MAIL_ID}@kabinet.example>"
    assert stored.date == NOW
    assert b"Auto-Submitted: auto-generated" in build()


def test_text_only_message() -> None:
    raw = build(html=None)
    assert b"multipart" not in raw
    assert parse_message("k", raw, NOW).html == ""


def test_links_are_found_in_order_without_trailing_punctuation() -> None:
    text = "Go to https://a.example/x, then (http://b.example/y?z=1) and https://a.example/x."
    assert find_links(text) == (
        "https://a.example/x",
        "http://b.example/y?z=1",
        "https://a.example/x",
    )


@pytest.mark.parametrize(
    "address", ["anna@example.com", "anna.k+tag@sub.example.ru", "пётр@пример.рф"]
)
def test_plain_addresses_pass(address: str) -> None:
    assert check_address(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "",
        "anna",
        "anna@example.com\r\nBcc: x@example.com",
        "Anna <anna@example.com>",
        "a@example.com, b@example.com",
        "a@@example.com",
        "a b@example.com",
        "x" * 250 + "@e.com",
    ],
)
def test_anything_else_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="email address"):
        check_address(address)


def test_sender_needs_an_address() -> None:
    assert Sender.parse("no-reply@k.example").header == "no-reply@k.example"
    with pytest.raises(ValueError, match="KABINET_MAIL_FROM"):
        Sender.parse("Kabinet")
