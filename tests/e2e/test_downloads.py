"""Downloads through the gateway on real servers: entitlement-gated listings and signed links,
the file with its checksum and Range, refused links, publishing, send-to-device by mail and QR.
Subscribers are made the way people become them: codes issued over IssueCodes and redeemed."""

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest

from distribution.domain import links
from kabinet.subscription.v1 import subscription_pb2 as spb
from kabinet.subscription.v1 import subscription_pb2_grpc
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

PASSWORD = "Vesna-Kuku-2024"
WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
)


async def _account(cluster: Cluster, http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"dl-{uuid.uuid4().hex[:8]}@example.com"
    registered = await http.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, "language": "en"}
    )
    assert registered.status_code == 202
    message = await cluster.mailbox.wait_for(
        email, lambda m: any("/activate?" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if "/activate?" in link)
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert (await http.post("/api/v1/auth/activate", json={"token": token})).status_code == 200
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    return email, {"authorization": f"Bearer {login.json()['access_token']}"}


async def _subscriber(
    cluster: Cluster, http: httpx.AsyncClient, plan: str
) -> tuple[str, dict[str, str]]:
    email, auth = await _account(cluster, http)
    async with grpc.aio.insecure_channel(cluster.common.addresses.subscription) as channel:
        stub = subscription_pb2_grpc.SubscriptionServiceStub(channel)
        reply = await stub.IssueCodes(
            spb.IssueCodesRequest(plan_id=plan, devices=3, term_months=12, count=1), timeout=10
        )
    added = await http.post(
        "/api/v1/subscriptions/codes", json={"code": reply.codes[0]}, headers=auth
    )
    assert added.status_code == 200, added.text
    return email, auth


def _app(listing: dict, app_id: str) -> dict:
    return next(a for a in listing["applications"] if a["id"] == app_id)


async def _link(http: httpx.AsyncClient, auth: dict[str, str], artifact_id: str) -> str:
    reply = await http.post(
        "/api/v1/downloads/links", json={"artifact_id": artifact_id}, headers=auth
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["url"]


async def test_a_plus_subscriber_downloads_the_windows_installer_whole_and_resumed(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await _subscriber(cluster, http, "plus")
    listing = await http.get("/api/v1/downloads", headers={**auth, "user-agent": WINDOWS_UA})
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["platform"] == "windows"
    app = _app(body, "security_plus")
    assert app["entitled"]
    assert app["recommended"]["platform"] == "windows"
    artifact = app["recommended"]

    url = await _link(http, auth, artifact["id"])
    whole = await http.get(url, headers=auth)
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).hexdigest() == artifact["sha256"]
    assert int(whole.headers["content-length"]) == artifact["size"] == len(whole.content)
    assert whole.headers["etag"] == f'"{artifact["sha256"]}"'
    assert whole.headers["content-disposition"].startswith("attachment;")
    assert artifact["file_name"] in whole.headers["content-disposition"]

    resumed = await http.get(
        url, headers={**auth, "range": "bytes=1000-", "if-range": whole.headers["etag"]}
    )
    assert resumed.status_code == 206
    assert resumed.content == whole.content[1000:]
    assert (
        resumed.headers["content-range"] == f"bytes 1000-{artifact['size'] - 1}/{artifact['size']}"
    )
    middle = await http.get(url, headers={**auth, "range": "bytes=10-19"})
    assert middle.status_code == 206
    assert middle.content == whole.content[10:20]
    stale = await http.get(url, headers={**auth, "range": "bytes=10-19", "if-range": '"other"'})
    assert stale.status_code == 200
    assert stale.content == whole.content
    beyond = await http.get(url, headers={**auth, "range": f"bytes={artifact['size']}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{artifact['size']}"

    mobile = await http.get(
        "/api/v1/downloads", headers={**auth, "sec-ch-ua-platform": '"Android"'}
    )
    recommended = _app(mobile.json(), "vpn")["recommended"]
    assert recommended["platform"] == "android"
    assert recommended["store_url"].startswith("https://")
    assert await _link(http, auth, recommended["id"]) == recommended["store_url"]


async def test_a_standard_subscriber_cannot_get_a_plus_application(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, standard = await _subscriber(cluster, http, "standard")
    listing = (await http.get("/api/v1/downloads?platform=windows", headers=standard)).json()
    assert _app(listing, "security_standard")["entitled"]
    vpn = _app(listing, "vpn")
    assert not vpn["entitled"]
    assert vpn["required_plan"]["id"] == "plus"
    refused = await http.post(
        "/api/v1/downloads/links",
        json={"artifact_id": vpn["recommended"]["id"]},
        headers={**standard, "accept-language": "en"},
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "download.not_entitled"
    assert "Plus" in refused.json()["detail"]
    assert "Kabinet VPN" in refused.json()["detail"]
    russian = await http.post(
        "/api/v1/downloads/links",
        json={"artifact_id": vpn["recommended"]["id"]},
        headers={**standard, "accept-language": "ru"},
    )
    assert "«Плюс»" in russian.json()["detail"]


async def test_tampered_expired_and_other_account_links_are_refused(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, owner = await _subscriber(cluster, http, "plus")
    _, other = await _subscriber(cluster, http, "plus")
    listing = (await http.get("/api/v1/downloads?platform=linux", headers=owner)).json()
    artifact = _app(listing, "security_plus")["recommended"]
    url = await _link(http, owner, artifact["id"])
    link = parse_qs(urlsplit(url).query)["link"][0]
    assert (await http.get(url, headers=owner)).status_code == 200

    version, art, account, expires, signature = link.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (
        f"{version}.{art}.{account}.{expires}.{flipped}",
        f"{version}.{art}.{account}.{int(expires) + 3600}.{signature}",
        f"{version}.{art}.{uuid.uuid4().hex}.{expires}.{signature}",
        "garbage",
    ):
        refused = await http.get("/api/v1/downloads/file", params={"link": forged}, headers=owner)
        assert refused.status_code == 403, forged
        assert refused.json()["code"] == "download.link_invalid"

    theirs = await http.get(url, headers=other)
    assert theirs.status_code == 403
    assert theirs.json()["code"] == "download.link_other_account"
    assert (await http.get(url)).status_code == 401

    # A link signed with the cluster's key, for this account and artifact, past its expiry.
    key = cluster.environ["KABINET_DISTRIBUTION_LINK_SECRET"].encode()
    claims = links.LinkClaims(
        uuid.UUID(hex=art), uuid.UUID(hex=account), datetime.now(UTC) - timedelta(seconds=5)
    )
    gone = await http.get(
        "/api/v1/downloads/file", params={"link": links.sign(key, claims)}, headers=owner
    )
    assert gone.status_code == 410
    assert gone.json()["code"] == "download.link_expired"
