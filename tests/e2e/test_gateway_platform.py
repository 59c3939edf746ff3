"""The gateway's platform surface through real HTTP: probes, OpenAPI, problem+json everywhere."""

import html
import re
import uuid

import httpx
import pytest

from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


async def test_healthz_answers(http: httpx.AsyncClient) -> None:
    reply = await http.get("/healthz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok"}


async def test_readyz_lists_every_service_up(http: httpx.AsyncClient) -> None:
    reply = await http.get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {
        "status": "ready",
        "services": {
            "identity": "up",
            "subscription": "up",
            "distribution": "up",
            "support": "up",
        },
    }


async def test_openapi_document_describes_the_api(http: httpx.AsyncClient) -> None:
    reply = await http.get("/schema/openapi.json")
    assert reply.status_code == 200
    paths = reply.json()["paths"]
    assert "/api/v1/auth/register" in paths
    assert "/api/v1/account" in paths
    assert "/dev/mailbox" not in paths  # development pages stay out of the contract


async def test_api_docs_are_served_from_the_gateway_itself(http: httpx.AsyncClient) -> None:
    page = await http.get("/schema")
    assert page.status_code == 200
    assert "<script>" not in page.text  # nothing inline: the page obeys the gateway's CSP
    assert 'data-openapi-url="/schema/openapi.json"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    for source in sources:
        assert source.startswith("/schema/assets/"), source  # no CDN
        asset = await http.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100


async def test_every_answer_carries_the_edge_headers(http: httpx.AsyncClient) -> None:
    for path in ("/", "/healthz", "/no/such/page", "/api/v1/plans"):
        reply = await http.get(path)
        assert reply.headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"], path
        assert len(reply.headers["x-request-id"]) >= 16, path


async def test_unknown_route_is_a_problem_with_a_stable_code(http: httpx.AsyncClient) -> None:
    reply = await http.get("/no/such/page", headers={"accept-language": "ru-RU,ru;q=0.9"})
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith(PROBLEM)
    body = reply.json()
    assert body["code"] == "request.not_found"
    assert body["status"] == 404
    assert body["detail"] == "Здесь ничего нет."
    assert body["title"] == "Nothing is here."


@pytest.mark.parametrize(
    "content",
    [b"{", b'{"email": "a@b.c", "password": ', b"[" * 10_000 + b"]" * 10_000, b"\xff\xfe"],
    ids=["truncated", "cut-mid-value", "deeply-nested", "not-utf8"],
)
async def test_malformed_json_is_a_4xx_problem_never_a_500(
    http: httpx.AsyncClient, content: bytes
) -> None:
    reply = await http.post(
        "/api/v1/auth/login", content=content, headers={"content-type": "application/json"}
    )
    assert 400 <= reply.status_code < 500
    assert reply.headers["content-type"].startswith(PROBLEM)
    assert "Traceback" not in reply.text


async def test_a_missing_field_names_the_field(http: httpx.AsyncClient) -> None:
    reply = await http.post("/api/v1/auth/login", json={"email": "a@example.com"})
    assert reply.status_code == 400
    body = reply.json()
    assert body["code"] == "request.invalid"
    assert any(v["field"] == "password" for v in body.get("violations", []))


async def test_an_oversized_body_is_refused_with_413(http: httpx.AsyncClient) -> None:
    password = "A1a" + "x" * 1_048_576
    reply = await http.post(
        "/api/v1/auth/login", json={"email": "big@example.com", "password": password}
    )
    assert reply.status_code == 413
    assert reply.json()["code"] == "request.too_large"


async def test_method_not_allowed_is_a_problem(http: httpx.AsyncClient) -> None:
    reply = await http.delete("/healthz")
    assert reply.status_code == 405
    assert reply.json()["code"] == "request.method_not_allowed"


async def test_front_page_points_to_the_docs_and_the_mailbox(http: httpx.AsyncClient) -> None:
    reply = await http.get("/")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert 'href="/schema"' in reply.text
    assert 'href="/dev/mailbox"' in reply.text
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_mailbox_page_lists_mail_with_working_links(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"box-{uuid.uuid4().hex[:8]}@example.com"
    await http.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "Vesna-Kuku-2024", "language": "en"},
    )
    message = await cluster.mailbox.wait_for(email, timeout=15)
    index = await http.get("/dev/mailbox")
    assert index.status_code == 200
    assert f'href="/dev/mailbox/{message.key}"' in index.text
    page = await http.get(f"/dev/mailbox/{message.key}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    link = message.links[0]
    assert f'<a href="{html.escape(link)}">' in page.text
    missing = await http.get("/dev/mailbox/no-such-message")
    assert missing.status_code == 404
