"""Logging for every Kabinet process: one JSON object per line, trace ids in, secrets out.

``setup_logging`` configures the root logger once in ``__main__``. Each line carries the time,
level, service, logger, message, the ids of the current trace and span (so a log line leads to
its trace), and whatever the caller passed in ``extra=``. Values under keys that look secret
(``password``, ``token``, ``authorization``, ``cookie``, ``code_verifier``, ...) are replaced
anywhere in the extras, however deeply nested, and bearer tokens and JWTs are masked in the
message text, so that a careless ``extra={"headers": headers}`` cannot leak a credential.
The ``text`` format is the same information for a human at a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

REDACTED = "[REDACTED]"

# The id of the HTTP request being served (set by the gateway's edge), on every line it logs.
request_id_var: ContextVar[str | None] = ContextVar("kabinet_request_id", default=None)

# Key fragments that mark a secret; keys are compared lower-cased with "-" read as "_".
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "code_verifier",
    "device_code",
    "session_id",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "client_assertion",
    "otp",
    "pin",
)
_SECRET_KEY = re.compile("|".join(re.escape(p) for p in SECRET_KEY_PARTS))
# A key such as "pin" must not hide "shipping" or "opinion": short parts match whole words only.
_SHORT_PARTS = {"otp", "pin"}
# An Authorization header value ("Authorization: Basic dX..."), a bearer token quoted anywhere,
# a JWT (its header always starts with "eyJ").
_SECRET_TEXT = re.compile(
    r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?(?:\w+\s+)?[^\s,;\"']+"
    r"|\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)
_MARK = "_kabinet_handler"


def is_secret_key(key: str) -> bool:
    """Whether a field named ``key`` holds something that must never be logged."""
    low = key.lower().replace("-", "_")
    for match in _SECRET_KEY.finditer(low):
        part = match.group(0)
        if part not in _SHORT_PARTS:
            return True
        before = low[match.start() - 1] if match.start() > 0 else "_"
        after = low[match.end()] if match.end() < len(low) else "_"
        if not before.isalnum() and not after.isalnum():
            return True
    return False


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys masked at any depth (the input is untouched)."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(v) for v in value)
    if isinstance(value, list | set | frozenset):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def scrub(text: str) -> str:
    """``text`` with Authorization header values, bearer tokens and JWTs masked."""
    return _SECRET_TEXT.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's extras and message before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in extra_fields(record):
            value = record.__dict__[key]
            record.__dict__[key] = REDACTED if is_secret_key(key) else redact(value)
        if record.args:
            if isinstance(record.args, Mapping):
                record.args = redact(record.args)
            else:
                record.args = tuple(redact(a) for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


def extra_fields(record: logging.LogRecord) -> list[str]:
    """The names of the fields a caller added to ``record`` with ``extra=``."""
    return [k for k in record.__dict__ if k not in _RECORD_FIELDS and not k.startswith("_")]


def _trace_ids() -> tuple[str, str] | None:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for log collectors."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = _trace_ids()
        if ids:
            entry["trace_id"], entry["span_id"] = ids
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in extra_fields(record):
            entry.setdefault(key, record.__dict__[key])
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL service logger: message key=value ... trace=...`` for a terminal."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            _timestamp(record),
            f"{record.levelname:<7}",
            self._service,
            f"{record.name}:",
            record.getMessage(),
        ]
        parts += [f"{k}={record.__dict__[k]!r}" for k in extra_fields(record)]
        request_id = request_id_var.get()
        if request_id:
            parts.append(f"request_id={request_id}")
        ids = _trace_ids()
        if ids:
            parts.append(f"trace_id={ids[0]} span_id={ids[1]}")
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + scrub(self.formatException(record.exc_info))
        return line


def setup_logging(level: str, fmt: str, service: str, *, stream: IO[str] | None = None) -> None:
    """Send every log record of the process to ``stream`` (stderr) as JSON or text.

    ``fmt`` is ``json`` or ``text``; ``level`` a standard level name. Calling it again replaces
    the handler it installed before rather than adding a second one.
    """
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be json or text, got {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter(service))
    handler.addFilter(RedactingFilter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
