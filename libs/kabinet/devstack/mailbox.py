"""Reading the mail the local SMTP sink stored: for ``make mail``, the gateway's dev page and tests.

Messages are parsed once and cached by key (a stored message never changes). Order is arrival
order, taken from the Maildir key, which begins with the time the sink stored the message.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import TextIO

from kabinet.devstack.smtp import ENVELOPE_TO_HEADER

_KEY_TIME = re.compile(r"^(\d+)\.M(\d+)P\d+Q(\d+)")
_LINK = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"


def find_links(text: str) -> tuple[str, ...]:
    """Every http(s) link in ``text``, in order, without trailing punctuation."""
    return tuple(match.group(0).rstrip(_TRAILING) for match in _LINK.finditer(text))


@dataclass(frozen=True)
class StoredMessage:
    """One message as the sink received it, decoded."""

    key: str
    received_at: datetime
    to: str
    recipients: tuple[str, ...]
    sender: str
    subject: str
    date: datetime | None
    message_id: str
    text: str
    html: str
    links: tuple[str, ...]

    @property
    def from_(self) -> str:
        """The From header (``from`` is a Python keyword)."""
        return self.sender

    def addressed_to(self, address: str) -> bool:
        """Whether ``address`` (any case) is an envelope recipient or in the To header."""
        wanted = address.strip().lower()
        named = {addr.lower() for _, addr in getaddresses([self.to])}
        return wanted in named or wanted in {r.lower() for r in self.recipients}


def _arrival(key: str, path: Path) -> tuple[float, int]:
    match = _KEY_TIME.match(key)
    if match:
        return int(match.group(1)) + int(match.group(2)) / 1_000_000, int(match.group(3))
    # Not written by the sink: fall back to the file's time.
    for sub in ("new", "cur"):
        for candidate in (path / sub).glob(f"{key}*"):
            return candidate.stat().st_mtime, 0
    return 0.0, 0


def _content(part: EmailMessage | None) -> str:
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def parse_message(key: str, raw: bytes, received_at: datetime) -> StoredMessage:
    """Decode a stored message: headers (RFC 2047 or raw UTF-8), text and HTML bodies, links."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    date_header = message.get("Date")
    try:
        date = getattr(date_header, "datetime", None) if date_header is not None else None
    except (TypeError, ValueError):
        date = None
    text = _content(message.get_body(preferencelist=("plain",)))  # type: ignore[arg-type]
    return StoredMessage(
        key=key,
        received_at=received_at,
        to=str(message.get("To", "")),
        recipients=tuple(str(v) for v in message.get_all(ENVELOPE_TO_HEADER, [])),
        sender=str(message.get("From", "")),
        subject=str(message.get("Subject", "")),
        date=date,
        message_id=str(message.get("Message-ID", "")),
        text=text,
        html=_content(message.get_body(preferencelist=("html",))),  # type: ignore[arg-type]
        links=find_links(text),
    )


class Mailbox:
    """The messages stored in the Maildir at ``path`` (which need not exist yet)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: dict[str, StoredMessage] = {}

    def _ordered_keys(self) -> list[tuple[tuple[float, int], str]]:
        if not (self.path / "new").is_dir():
            return []
        keys = mailbox.Maildir(self.path, create=False).keys()
        return sorted((_arrival(key, self.path), key) for key in keys)

    def _load(self, key: str, arrival: tuple[float, int]) -> StoredMessage:
        cached = self._cache.get(key)
        if cached is None:
            raw = mailbox.Maildir(self.path, create=False).get_bytes(key)
            received_at = datetime.fromtimestamp(arrival[0], UTC)
            cached = self._cache[key] = parse_message(key, raw, received_at)
        return cached

    def all(self) -> list[StoredMessage]:
        """Every message, oldest first."""
        return [self._load(key, arrival) for arrival, key in self._ordered_keys()]

    def latest(self, n: int = 10) -> list[StoredMessage]:
        """The ``n`` most recent messages, newest first."""
        newest = self._ordered_keys()[::-1][: max(n, 0)]
        return [self._load(key, arrival) for arrival, key in newest]

    def get(self, key: str) -> StoredMessage:
        """The message stored under ``key``; KeyError when there is none."""
        for arrival, found in self._ordered_keys():
            if found == key:
                return self._load(key, arrival)
        raise KeyError(f"no message {key!r} in {self.path}")

    def find(
        self,
        *,
        to: str | None = None,
        since: datetime | None = None,
        subject_contains: str | None = None,
    ) -> list[StoredMessage]:
        """Messages matching every filter given, oldest first.

        ``to`` matches an envelope recipient or a To address, in any case; ``since`` is compared
        with the time the sink received the message; ``subject_contains`` ignores case.
        """
        floor = since.timestamp() if since is not None else None
        found = []
        for arrival, key in self._ordered_keys():
            if floor is not None and arrival[0] < floor:
                continue
            message = self._load(key, arrival)
            if to is not None and not message.addressed_to(to):
                continue
            if subject_contains is not None and (
                subject_contains.casefold() not in message.subject.casefold()
            ):
                continue
            found.append(message)
        return found

    async def wait_for(
        self,
        to: str,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        since: datetime | None = None,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> StoredMessage:
        """The first message to ``to`` (received ``since``) that ``predicate`` accepts.

        Polls the Maildir until one arrives; TimeoutError after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            candidates = await asyncio.to_thread(self.find, to=to, since=since)
            for message in candidates:
                if predicate is None or predicate(message):
                    return message
            if loop.time() >= deadline:
                raise TimeoutError(
                    f"no matching message to {to} arrived in {self.path} within {timeout:g}s"
                    f" ({len(candidates)} to that address did not match)"
                )
            await asyncio.sleep(interval)


def format_message(message: StoredMessage) -> str:
    """A human-readable view of one message: headers, links, then the text body."""
    lines = [
        f"── {message.received_at.astimezone():%Y-%m-%d %H:%M:%S}  {message.key}",
        f"From:    {message.sender}",
        f"To:      {message.to or ', '.join(message.recipients)}",
        f"Subject: {message.subject}",
    ]
    if message.links:
        lines.append("Links:")
        lines += [f"  {link}" for link in message.links]
    lines += ["", message.text.rstrip(), ""]
    return "\n".join(lines)


def print_latest(path: Path, n: int = 5, *, out: TextIO | None = None) -> int:
    """Print the ``n`` newest messages stored at ``path`` (``make mail``); returns how many."""
    stream = out if out is not None else sys.stdout
    messages = Mailbox(path).latest(n)
    if not messages:
        print(f"No mail in {path} yet.", file=stream)
        return 0
    for message in messages:
        print(format_message(message), file=stream)
    return len(messages)
