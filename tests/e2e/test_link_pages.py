"""The pages emailed links open: showing one changes nothing, pressing its button does once."""

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kabinet.identity.v1 import identity_pb2 as pb
from kabinet.identity.v1 import identity_pb2_grpc
from kabinet.rpc.client import create_channel
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PASSWORD = "Vesna-Kuku-2024"


async def _link(cluster: Cluster, email: str, page: str) -> str:
    message = await cluster.mailbox.wait_for(
        email, lambda m: any(f"/{page}?" in link for link in m.links), timeout=15
    )
    return next(link for link in message.links if f"/{page}?" in link)


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_activation_page_needs_a_press_and_works_once(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"page-{uuid.uuid4().hex[:8]}@example.com"
    await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "language": "ru"}
    )
    link = await _link(cluster, email, "activate")
    path = urlsplit(link).path + "?" + urlsplit(link).query

    shown = await http.get(path, headers={"accept-language": "ru"})
    assert shown.status_code == 200
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert f'value="{_token(link)}"' in shown.text
    assert "Активировать" in shown.text
    # Opening the link (as a mail scanner would) activated nothing.
    early = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert early.json()["code"] == "account.not_activated"

    pressed = await http.post(
        "/activate", data={"token": _token(link)}, headers={"accept-language": "ru"}
    )
    assert pressed.status_code == 200
    assert "Учётная запись активирована" in pressed.text
    again = await http.post("/activate", data={"token": _token(link)})
    assert again.status_code == 400
    assert 'role="alert"' in again.text

    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


async def test_a_foreign_origin_cannot_press_the_button(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    reply = await http.post(
        "/activate", data={"token": "x" * 43}, headers={"origin": "https://evil.example"}
    )
    assert reply.status_code == 403
    # A page that hides its origin (no-referrer) is told apart by Fetch Metadata.
    for site, status in (("cross-site", 403), ("same-site", 403), ("same-origin", 400)):
        reply = await http.post(
            "/activate",
            data={"token": "x" * 43},
            headers={"origin": "null", "sec-fetch-site": site},
        )
        assert reply.status_code == status, site


async def test_buyer_without_account_creates_a_password_and_is_signed_in(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    descriptor = pb.DESCRIPTOR.services_by_name["IdentityService"]
    async with create_channel(
        cluster.environ["KABINET_IDENTITY_ADDR"], services=[descriptor]
    ) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        first = await stub.EnsureAccountForPurchase(
            pb.EnsureAccountForPurchaseRequest(email=email, language="en", order_id="o-1")
        )
        second = await stub.EnsureAccountForPurchase(
            pb.EnsureAccountForPurchaseRequest(email=email, language="en", order_id="o-1")
        )
    assert first.created
    assert not second.created
    assert first.account_id == second.account_id

    link = await _link(cluster, email, "create-password")
    weak = await http.post("/create-password", data={"token": _token(link), "password": "qwerty"})
    assert weak.status_code == 400
    assert "8" in weak.text  # the rule that broke is named
    done = await http.post("/create-password", data={"token": _token(link), "password": PASSWORD})
    assert done.status_code == 200
    assert any(h.startswith("__Host-kabinet_at=") for h in done.headers.get_list("set-cookie"))
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    assert len(cluster.mailbox.find(to=email)) == 1  # the second call sent nothing


async def test_reset_page_sets_a_new_password(cluster: Cluster, http: httpx.AsyncClient) -> None:
    email = f"reset-{uuid.uuid4().hex[:8]}@example.com"
    await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "language": "en"}
    )
    await http.post("/activate", data={"token": _token(await _link(cluster, email, "activate"))})
    await http.post("/api/v1/auth/password/forgot", json={"email": email})
    link = await _link(cluster, email, "reset-password")
    new_password = "Grusha-Tramvai-77"
    reply = await http.post(
        "/reset-password", data={"token": _token(link), "password": new_password}
    )
    assert reply.status_code == 200
    old = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    new = await http.post("/api/v1/auth/login", json={"email": email, "password": new_password})
    assert new.status_code == 200
