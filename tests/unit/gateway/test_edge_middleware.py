"""The edge in front of every request: headers, request ids, CORS and rate limits."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from litestar import Litestar, get, post

from gateway.client_ip import parse_networks
from gateway.edge import PAGE_CSP, EdgeMiddleware, EdgePolicy, SlidingWindow


@get("/page", media_type="text/html")
async def page() -> str:
    return "<p>hi</p>"


@post("/api/v1/auth/login")
async def login() -> dict[str, str]:
    return {"ok": "yes"}


@post("/api/v1/other")
async def other() -> dict[str, str]:
    return {"ok": "yes"}


@get("/oauth2/authorize")
async def authorize() -> str:
    return "consent"


def client(policy: EdgePolicy, peer: str = "203.0.113.5") -> httpx.AsyncClient:
    app = Litestar([page, login, other, authorize])
    edge: Any = EdgeMiddleware(cast(Any, app), policy)
    transport = httpx.ASGITransport(app=edge, client=(peer, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_security_headers_on_pages_and_on_404() -> None:
    async with client(EdgePolicy(hsts_seconds=600)) as http:
        for path in ("/page", "/nothing-here"):
            response = await http.get(path)
            assert response.headers["content-security-policy"] == PAGE_CSP
            assert "'unsafe-inline'" not in PAGE_CSP
            assert "frame-ancestors 'none'" in PAGE_CSP
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
            assert response.headers["strict-transport-security"] == "max-age=600"


async def test_no_hsts_when_disabled() -> None:
    async with client(EdgePolicy(hsts_seconds=0)) as http:
        assert "strict-transport-security" not in (await http.get("/page")).headers


async def test_request_id_is_made_and_only_trusted_from_proxies() -> None:
    offered = {"x-request-id": "abcdef123456"}
    async with client(EdgePolicy()) as http:
        first = (await http.get("/page", headers=offered)).headers["x-request-id"]
        second = (await http.get("/page")).headers["x-request-id"]
    assert first != "abcdef123456"
    assert len({first, second}) == 2
    proxies = parse_networks(["10.0.0.0/8"])
    async with client(EdgePolicy(trusted_proxies=proxies), peer="10.1.2.3") as http:
        assert (await http.get("/page", headers=offered)).headers["x-request-id"] == "abcdef123456"
        bad = (await http.get("/page", headers={"x-request-id": "a b<script>"})).headers
        assert bad["x-request-id"] != "a b<script>"


async def test_cors_only_for_allowed_origins_and_never_on_authorize() -> None:
    policy = EdgePolicy(cors_origins=frozenset({"https://shop.example.com"}))
    async with client(policy) as http:
        allowed = await http.get("/page", headers={"origin": "https://shop.example.com"})
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
        other = await http.get("/page", headers={"origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await http.options(
            "/api/v1/other",
            headers={
                "origin": "https://shop.example.com",
                "access-control-request-method": "POST",
            },
        )
        assert preflight.status_code == 204
        assert "POST" in preflight.headers["access-control-allow-methods"]
        on_authorize = await http.get(
            "/oauth2/authorize", headers={"origin": "https://shop.example.com"}
        )
        assert "access-control-allow-origin" not in on_authorize.headers


async def test_sensitive_posts_are_limited_per_ip() -> None:
    async with client(EdgePolicy(per_ip_per_minute=3)) as http:
        codes = [(await http.post("/api/v1/auth/login")).status_code for _ in range(5)]
        assert codes == [201, 201, 201, 429, 429]
        limited = await http.post("/api/v1/auth/login", headers={"accept-language": "ru"})
        body = limited.json()
        assert body["code"] == "request.rate_limited"
        assert body["detail"].startswith("Слишком много")
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1
        # Routes that are not sensitive, and GETs, are not counted.
        assert (await http.post("/api/v1/other")).status_code == 201
        assert (await http.get("/page")).status_code == 200
    # Another client's address has its own budget.
    async with client(EdgePolicy(per_ip_per_minute=3), peer="198.51.100.1") as http:
        assert (await http.post("/api/v1/auth/login")).status_code == 201


async def test_sensitive_posts_are_limited_per_session() -> None:
    proxies = parse_networks(["10.0.0.0/8"])
    policy = EdgePolicy(trusted_proxies=proxies, per_ip_per_minute=100, per_session_per_minute=2)
    async with client(policy, peer="10.0.0.1") as http:
        codes = []
        for n in range(4):
            # A new client address each time (through the trusted proxy), the same session.
            headers = {"x-forwarded-for": f"198.51.100.{n}", "authorization": "Bearer tok"}
            codes.append((await http.post("/api/v1/auth/login", headers=headers)).status_code)
        assert codes == [201, 201, 429, 429]
        other_session = {"x-forwarded-for": "198.51.100.9", "authorization": "Bearer other"}
        assert (await http.post("/api/v1/auth/login", headers=other_session)).status_code == 201


@pytest.mark.parametrize("elapsed", [0.0, 30.0, 59.0])
def test_sliding_window_forgets_after_a_minute(elapsed: float) -> None:
    window = SlidingWindow(2)
    start = 600.0 + elapsed
    assert window.hit("k", start) is None
    assert window.hit("k", start) is None
    assert window.hit("k", start) is not None
    assert window.hit("k", start + 121.0) is None


def test_sliding_window_keeps_a_bounded_number_of_keys() -> None:
    window = SlidingWindow(1, max_keys=10)
    for n in range(100):
        window.hit(f"k{n}", 1.0)
    assert window.hit("k0", 1.0) is None  # evicted long ago: counted afresh
    assert window.hit("k99", 1.0) is not None
