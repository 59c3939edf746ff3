"""Where outgoing mail goes: the SMTP URL, parsed once, and a client made from it.

``smtp://host:port`` speaks plain SMTP (a local relay or the development sink),
``smtp+starttls://host:port`` upgrades with STARTTLS (and refuses a server that can't) and
``smtps://host:port`` is TLS from the first byte. ``user:password@`` (percent-encoded) turns on
AUTH. The password never appears in errors or ``repr``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit

import aiosmtplib


class SmtpSecurity(StrEnum):
    PLAIN = "plain"
    STARTTLS = "starttls"
    TLS = "tls"


_SCHEMES = {
    "smtp": (SmtpSecurity.PLAIN, 25),
    "smtp+starttls": (SmtpSecurity.STARTTLS, 587),
    "smtps": (SmtpSecurity.TLS, 465),
}


class SmtpUrlError(ValueError):
    """KABINET_SMTP_URL is not a URL the sender understands."""


@dataclass(frozen=True)
class SmtpEndpoint:
    """A parsed SMTP URL."""

    host: str
    port: int
    security: SmtpSecurity
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def redacted(self) -> str:
        """The URL with the password left out, for logs and errors."""
        scheme = next(s for s, (sec, _) in _SCHEMES.items() if sec is self.security)
        user = f"{self.username}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"

    def client(self, *, timeout: float, local_hostname: str | None = None) -> aiosmtplib.SMTP:
        """A not-yet-connected aiosmtplib client for this endpoint."""
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security is SmtpSecurity.TLS,
            # Plain means plain: no opportunistic upgrade that a bad certificate would then fail.
            start_tls=self.security is SmtpSecurity.STARTTLS,
            timeout=timeout,
            # getfqdn() may wait on reverse DNS; the host name is enough for EHLO.
            local_hostname=local_hostname or socket.gethostname(),
        )


def _bad(url: str, why: str) -> SmtpUrlError:
    parts = urlsplit(url)
    shown = url
    if parts.password is not None:
        shown = url.replace(f":{parts.password}@", ":***@", 1)
    return SmtpUrlError(
        f"KABINET_SMTP_URL {shown!r} is not usable: {why}."
        " Expected smtp://host:port, smtp+starttls://host:port or smtps://host:port,"
        " optionally with user:password@ (percent-encoded) before the host."
    )


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """Parse ``url`` or raise ``SmtpUrlError`` saying what is wrong (without the password)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise _bad(url, str(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise _bad(url, f"unknown scheme {parts.scheme!r}" if scheme else "no scheme")
    if not parts.hostname:
        raise _bad(url, "no host")
    if port == 0:
        raise _bad(url, "port 0 is not a port to send to")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise _bad(url, "a path, query or fragment has no meaning here")
    if (parts.username is None) != (parts.password is None) or parts.username == "":
        raise _bad(url, "give both user and password, or neither")
    security, default_port = _SCHEMES[scheme]
    return SmtpEndpoint(
        host=parts.hostname,
        port=port if port is not None else default_port,
        security=security,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )
