"""Downloads through the gateway on real servers: entitlement-gated listings and signed links,
the file with its checksum and Range, refused links, publishing, send-to-device by mail and QR.
Subscribers are made the way people become them: codes issued over IssueCodes and redeemed."""

import asyncio
import hashlib
import json
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import grpc
import httpx
import nats
import pytest
import zxingcpp
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from distribution.domain import links
from kabinet import admin
from kabinet.distribution.v1 import distribution_pb2 as dpb
from kabinet.distribution.v1 import distribution_pb2_grpc, events_pb2
from kabinet.testing.accounts import PASSWORD, subscriber
from kabinet.testing.cluster import Cluster

pytestmark = pytest.mark.e2e

WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
)


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
    _, auth = await subscriber(cluster, http, "plus")
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
    _, standard = await subscriber(cluster, http, "standard")
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
    cluster: Cluster, http: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    _, owner = await subscriber(cluster, http, "plus")
    _, other = await subscriber(cluster, http, "plus")
    listing = (await http.get("/api/v1/downloads?platform=linux", headers=owner)).json()
    artifact = _app(listing, "security_plus")["recommended"]
    url = await _link(http, owner, artifact["id"])
    link = parse_qs(urlsplit(url).query)["sig"][0]
    assert (await http.get(url, headers=owner)).status_code == 200
    await asyncio.sleep(0.2)  # let the gateway's server span end
    attributes = [
        str(v) for span in spans.get_finished_spans() for v in (span.attributes or {}).values()
    ]
    assert any("/api/v1/downloads/file" in value for value in attributes)
    assert any(value.endswith("/api/v1/downloads/file?sig=REDACTED") for value in attributes)
    assert not any(link in value for value in attributes)  # a link is a secret: never in a span

    version, art, account, expires, signature = link.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (
        f"{version}.{art}.{account}.{expires}.{flipped}",
        f"{version}.{art}.{account}.{int(expires) + 3600}.{signature}",
        f"{version}.{art}.{uuid.uuid4().hex}.{expires}.{signature}",
        "garbage",
    ):
        refused = await http.get("/api/v1/downloads/file", params={"sig": forged}, headers=owner)
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
        "/api/v1/downloads/file", params={"sig": links.sign(key, claims)}, headers=owner
    )
    assert gone.status_code == 410
    assert gone.json()["code"] == "download.link_expired"


async def _upload(
    stub: distribution_pb2_grpc.DistributionServiceStub,
    header: dpb.UploadHeader,
    data: bytes,
    operator: tuple[tuple[str, str]],
) -> dpb.UploadArtifactResponse:
    async def parts() -> AsyncIterator[dpb.UploadArtifactRequest]:
        yield dpb.UploadArtifactRequest(header=header)
        for offset in range(0, len(data), 64 * 1024):
            yield dpb.UploadArtifactRequest(chunk=data[offset : offset + 64 * 1024])

    return await stub.UploadArtifact(parts(), timeout=30, metadata=operator)


async def _published(
    cluster: Cluster, header: dpb.UploadHeader, data: bytes
) -> dpb.UploadArtifactResponse:
    """Upload ``data`` as an operator would and publish its release."""
    operator = await cluster.operator_metadata()
    async with grpc.aio.insecure_channel(cluster.common.addresses.distribution) as channel:
        stub = distribution_pb2_grpc.DistributionServiceStub(channel)
        uploaded = await _upload(stub, header, data, operator)
        await stub.PublishRelease(
            dpb.PublishReleaseRequest(release_id=uploaded.release.id), timeout=10, metadata=operator
        )
    return uploaded


