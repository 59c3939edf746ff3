"""Hostile text in names and emails is a 4xx problem, never a 500 or a database error."""

import uuid

import httpx
import pytest

from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PASSWORD = "Vesna-Kuku-2024"
HOSTILE = {
    "nul": "\\u0000",
    "lone-surrogate": "\\ud800",
    "bidi-override": "\\u202e",
    "zero-width": "\\u200b",
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_characters_in_an_email_are_refused(
    http: httpx.AsyncClient, name: str
) -> None:
    raw = (
        '{"email": "an' + HOSTILE[name] + 'na@example.com", "password": "' + PASSWORD + '"}'
    ).encode()
    reply = await http.post(
        "/api/v1/auth/register", content=raw, headers={"content-type": "application/json"}
    )
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")


async def test_an_email_over_254_characters_is_refused(http: httpx.AsyncClient) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 50] * 4) + ".com"
    assert len(email) > 254
    reply = await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 400
    assert reply.json()["code"] == "email.invalid"


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_characters_in_a_profile_name_are_refused(
    cluster: Cluster, http: httpx.AsyncClient, name: str
) -> None:
    email = f"hostile-{uuid.uuid4().hex[:8]}@example.com"
    await http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    message = await cluster.mailbox.wait_for(email, timeout=15)
    token = message.links[0].split("token=")[1]
    await http.post("/api/v1/auth/activate", json={"token": token})
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    bearer = {"authorization": f"Bearer {login.json()['access_token']}"}
    raw = ('{"name": "Ан' + HOSTILE[name] + 'на"}').encode()
    reply = await http.patch(
        "/api/v1/account", content=raw, headers={**bearer, "content-type": "application/json"}
    )
    assert 400 <= reply.status_code < 500, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
