"""Edge rules of the gateway that need no service: client IP, CSRF, revocations, languages."""

import time
from datetime import timedelta
from typing import Any

import pytest
from litestar import Request

from gateway.auth import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    RevocationList,
    check_csrf,
)
from gateway.client_ip import client_ip, parse_networks
from kabinet.errors import DomainError
from kabinet.messages import pick_language

ORIGINS = frozenset({"https://my.example.com"})


def _request(
    method: str = "POST",
    headers: dict[str, str] | None = None,
    cookies: dict[str, str] | None = None,
    peer: str = "203.0.113.7",
) -> Request[Any, Any, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    scope = {
        "type": "http",
        "method": method,
        "path": "/api/v1/account",
        "headers": raw,
        "client": (peer, 5555),
        "query_string": b"",
        "app": None,
    }
    return Request(scope)  # type: ignore[arg-type]


class TestClientIp:
    def test_without_trusted_proxies_the_header_is_ignored(self) -> None:
        request = _request(headers={"x-forwarded-for": "1.2.3.4"}, peer="10.0.0.5")
        assert client_ip(request, ()) == "10.0.0.5"

    def test_an_untrusted_peer_cannot_claim_another_ip(self) -> None:
        proxies = parse_networks(["10.0.0.0/8"])
        request = _request(headers={"x-forwarded-for": "1.2.3.4"}, peer="198.51.100.9")
        assert client_ip(request, proxies) == "198.51.100.9"

    def test_behind_a_trusted_proxy_the_first_untrusted_hop_from_the_right_wins(self) -> None:
        proxies = parse_networks(["10.0.0.0/8"])
        request = _request(
            headers={"x-forwarded-for": "6.6.6.6, 1.2.3.4, 10.1.1.1"}, peer="10.0.0.5"
        )
        # 6.6.6.6 was written by the client itself; 1.2.3.4 is what our proxy saw.
        assert client_ip(request, proxies) == "1.2.3.4"

    def test_garbage_in_the_header_falls_back_to_the_peer(self) -> None:
        proxies = parse_networks(["10.0.0.0/8"])
        request = _request(headers={"x-forwarded-for": "not-an-ip"}, peer="10.0.0.5")
        assert client_ip(request, proxies) == "10.0.0.5"


class TestCsrf:
    def test_a_cookie_request_without_the_token_is_refused(self) -> None:
        request = _request(cookies={ACCESS_COOKIE: "t", CSRF_COOKIE: "abc"})
        with pytest.raises(DomainError) as error:
            check_csrf(request, ORIGINS)
        assert error.value.code == "auth.csrf_failed"

    def test_a_wrong_token_is_refused(self) -> None:
        request = _request(
            headers={"x-csrf-token": "abd"}, cookies={ACCESS_COOKIE: "t", CSRF_COOKIE: "abc"}
        )
        with pytest.raises(DomainError):
            check_csrf(request, ORIGINS)

    def test_the_matching_token_passes(self) -> None:
        request = _request(
            headers={"x-csrf-token": "abc", "origin": "https://my.example.com"},
            cookies={REFRESH_COOKIE: "r", CSRF_COOKIE: "abc"},
        )
        check_csrf(request, ORIGINS)

    def test_a_foreign_origin_is_refused_even_with_the_token(self) -> None:
        request = _request(
            headers={"x-csrf-token": "abc", "origin": "https://evil.example"},
            cookies={ACCESS_COOKIE: "t", CSRF_COOKIE: "abc"},
        )
        with pytest.raises(DomainError):
            check_csrf(request, ORIGINS)

    def test_safe_methods_and_bearer_requests_need_no_token(self) -> None:
        check_csrf(_request("GET", cookies={ACCESS_COOKIE: "t"}), ORIGINS)
        check_csrf(
            _request(headers={"authorization": "Bearer x"}, cookies={ACCESS_COOKIE: "t"}), ORIGINS
        )


class TestRevocationList:
    def test_a_revoked_session_is_refused_for_the_window_only(self) -> None:
        revocations = RevocationList(timedelta(seconds=60))
        revocations.add("s1")
        revocations.add("s2", revoked_at=time.time() - 120)
        assert revocations.is_revoked("s1")
        assert not revocations.is_revoked("s2")
        assert not revocations.is_revoked("s3")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("de-DE,en;q=0.5,ru;q=0.7", "ru"),
        ("fr", "en"),
        ("en;q=0.1,ru;q=bad", "en"),
    ],
)
def test_language_follows_accept_language(header: str | None, expected: str) -> None:
    assert pick_language(header) == expected
