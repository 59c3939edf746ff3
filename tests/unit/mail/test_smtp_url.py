"""KABINET_SMTP_URL parsing, and SMTP failures told apart and described without secrets."""

import aiosmtplib
import pytest

from kabinet.mail.sender import describe_error, is_permanent
from kabinet.mail.smtp import SmtpEndpoint, SmtpSecurity, SmtpUrlError, parse_smtp_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:1025", SmtpEndpoint("127.0.0.1", 1025, SmtpSecurity.PLAIN)),
        ("smtp://mail.local", SmtpEndpoint("mail.local", 25, SmtpSecurity.PLAIN)),
        ("SMTP://Mail.Local:26/", SmtpEndpoint("mail.local", 26, SmtpSecurity.PLAIN)),
        (
            "smtp+starttls://relay.example",
            SmtpEndpoint("relay.example", 587, SmtpSecurity.STARTTLS),
        ),
        ("smtps://relay.example", SmtpEndpoint("relay.example", 465, SmtpSecurity.TLS)),
        (
            "smtps://mailer:s3cr%40t%3Apw@relay.example:2465",
            SmtpEndpoint("relay.example", 2465, SmtpSecurity.TLS, "mailer", "s3cr@t:pw"),
        ),
        ("smtp://[::1]:1025", SmtpEndpoint("::1", 1025, SmtpSecurity.PLAIN)),
    ],
)
def test_parses(url: str, expected: SmtpEndpoint) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "no scheme"),
        ("127.0.0.1:1025", "no scheme"),
        ("http://mail.example", "unknown scheme 'http'"),
        ("smtp://", "no host"),
        ("smtp://mail.example:99999", "out of range"),
        ("smtp://mail.example:port", "Port could not be cast"),
        ("smtp://mail.example:0", "port 0"),
        ("smtp://mail.example/inbox", "path"),
        ("smtp://mail.example?tls=1", "query"),
        ("smtp://user@mail.example", "both user and password"),
    ],
)
def test_refuses_with_a_clear_reason(url: str, reason: str) -> None:
    with pytest.raises(SmtpUrlError, match="KABINET_SMTP_URL") as error:
        parse_smtp_url(url)
    assert reason in str(error.value)
    assert "smtp://host:port" in str(error.value)


def test_error_and_repr_never_show_the_password() -> None:
    with pytest.raises(SmtpUrlError) as error:
        parse_smtp_url("ftp://mailer:hunter2@relay.example")
    assert "hunter2" not in str(error.value)
    assert "mailer:***@" in str(error.value)
    endpoint = parse_smtp_url("smtp+starttls://mailer:hunter2@relay.example")
    assert "hunter2" not in repr(endpoint)
    assert endpoint.redacted() == "smtp+starttls://mailer:***@relay.example:587"


def test_client_follows_the_security_mode() -> None:
    plain = parse_smtp_url("smtp://127.0.0.1:1025").client(timeout=5)
    assert (plain.use_tls, plain._start_tls_on_connect) == (False, False)
    starttls = parse_smtp_url("smtp+starttls://relay.example").client(timeout=5)
    assert (starttls.use_tls, starttls._start_tls_on_connect) == (False, True)
    tls = parse_smtp_url("smtps://u:p@relay.example").client(timeout=5)
    assert (tls.use_tls, tls.timeout) == (True, 5)
    assert (tls._login_username, tls._login_password) == ("u", "p")


def test_refused_recipient_is_permanent_only_for_5xx() -> None:
    gone = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "a@example.com")]
    )
    busy = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(451, "4.3.0 try later", "a@example.com")]
    )
    assert is_permanent(gone)
    assert not is_permanent(busy)
    assert not is_permanent(ConnectionRefusedError(111, "Connection refused"))
    assert not is_permanent(aiosmtplib.SMTPDataError(451, "later"))
    assert describe_error(gone) == "recipient refused: 550 5.1.1 no such user"


def test_error_description_is_one_short_line_without_the_password() -> None:
    endpoint = parse_smtp_url("smtps://mailer:hunter2@relay.example")
    exc = aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials for hunter2\r\nmore")
    text = describe_error(exc, endpoint)
    assert text == "SMTPAuthenticationError: 535 5.7.8 bad credentials for *** more"
    assert len(describe_error(OSError("x" * 5000))) == 500
