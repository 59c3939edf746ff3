"""Subscriptions through the gateway on real servers: plans are public; a signed-in person adds an
activation code (issued over the IssueCodes RPC), sees the subscription and its entitlements, and
a code with a wrong check character is refused with its code."""

import httpx
import pytest

from kabinet.testing.accounts import issue_codes, signed_in
from kabinet.testing.cluster import Cluster
from subscription.domain import codes

pytestmark = pytest.mark.e2e


async def test_plans_are_public_with_regional_prices(http: httpx.AsyncClient) -> None:
    reply = await http.get("/api/v1/plans", params={"region": "RU"})
    assert reply.status_code == 200
    plans = reply.json()
    assert [p["tier"] for p in plans] == ["standard", "plus", "premium"]
    assert {p["currency"] for o in plans[0]["options"] for p in o["prices"]} == {"RUB"}
    russian = await http.get("/api/v1/plans", headers={"accept-language": "ru"})
    assert russian.json()[2]["name"] == "Премиум"


async def test_signed_out_callers_are_asked_to_sign_in(http: httpx.AsyncClient) -> None:
    for path in ("/api/v1/subscriptions", "/api/v1/entitlements"):
        reply = await http.get(path)
        assert reply.status_code == 401
        assert reply.json()["code"] == "auth.required"
    refused = await http.post("/api/v1/subscriptions/codes", json={"code": "x"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.required"


async def test_add_a_code_then_see_the_subscription_and_entitlements_then_renew(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await signed_in(cluster, http, "sub")
    assert (await http.get("/api/v1/subscriptions", headers=auth)).json() == []
    first, second = await issue_codes(cluster, "premium", devices=3, term_months=12, count=2)

    added = await http.post(
        "/api/v1/subscriptions/codes", json={"code": first.lower()}, headers=auth
    )
    assert added.status_code == 200, added.text
    sub = added.json()
    assert (sub["plan_id"], sub["tier"], sub["devices"], sub["status"]) == (
        "premium",
        "premium",
        3,
        "active",
    )
    assert not sub["renewed"]

    listed = (await http.get("/api/v1/subscriptions", headers=auth)).json()
    assert [s["id"] for s in listed] == [sub["id"]]
    entitlements = (await http.get("/api/v1/entitlements", headers=auth)).json()
    assert {e["feature"] for e in entitlements} >= {"antivirus", "vpn", "priority_support"}
    assert {e["subscription_id"] for e in entitlements} == {sub["id"]}

    renewed = await http.post("/api/v1/subscriptions/codes", json={"code": second}, headers=auth)
    assert renewed.status_code == 200
    assert renewed.json()["id"] == sub["id"]
    assert renewed.json()["renewed"]
    assert renewed.json()["ends_at"][:4] == str(int(sub["ends_at"][:4]) + 1)

    used = await http.post("/api/v1/subscriptions/codes", json={"code": first}, headers=auth)
    assert used.status_code == 200  # the same account again: the same subscription
    _, someone_else = await signed_in(cluster, http, "sub")
    taken = await http.post(
        "/api/v1/subscriptions/codes", json={"code": first}, headers=someone_else
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "code.already_used"


async def test_a_wrong_check_character_is_refused_with_its_code(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await signed_in(cluster, http, "sub")
    [code] = await issue_codes(cluster, "standard", devices=1, term_months=12)
    last = codes.ALPHABET[(codes.ALPHABET.index(code[-1]) + 1) % len(codes.ALPHABET)]
    typo = code[:-1] + last
    refused = await http.post(
        "/api/v1/subscriptions/codes",
        json={"code": typo},
        headers={**auth, "accept-language": "ru"},
    )
    assert refused.status_code == 400
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "code.check_failed"
    assert "опечатка" in problem["detail"]
    malformed = await http.post(
        "/api/v1/subscriptions/codes", json={"code": "HELLO-WORLD"}, headers=auth
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "code.malformed"
    unknown = await http.post(
        "/api/v1/subscriptions/codes", json={"code": codes.generate().formatted()}, headers=auth
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "code.not_found"
    assert (await http.get("/api/v1/subscriptions", headers=auth)).json() == []