async def test_publishing_a_new_release_makes_it_the_recommended_one(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await subscriber(cluster, http, "premium")
    before = _app(
        (await http.get("/api/v1/downloads?platform=windows", headers=auth)).json(),
        "parental_control",
    )
    version = f"9.{uuid.uuid4().int % 1000}.0"
    data = uuid.uuid4().bytes * 5000
    digest = hashlib.sha256(data).hexdigest()
    header = dpb.UploadHeader(
        application_id="parental_control",
        version=version,
        channel=dpb.CHANNEL_STABLE,
        platform=dpb.PLATFORM_WINDOWS,
        language="multi",
        file_name=f"kabinet-kids-{version}-setup.exe",
        sha256=digest,
    )
    operator = await cluster.operator_metadata()
    async with grpc.aio.insecure_channel(cluster.common.addresses.distribution) as channel:
        stub = distribution_pb2_grpc.DistributionServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as wrong:
            await _upload(
                stub, header, data + b"x", operator
            )  # bytes that do not match the checksum
        assert wrong.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        uploaded = await _upload(stub, header, data, operator)
        assert uploaded.artifact.sha256 == digest
        assert uploaded.artifact.size == len(data)
        draft = _app(
            (await http.get("/api/v1/downloads?platform=windows", headers=auth)).json(),
            "parental_control",
        )
        assert draft["recommended"]["id"] == before["recommended"]["id"]  # a draft is not offered
        published = await stub.PublishRelease(
            dpb.PublishReleaseRequest(release_id=uploaded.release.id), timeout=10, metadata=operator
        )
        assert published.release.latest

        after = _app(
            (await http.get("/api/v1/downloads?platform=windows", headers=auth)).json(),
            "parental_control",
        )
        assert after["recommended_version"] == version
        assert after["recommended"]["sha256"] == digest
        fetched = await http.get(await _link(http, auth, after["recommended"]["id"]), headers=auth)
        assert hashlib.sha256(fetched.content).hexdigest() == digest

        await stub.WithdrawRelease(
            dpb.WithdrawReleaseRequest(release_id=uploaded.release.id),
            timeout=10,
            metadata=operator,
        )
        back = _app(
            (await http.get("/api/v1/downloads?platform=windows", headers=auth)).json(),
            "parental_control",
        )
        assert back["recommended"]["id"] == before["recommended"]["id"]
        withdrawn = await http.post(
            "/api/v1/downloads/links",
            json={"artifact_id": after["recommended"]["id"]},
            headers=auth,
        )
        assert withdrawn.status_code == 404


def _png_pixels(png: bytes) -> tuple[bytes, int, int]:
    """Grey pixels of the (non-interlaced, 1- or 8-bit greyscale or palette) PNG segno writes."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, palette = 8, b"", None
    width = height = depth = colour = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
        elif kind == b"PLTE":
            palette = [data[i : i + 3] for i in range(0, len(data), 3)]
        elif kind == b"IDAT":
            idat += data
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    out = bytearray()
    previous = bytearray(stride)
    for row in range(height):
        filter_type = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)])
        assert filter_type in (0, 2), filter_type
        if filter_type == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        previous = line
        for x in range(width):
            if depth == 8:
                value = line[x]
            else:
                value = (line[x * depth // 8] >> (8 - depth - (x * depth) % 8)) & ((1 << depth) - 1)
            if colour == 3 and palette is not None:
                value = palette[value][0]
            elif depth < 8:
                value = value * 255 // ((1 << depth) - 1)
            out.append(value)
    return bytes(out), width, height


async def test_send_to_device_emails_a_working_link_and_the_qr_code_decodes_to_it(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    email, auth = await subscriber(cluster, http, "plus")
    sent = await http.post(
        "/api/v1/downloads/send", json={"application_id": "vpn", "platform": "macos"}, headers=auth
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["sent_to"] == email
    message = await cluster.mailbox.wait_for(
        email, lambda m: any("/get/vpn" in link for link in m.links), timeout=15
    )
    link = next(link for link in message.links if "/get/vpn" in link)
    assert link == f"{cluster.gateway_url}/get/vpn?platform=macos"

    png = await http.get(
        "/api/v1/downloads/qr",
        params={"application_id": "vpn", "platform": "macos", "format": "png"},
        headers=auth,
    )
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    pixels, width, height = _png_pixels(png.content)
    decoded = zxingcpp.read_barcodes(memoryview(pixels).cast("B", (height, width)))
    assert [d.text for d in decoded] == [link]
    svg = await http.get(
        "/api/v1/downloads/qr", params={"application_id": "vpn", "platform": "macos"}, headers=auth
    )
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.content.startswith(b"<svg")

    page = await http.get(link)
    assert page.status_code == 200
    assert 'name="password"' in page.text
    signed_in = await http.post(
        urlsplit(link).path, data={"email": email, "password": PASSWORD, "platform": "macos"}
    )
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers.get_list("set-cookie")
    access = next(c.split(";")[0] for c in cookie if c.startswith("__Host-kabinet_at="))
    href = signed_in.text.split('id="download" href="')[1].split('"')[0].replace("&amp;", "&")
    assert href.startswith(f"{cluster.gateway_url}/api/v1/downloads/file?sig=")
    installer = await http.get(href, headers={"cookie": access})
    assert installer.status_code == 200
    listing = (await http.get("/api/v1/downloads?platform=macos", headers=auth)).json()
    expected = _app(listing, "vpn")["recommended"]
    assert expected["platform"] == "macos"
    assert hashlib.sha256(installer.content).hexdigest() == expected["sha256"]

    wrong = await http.post(
        urlsplit(link).path, data={"email": email, "password": "Wrong-Pass-1", "platform": "macos"}
    )
    assert wrong.status_code == 400
    assert 'role="alert"' in wrong.text


async def test_operators_publish_with_the_admin_command(
    cluster: Cluster,
    http: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The CLI signs its operator token with identity's key, read with the database credentials.
    for name in ("KABINET_DISTRIBUTION_ADDR", "KABINET_DATABASE_URL", "KABINET_PUBLIC_URL"):
        monkeypatch.setenv(name, cluster.environ[name])
    installer = tmp_path / "kabinet-vpn-beta-setup.exe"
    installer.write_bytes(uuid.uuid4().bytes * 1000)
    version = f"3.{uuid.uuid4().int % 1000}.0-beta"
    upload = ["releases", "upload", "vpn", version, "windows", str(installer), "--channel", "beta"]
    assert await asyncio.to_thread(admin.main, upload) == 0
    draft = capsys.readouterr().out
    release_id = draft.split()[0]
    assert "draft" in draft
    assert hashlib.sha256(installer.read_bytes()).hexdigest() in draft
    assert await asyncio.to_thread(admin.main, ["releases", "publish", release_id]) == 0
    assert "published latest" in capsys.readouterr().out
    _, auth = await subscriber(cluster, http, "plus")
    listing = (await http.get("/api/v1/downloads?platform=windows", headers=auth)).json()
    beta = next(r for r in _app(listing, "vpn")["releases"] if r["channel"] == "beta")
    assert beta["version"] == version
    assert await asyncio.to_thread(admin.main, ["releases", "withdraw", release_id]) == 0
    assert "withdrawn" in capsys.readouterr().out
    assert await asyncio.to_thread(admin.main, ["releases", "publish", release_id]) == 1
    assert "FAILED_PRECONDITION" in capsys.readouterr().err


async def _events(cluster: Cluster, subject: str, wanted: str, message_cls: Any) -> Any:
    """The first event on ``subject`` whose payload mentions ``wanted`` (waits up to 15 s)."""
    connection = await nats.connect(cluster.environ["KABINET_NATS_URL"])
    try:
        subscription = await connection.jetstream().subscribe(subject, ordered_consumer=True)
        deadline = asyncio.get_running_loop().time() + 15
        while asyncio.get_running_loop().time() < deadline:
            message = await subscription.next_msg(timeout=15)
            event = message_cls.FromString(message.data)
            if wanted in str(event):
                return event
        raise AssertionError(f"no {subject} event about {wanted}")
    finally:
        await connection.close()


async def test_events_out_and_entitlement_changes_in(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await subscriber(cluster, http, "plus")
    account = (await http.get("/api/v1/auth/session", headers=auth)).json()["account_id"]
    listing = (await http.get("/api/v1/downloads?platform=windows", headers=auth)).json()
    artifact = _app(listing, "vpn")["recommended"]
    url = await _link(http, auth, artifact["id"])
    assert (await http.get(url, headers=auth)).status_code == 200
    started = await _events(
        cluster, "distribution.download.started", account, events_pb2.DownloadStarted
    )
    assert started.artifact_id == artifact["id"]
    assert "link" not in str(started).lower()

    # subscription.entitlements.changed reached distribution's consumer: the account's snapshot.
    conn = await asyncpg.connect(cluster.environ["KABINET_DATABASE_URL"])
    try:
        features: list[str] = []
        for _ in range(150):
            raw = await conn.fetchval(
                "SELECT entitlements FROM distribution.entitlement_snapshots WHERE account_id = $1",
                uuid.UUID(account),
            )
            if raw is not None:
                features = sorted(e["feature"] for e in json.loads(raw))
                break
            await asyncio.sleep(0.1)
        assert features == ["antivirus", "password_manager", "vpn"]
    finally:
        await conn.close()

    uploaded_version = f"5.{uuid.uuid4().int % 1000}.0"
    data = uuid.uuid4().bytes * 100
    uploaded = await _published(
        cluster,
        dpb.UploadHeader(
            application_id="password_manager",
            version=uploaded_version,
            channel=dpb.CHANNEL_BETA,
            platform=dpb.PLATFORM_LINUX,
            file_name="kabinet-passwords.deb",
            sha256=hashlib.sha256(data).hexdigest(),
        ),
        data,
    )
    published = await _events(
        cluster, "distribution.release.published", uploaded.release.id, events_pb2.ReleasePublished
    )
    assert (published.application, published.version, published.channel) == (
        "password_manager",
        uploaded_version,
        "beta",
    )


async def test_an_installer_missing_from_the_store_is_a_clean_404(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    _, auth = await subscriber(cluster, http, "premium")
    data = uuid.uuid4().bytes * 64
    version = f"0.{uuid.uuid4().int % 1000}.1"
    uploaded = await _published(
        cluster,
        dpb.UploadHeader(
            application_id="security_premium",
            version=version,
            channel=dpb.CHANNEL_BETA,
            platform=dpb.PLATFORM_MACOS,
            file_name="kabinet-total.dmg",
            sha256=hashlib.sha256(data).hexdigest(),
        ),
        data,
    )
    url = await _link(http, auth, uploaded.artifact.id)
    objects = Path(cluster.environ["KABINET_OBJECTSTORE_DIR"]) / "objects"
    [stored] = [
        p
        for p in objects.rglob("kabinet-total.dmg")
        if uploaded.artifact.id.replace("-", "") in str(p)
    ]
    stored.unlink()
    missing = await http.get(url, headers=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "artifact.not_found"
