"""The caller's IP: the socket peer, or X-Forwarded-For only behind a configured trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from litestar import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_ip(request: Request[Any, Any, Any], proxies: Sequence[Network]) -> str:
    """Walk X-Forwarded-For from the right, skipping trusted proxies; the first untrusted hop is
    the client. Without a trusted peer the header is ignored entirely (it is client-controlled)."""
    peer = request.client.host if request.client else ""
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer


def from_trusted_proxy(request: Request[Any, Any, Any], proxies: Sequence[Network]) -> bool:
    """Whether the socket peer is a configured trusted proxy (whose headers may be believed)."""
    peer = request.client.host if request.client else ""
    return bool(proxies) and _trusted(peer, proxies)
