"""Webhook signatures: HMAC-SHA256 over timestamp and body, old timestamps refused; and the
sandbox PSP's card rules."""

import pytest

from kabinet import webhooks
from kabinet.devstack.psp import APPROVED_CARDS, DECLINED_CARD, luhn_ok

SECRET = "s3cret"
BODY = b'{"id":"evt_1","type":"payment.approved"}'


def test_a_signed_body_verifies() -> None:
    header = webhooks.sign(SECRET, 1_000_000, BODY)
    assert webhooks.verify(SECRET, header, BODY, 1_000_010) == 1_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("other", BODY, 1_000_010),  # another secret
        (SECRET, BODY + b" ", 1_000_010),  # a changed body
        (SECRET, BODY, 1_000_000 + 301),  # too old
        (SECRET, BODY, 1_000_000 - 301),  # from the future
    ],
)
def test_a_wrong_or_old_signature_is_refused(secret: str, body: bytes, now: int) -> None:
    header = webhooks.sign(secret, 1_000_000, BODY)
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(SECRET, header, body, now)


@pytest.mark.parametrize(
    "header", ["", "t=abc,v1=00", "v1=00", "t=1000000", "t=1000000,v1=", "garbage"]
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(SECRET, header, BODY, 1_000_000)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    header = webhooks.sign(SECRET, 1_000_000, BODY)
    moved = header.replace("t=1000000", "t=1000100")
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(SECRET, moved, BODY, 1_000_100)


def test_without_a_secret_everything_is_refused() -> None:
    header = webhooks.sign("", 1_000_000, BODY)
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify("", header, BODY, 1_000_000)


def test_test_cards_pass_the_luhn_check_and_typos_do_not() -> None:
    for card in (*APPROVED_CARDS, DECLINED_CARD):
        assert luhn_ok(card)
    assert not luhn_ok("4242424242424241")
    assert not luhn_ok("4242-4242")
