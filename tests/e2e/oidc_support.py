"""Helpers of the OpenID provider's end-to-end tests: accounts, operators, a cookie-keeping
browser, and gRPC stubs of identity's registry."""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import asyncpg
import grpc
import httpx

from kabinet.identity.v1 import oidc_pb2, oidc_pb2_grpc
from kabinet.testing.cluster import Cluster

PASSWORD = "Vesna-Kuku-2024"


async def active_account(cluster: Cluster, http: httpx.AsyncClient) -> str:
    """A new, activated account's email (its password is ``PASSWORD``)."""
    email = f"oidc-{uuid.uuid4().hex[:10]}@example.com"
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "language": "en"}
    )
    assert registered.status_code == 202
    message = await cluster.mailbox.wait_for(
        email, lambda m: any("/activate?" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if "/activate?" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    activated = await http.post("/api/v1/auth/activate", json={"token": token})
    assert activated.status_code == 200
    return email


async def sign_in(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    reply = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    tokens: dict[str, str] = reply.json()
    return tokens


async def operator_token(cluster: Cluster, http: httpx.AsyncClient) -> str:
    """An access token of a person with the operator role (granted in the database, as an
    operator's tooling would)."""
    email = await active_account(cluster, http)
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        await conn.execute(
            "UPDATE identity.accounts SET roles = '{operator}' WHERE email = $1", email
        )
    finally:
        await conn.close()
    return (await sign_in(http, email))["access_token"]


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def register_client(
    cluster: Cluster, token: str, client: oidc_pb2.OAuthClient
) -> oidc_pb2.RegisterClientResponse:
    async with grpc.aio.insecure_channel(cluster.environ["KABINET_IDENTITY_ADDR"]) as channel:
        stub = oidc_pb2_grpc.ClientRegistryServiceStub(channel)
        reply: oidc_pb2.RegisterClientResponse = await stub.RegisterClient(
            oidc_pb2.RegisterClientRequest(client=client), metadata=bearer(token), timeout=10
        )
        return reply


async def database(cluster: Cluster) -> asyncpg.Connection:
    return await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])


class Browser:
    """A browser over plain HTTP: keeps the ``__Host-`` cookies itself (httpx would not send
    Secure cookies to http://127.0.0.1) and follows no redirects on its own."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.cookies: dict[str, str] = {}
        self.origin = str(http.base_url).rstrip("/")

    def _headers(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep(self, reply: httpx.Response) -> httpx.Response:
        jar: SimpleCookie = SimpleCookie()
        for header in reply.headers.get_list("set-cookie"):
            jar.load(header)
        for name, morsel in jar.items():
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
        return reply

    async def get(self, url: str) -> httpx.Response:
        return self._keep(await self.http.get(url, headers=self._headers()))

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        headers = {**self._headers(), "origin": self.origin}
        return self._keep(await self.http.post(url, data=data, headers=headers))

    async def sign_in(self, return_to: str, email: str) -> httpx.Response:
        reply = await self.post(
            "/oauth2/signin", {"return_to": return_to, "email": email, "password": PASSWORD}
        )
        assert reply.status_code == 303, reply.text
        return reply
