"""Turning a queued row into a MIME message, and checking addresses before they reach a header."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

MAX_ADDRESS_LENGTH = 254
# One local@domain: no whitespace, controls, or characters that separate or wrap header addresses.
_PART = r"[^\s\x00-\x1f\x7f<>,;:\"()\[\]\\@]+"
_ADDRESS = re.compile(rf"^{_PART}@{_PART}$")


def check_address(address: str) -> str:
    """Return ``address`` if it is one plain ``local@domain`` (no header injection), else raise."""
    if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.match(address):
        raise ValueError("not a single plain email address")
    return address


@dataclass(frozen=True)
class Sender:
    """The ``From`` of every message: display name and address (KABINET_MAIL_FROM)."""

    name: str
    address: str

    @classmethod
    def parse(cls, mail_from: str) -> Sender:
        """Read ``Name <address>`` or a bare address; ValueError when there is no usable address."""
        name, address = parseaddr(mail_from)
        try:
            check_address(address)
        except ValueError:
            raise ValueError(f"KABINET_MAIL_FROM {mail_from!r} has no usable address") from None
        return cls(name=name, address=address)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def header(self) -> str:
        return formataddr((self.name, self.address)) if self.name else self.address


def build_message(
    *,
    mail_id: uuid.UUID,
    sender: Sender,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    now: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative (text, then HTML) UTF-8 message.

    The Message-ID is derived from the queue row's id, so a message sent twice (a crash between
    sending and recording it) carries the same id and receivers can tell.
    """
    message = EmailMessage()
    message["From"] = sender.header
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = f"<{mail_id}@{sender.domain}>"
    # RFC 3834: tells vacation responders not to answer.
    message["Auto-Submitted"] = "auto-generated"
    # quoted-printable keeps the parts 7-bit, so any relay accepts them without 8BITMIME.
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
