"""The caller's IP: the socket peer, or X-Forwarded-For only behind a configured trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def is_trusted(address: str, proxies: Sequence[Network]) -> bool:
    """Whether ``address`` is one of the configured trusted proxies."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_ip(request: Request[Any, Any, Any], proxies: Sequence[Network]) -> str:
    """The client's address for ``request`` (see ``resolve_client_ip``)."""
    peer = request.client.host if request.client else ""
    return resolve_client_ip(peer, request.headers.get("x-forwarded-for"), proxies)


def resolve_client_ip(peer: str, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """Walk X-Forwarded-For from the right, skipping trusted proxies; the first untrusted hop is
    the client. Without a trusted peer the header is ignored entirely (it is client-controlled)."""
    if not proxies or not is_trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer


def from_trusted_proxy(request: Request[Any, Any, Any], proxies: Sequence[Network]) -> bool:
    """Whether the socket peer is a configured trusted proxy (whose headers may be believed)."""
    peer = request.client.host if request.client else ""
    return bool(proxies) and is_trusted(peer, proxies)
