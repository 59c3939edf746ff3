"""The region hint the gateway passes to identity: the configured header, believed only from a
trusted proxy."""

from typing import Any

import pytest
from litestar import Request
from litestar.datastructures import State

from gateway.client_ip import parse_networks
from gateway.controllers.social import region_hint


class _Settings:
    region_header = "X-Client-Region"


def _state(proxies: str) -> State:
    return State({"trusted_proxies": parse_networks(proxies.split(",")), "settings": _Settings()})


def _request(peer: str, headers: dict[str, str]) -> Request[Any, Any, Any]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/auth/providers",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 5555),
        "query_string": b"",
        "app": None,
    }
    return Request(scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("proxies", "peer", "expected"),
    [
        ("10.0.0.0/8", "10.1.2.3", "RU"),  # the edge vouches
        ("10.0.0.0/8", "203.0.113.9", ""),  # a client sending the header itself
        ("", "10.1.2.3", ""),  # no trusted proxies configured: never believed
    ],
)
def test_the_region_header_is_believed_only_from_a_trusted_proxy(
    proxies: str, peer: str, expected: str
) -> None:
    request = _request(peer, {"X-Client-Region": "RU"})
    assert region_hint(request, _state(proxies)) == expected


def test_an_oversized_header_is_cut_before_it_travels() -> None:
    request = _request("10.1.2.3", {"X-Client-Region": "R" * 5000})
    assert len(region_hint(request, _state("10.0.0.0/8"))) <= 8
