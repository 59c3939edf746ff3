"""A local SMTP server that accepts every message and keeps it in a Maildir.

``make run`` starts it when no KABINET_SMTP_URL is given, so activation and reset mail really goes
over SMTP and can be read back (``kabinet.devstack.mailbox``: ``make mail``, the gateway's dev
page, tests). It relays nothing. Messages survive restarts: the Maildir is only ever added to.
Each stored message starts with ``Return-Path`` and one ``X-Kabinet-Envelope-To`` per envelope
recipient, so Bcc-style deliveries can be found too. SMTPUTF8 and 8BITMIME are offered, so
internationalised addresses and 8-bit bodies arrive unchanged.
"""

from __future__ import annotations

import errno
import mailbox
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from kabinet.devstack.ports import PortInUseError, ensure_free

ENVELOPE_TO_HEADER = "X-Kabinet-Envelope-To"
PORT_VARIABLE = "KABINET_SMTP_PORT"


class _StoreEverything:
    """aiosmtpd handler: every message, every recipient, straight into the Maildir."""

    def __init__(self, maildir: Path) -> None:
        self._maildir = mailbox.Maildir(maildir, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content or b""
        trace = [f"Return-Path: <{envelope.mail_from or ''}>"]
        trace += [f"{ENVELOPE_TO_HEADER}: {rcpt}" for rcpt in envelope.rcpt_tos]
        # Maildir files use bare LF line ends.
        raw = ("\n".join(trace) + "\n").encode() + content.replace(b"\r\n", b"\n")
        self._maildir.add(raw)
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on ``host:port`` storing what it receives in the Maildir at ``maildir``.

    aiosmtpd runs it on its own thread and event loop; ``stop()`` ends and joins that thread.
    """

    def __init__(self, maildir: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.maildir = Path(maildir)
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """What to put in KABINET_SMTP_URL to send here."""
        return f"smtp://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen; fails with PortInUseError naming KABINET_SMTP_PORT when the port is taken."""
        if self._controller is not None:
            return
        ensure_free(self.host, self.port, "The SMTP sink", PORT_VARIABLE)
        controller = Controller(
            _StoreEverything(self.maildir),
            hostname=self.host,
            port=self.port,
            server_hostname="kabinet-smtp-sink",
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        try:
            controller.start()
        except BaseException as exc:
            # The controller made a loop (and maybe a thread) before failing: release both.
            controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"The SMTP sink cannot listen on {self.host}:{self.port}: the port is in use"
                    f" by another process. Stop that process or choose another port with"
                    f" {PORT_VARIABLE}."
                ) from None
            raise
        self._controller = controller

    def stop(self) -> None:
        """Stop listening and wait for the server's thread to end; stored mail stays."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
