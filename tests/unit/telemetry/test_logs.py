"""Structured logs: one JSON object per line, trace ids in, secrets out."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from kabinet.logs import (
    REDACTED,
    JsonFormatter,
    RedactingFilter,
    TextFormatter,
    is_secret_key,
    scrub,
    setup_logging,
)

Capture = tuple[logging.Logger, io.StringIO, logging.Handler]


@pytest.fixture
def capture() -> Iterator[Capture]:
    """A private logger writing through the JSON formatter and the redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("identity"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("kabinet.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_standard_fields_and_the_extras(
    capture: Capture,
) -> None:
    logger, stream, _ = capture

    logger.info("account %s activated", "a-1", extra={"account_id": "a-1", "attempt": 2})

    (line,) = _lines(stream)
    assert line["level"] == "INFO"
    assert line["service"] == "identity"
    assert line["logger"] == "kabinet.test.logs"
    assert line["message"] == "account a-1 activated"
    assert (line["account_id"], line["attempt"]) == ("a-1", 2)
    assert str(line["time"]).endswith("Z")
    assert "trace_id" not in line  # no span is current


def test_secret_values_are_redacted_at_any_depth_and_the_callers_data_is_untouched(
    capture: Capture,
) -> None:
    logger, stream, _ = capture
    headers = {
        "Authorization": "Bearer abc.def.ghi",
        "Cookie": "sid=s3ss10n",
        "X-Request-Id": "r-1",
    }
    extra = {
        "password": "Hunter2!x",
        "headers": headers,
        "grant": {"refresh_token": "rt-123", "scopes": ["openid"], "client": "portal"},
        "pkce": [{"code_verifier": "v-456"}],
        "Access-Token": "at-789",
        "shipping_address": "Main st. 1",
    }

    logger.warning("login", extra=extra)

    raw = stream.getvalue()
    for secret in ("Hunter2!x", "abc.def.ghi", "s3ss10n", "rt-123", "v-456", "at-789"):
        assert secret not in raw
    (line,) = _lines(stream)
    assert line["password"] == REDACTED
    assert line["headers"] == {
        "Authorization": REDACTED,
        "Cookie": REDACTED,
        "X-Request-Id": "r-1",
    }
    assert line["grant"] == {"refresh_token": REDACTED, "scopes": ["openid"], "client": "portal"}
    assert line["pkce"] == [{"code_verifier": REDACTED}]
    assert line["Access-Token"] == REDACTED
    assert line["shipping_address"] == "Main st. 1"
    assert headers["Authorization"] == "Bearer abc.def.ghi"  # redaction works on copies


def test_bearer_tokens_and_jwts_are_masked_in_the_message_and_its_arguments(
    capture: Capture,
) -> None:
    logger, stream, _ = capture
    jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"

    logger.info("got header Authorization: Bearer tok-1 and %s", jwt)
    logger.info("payload %s", {"token": "tok-2", "user": "u"})

    raw = stream.getvalue()
    assert "tok-1" not in raw
    assert "tok-2" not in raw
    assert jwt not in raw
    assert "'user': 'u'" in raw


def test_a_line_carries_the_ids_of_the_current_span(capture: Capture) -> None:
    logger, stream, _ = capture
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("work") as span:
        logger.info("inside")
        context = span.get_span_context()

    (line,) = _lines(stream)
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_exceptions_are_logged_with_their_traceback(capture: Capture) -> None:
    logger, stream, _ = capture

    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")

    (line,) = _lines(stream)
    assert line["level"] == "ERROR"
    assert "ValueError: boom" in str(line["exception"])


def test_the_text_format_says_the_same_for_humans_and_redacts_too() -> None:
    record = logging.LogRecord("kabinet.rpc", logging.INFO, __file__, 1, "call %s", ("Get",), None)
    record.__dict__.update({"grpc_code": "OK", "client_secret": "cs-1"})
    RedactingFilter().filter(record)

    line = TextFormatter("gateway").format(record)

    assert "INFO" in line
    assert "gateway kabinet.rpc: call Get" in line
    assert "grpc_code='OK'" in line
    assert "cs-1" not in line


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True),
        ("new_password", True),
        ("id_token", True),
        ("Authorization", True),
        ("set-cookie", True),
        ("code_verifier", True),
        ("device_code", True),
        ("pin", True),
        ("otp_code", True),
        ("shipping", False),
        ("opinion", False),
        ("account_id", False),
        ("error_code", False),
        ("grpc_code", False),
    ],
)
def test_which_keys_count_as_secret(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_setup_logging_installs_one_handler_however_often_it_is_called(
    root_logger: logging.Logger,
) -> None:
    first, second = io.StringIO(), io.StringIO()

    setup_logging("INFO", "json", "support", stream=first)
    setup_logging("WARNING", "json", "support", stream=second)
    logging.getLogger("kabinet.test.setup").warning("hello", extra={"token": "t-1"})

    assert first.getvalue() == ""
    (line,) = [json.loads(x) for x in second.getvalue().splitlines() if '"hello"' in x]
    assert (line["service"], line["token"]) == ("support", REDACTED)
    assert root_logger.level == logging.WARNING


def test_setup_logging_refuses_an_unknown_format(root_logger: logging.Logger) -> None:
    with pytest.raises(ValueError, match="json or text"):
        setup_logging("INFO", "xml", "support")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("authorization=Basic dXNlcjpwYXNz done", "done"),
        ("sent BEARER abcdefgh123.x ok", "ok"),
        ("basic validation failed", "basic validation failed"),
        ("missing bearer token", "missing bearer token"),
        ("Authorization header missing", "Authorization header missing"),
    ],
)
def test_message_scrubbing_masks_credentials_but_not_prose(text: str, kept: str) -> None:
    scrubbed = scrub(text)

    assert kept in scrubbed
    assert ("dXNlcjpwYXNz" in scrubbed, "abcdefgh123" in scrubbed) == (False, False)
