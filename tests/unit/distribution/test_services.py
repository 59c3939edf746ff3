"""Distribution's use cases on fakes of its ports: what an account may download, links and their
authorisation, uploads that are all or nothing, publishing, latest and withdrawal."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from distribution.domain import errors
from distribution.domain.events import DownloadStarted, ReleasePublished
from distribution.domain.model import (
    Channel,
    Entitlement,
    Platform,
    ReleaseStatus,
    Rights,
    SnapshotUpdate,
    Tier,
    UploadHeader,
)
from distribution.domain.services import DistributionServices
from kabinet.errors import DomainError, ErrorKind

DATA = b"installer bytes " * 4096


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 5000):
        yield data[i : i + 5000]


def header(
    app: str = "vpn", version: str = "1.0.0", platform: Platform = Platform.WINDOWS, **kw: str
) -> UploadHeader:
    values = {
        "language": "multi",
        "file_name": f"{app}-{version}.exe",
        "content_type": "application/octet-stream",
        "sha256": hashlib.sha256(DATA).hexdigest(),
        "store_url": "",
    } | kw
    return UploadHeader(app, version, Channel.STABLE, platform, **values)  # type: ignore[arg-type]


def subscribe(subscriptions: Any, clock: Any, tier: Tier, *features: str) -> str:
    account = uuid.uuid4()
    until = clock.now + timedelta(days=365)
    subscriptions.by_account[account] = Rights(tuple(Entitlement(f, tier, until) for f in features))
    return str(account)


async def release(
    services: DistributionServices, app: str, version: str, data: bytes = DATA
) -> str:
    stored, _ = await services.upload(
        header(app, version, sha256=hashlib.sha256(data).hexdigest()), chunks(data)
    )
    published = await services.publish(str(stored.id))
    return str(published.id)


async def test_listing_gates_by_feature_and_tier_and_names_the_plan(
    services: DistributionServices, subscriptions: Any, clock: Any
) -> None:
    await release(services, "vpn", "1.0.0")
    standard = subscribe(subscriptions, clock, Tier.STANDARD, "antivirus")
    offers = {
        o.application.id: o for o in await services.list_downloads(standard, Platform.WINDOWS, "en")
    }
    assert offers["security_standard"].entitled
    assert not offers["security_plus"].entitled
    assert offers["security_plus"].required_plan.id == "plus"  # type: ignore[union-attr]
    assert offers["vpn"].required_plan.id == "plus"  # type: ignore[union-attr]
    assert offers["parental_control"].required_plan.id == "premium"  # type: ignore[union-attr]
    assert offers["vpn"].recommended is not None
    assert offers["vpn"].recommended.platform is Platform.WINDOWS
    assert offers["vpn"].recommended_release is not None

    # antivirus held by a longer Standard subscription, Plus seen through vpn: the Plus app is in.
    mixed = uuid.uuid4()
    until = clock.now + timedelta(days=30)
    subscriptions.by_account[mixed] = Rights(
        (
            Entitlement("antivirus", Tier.STANDARD, clock.now + timedelta(days=700)),
            Entitlement("vpn", Tier.PLUS, until),
        )
    )
    offers = {o.application.id: o for o in await services.list_downloads(str(mixed), None, "en")}
    assert offers["security_plus"].entitled
    assert not offers["security_premium"].entitled
    assert offers["vpn"].recommended is None  # no platform known: nothing recommended
    clock.now += timedelta(days=31)
    offers = {o.application.id: o for o in await services.list_downloads(str(mixed), None, "en")}
    assert not offers["security_plus"].entitled  # the Plus subscription ran out
    visitor = await services.list_downloads("", Platform.WINDOWS, "en")
    assert not any(o.entitled for o in visitor)
    assert {o.application.id for o in visitor} == set(offers)


async def test_links_are_refused_without_the_entitlement_and_name_the_plan(
    services: DistributionServices, subscriptions: Any, clock: Any
) -> None:
    await release(services, "vpn", "1.0.0")
    standard = subscribe(subscriptions, clock, Tier.STANDARD, "antivirus")
    [offer] = [
        o
        for o in await services.list_downloads(standard, Platform.WINDOWS, "en")
        if o.application.id == "vpn"
    ]
    assert offer.recommended is not None
    with pytest.raises(DomainError) as refused:
        await services.create_link(standard, str(offer.recommended.id))
    assert refused.value.kind is ErrorKind.PERMISSION_DENIED
    assert refused.value.code == errors.NOT_ENTITLED
    assert refused.value.params["plan"] == "Plus"
    assert refused.value.params["application"] == "Kabinet VPN"


async def test_a_link_authorises_once_checked_and_records_the_download(
    services: DistributionServices, subscriptions: Any, clock: Any, store: Any
) -> None:
    await release(services, "vpn", "1.0.0")
    plus = subscribe(subscriptions, clock, Tier.PLUS, "antivirus", "vpn")
    [artifact] = [a for a in store.state.artifacts.values()]
    link = await services.create_link(plus, str(artifact.id))
    assert link.url.startswith("https://portal.example/api/v1/downloads/file?sig=")
    assert link.expires_at == clock.now + timedelta(minutes=10)
    token = parse_qs(urlsplit(link.url).query)["sig"][0]

    authorized = await services.authorize(token, plus, 100)
    assert authorized.artifact.id == artifact.id
    [record] = store.state.downloads
    assert (str(record.account_id), record.range_start) == (plus, 100)
    started = [e for e in store.state.events if isinstance(e, DownloadStarted)]
    assert [e.download.id for e in started] == [authorized.download_id]

    other = subscribe(subscriptions, clock, Tier.PLUS, "antivirus", "vpn")
    with pytest.raises(DomainError) as theirs:
        await services.authorize(token, other, 0)
    assert (theirs.value.kind, theirs.value.code) == (
        ErrorKind.PERMISSION_DENIED,
        errors.LINK_OTHER_ACCOUNT,
    )
    with pytest.raises(DomainError) as tampered:
        await services.authorize(token[:-3] + "AAA", plus, 0)
    assert tampered.value.code == errors.LINK_INVALID

    subscriptions.by_account[uuid.UUID(plus)] = Rights()  # the subscription is gone
    with pytest.raises(DomainError) as gone:
        await services.authorize(token, plus, 0)
    assert gone.value.code == errors.NOT_ENTITLED
    subscriptions.by_account[uuid.UUID(plus)] = Rights(
        (Entitlement("vpn", Tier.PLUS, clock.now + timedelta(days=1)),)
    )
    clock.now += timedelta(minutes=10)
    with pytest.raises(DomainError) as expired:
        await services.authorize(token, plus, 0)
    assert (expired.value.kind, expired.value.code) == (
        ErrorKind.FAILED_PRECONDITION,
        errors.LINK_EXPIRED,
    )
    assert len(store.state.downloads) == 1  # refusals record nothing


async def test_mobile_links_are_the_store_listing(
    services: DistributionServices, subscriptions: Any, clock: Any
) -> None:
    listing = header(
        platform=Platform.ANDROID, store_url="https://play.google.com/store/apps/details?id=x"
    )
    stored, artifact = await services.upload(listing, chunks(b""))
    await services.publish(str(stored.id))
    plus = subscribe(subscriptions, clock, Tier.PLUS, "vpn")
    link = await services.create_link(plus, str(artifact.id))
    assert link.url == "https://play.google.com/store/apps/details?id=x"
    assert link.expires_at is None
    with pytest.raises(DomainError) as no_file:
        await services.upload(header(platform=Platform.IOS, version="2.0"), chunks(DATA))
    assert no_file.value.code == errors.STORE_URL_PLATFORM
    with pytest.raises(DomainError) as http_listing:
        await services.upload(
            header(platform=Platform.IOS, store_url="http://apps.apple.com/x"), chunks(b"")
        )
    assert http_listing.value.code == errors.STORE_URL_INVALID


async def test_uploads_are_all_or_nothing(services: DistributionServices, store: Any) -> None:
    objects = services.objects
    with pytest.raises(DomainError) as mismatch:
        await services.upload(header(sha256="0" * 64), chunks(DATA))
    assert mismatch.value.code == errors.CHECKSUM_MISMATCH
    assert store.state.releases == {}
    assert store.state.artifacts == {}
    for bad, code in (
        (header(version="../1"), errors.VERSION_INVALID),
        (header(file_name="../setup.exe"), errors.FILE_NAME_INVALID),
        (header(sha256="xyz"), errors.CHECKSUM_INVALID),
        (header(language="de"), errors.LANGUAGE_INVALID),
        (header(app="nope"), errors.APPLICATION_NOT_FOUND),
    ):
        with pytest.raises(DomainError) as refused:
            await services.upload(bad, chunks(DATA))
        assert refused.value.code == code

    stored, artifact = await services.upload(header(), chunks(DATA))
    assert artifact.sha256 == hashlib.sha256(DATA).hexdigest()
    assert artifact.object_key is not None
    assert (await objects.stat(artifact.object_key)) is not None
    with pytest.raises(DomainError) as twice:
        await services.upload(header(), chunks(DATA))
    assert twice.value.code == errors.ARTIFACT_EXISTS
    await services.publish(str(stored.id))
    with pytest.raises(DomainError) as published:
        await services.upload(header(language="ru"), chunks(DATA))
    assert published.value.code == errors.RELEASE_NOT_DRAFT
    assert len(store.state.artifacts) == 1


async def test_publish_latest_and_withdraw(
    services: DistributionServices, subscriptions: Any, clock: Any, store: Any
) -> None:
    first = await release(services, "vpn", "1.0.0")
    clock.now += timedelta(minutes=1)
    second = await release(services, "vpn", "1.1.0", DATA + b"!")
    published = [e for e in store.state.events if isinstance(e, ReleasePublished)]
    assert [str(e.release.id) for e in published][-2:] == [first, second]
    plus = subscribe(subscriptions, clock, Tier.PLUS, "vpn")

    async def recommended() -> str:
        [offer] = [
            o
            for o in await services.list_downloads(plus, Platform.WINDOWS, "en")
            if o.application.id == "vpn"
        ]
        return offer.recommended_release.version if offer.recommended_release else ""

    assert await recommended() == "1.1.0"
    assert (await services.mark_latest(first)).latest
    assert await recommended() == "1.0.0"
    await services.mark_latest(second)
    withdrawn = await services.withdraw(second)
    assert withdrawn.status is ReleaseStatus.WITHDRAWN
    assert await recommended() == "1.0.0"  # back to the newest other published release
    for call in (services.publish, services.mark_latest):
        with pytest.raises(DomainError):
            await call(second)
    await services.withdraw(first)
    assert await recommended() == ""
    with pytest.raises(DomainError) as unknown:
        await services.publish(str(uuid.uuid4()))
    assert unknown.value.code == errors.RELEASE_NOT_FOUND


async def test_send_to_device_mails_the_page_link(
    services: DistributionServices, store: Any
) -> None:
    url = await services.send_to_device(
        str(uuid.uuid4()), "anna@example.com", "ru", "vpn", Platform.IOS
    )
    assert url == "https://portal.example/get/vpn?platform=ios"
    [(to, template, language, values)] = store.state.mail
    assert (to, template, language) == ("anna@example.com", "send_to_device", "ru")
    assert values == {"link": url, "application": "Kabinet VPN"}
    with pytest.raises(DomainError) as unknown:
        await services.device_link("nope", None)
    assert unknown.value.code == errors.APPLICATION_NOT_FOUND


async def test_send_to_device_is_limited_per_account(
    services: DistributionServices, store: Any, clock: Any
) -> None:
    account = str(uuid.uuid4())
    for _ in range(5):
        await services.send_to_device(account, "anna@example.com", "en", "vpn", None)
        clock.now += timedelta(minutes=1)
    with pytest.raises(DomainError) as refused:
        await services.send_to_device(account, "anna@example.com", "en", "vpn", None)
    assert (refused.value.kind, refused.value.code) == (
        ErrorKind.RESOURCE_EXHAUSTED,
        errors.TOO_MANY_SENDS,
    )
    assert refused.value.params["retry_after"] == str(55 * 60 + 1)
    assert len(store.state.mail) == 5
    await services.send_to_device(str(uuid.uuid4()), "bob@example.com", "en", "vpn", None)
    clock.now += timedelta(minutes=56)  # the first send left the window
    await services.send_to_device(account, "anna@example.com", "en", "vpn", None)
    assert len(store.state.mail) == 7


async def test_entitlement_snapshots_keep_the_newest_and_drop_the_cache(
    services: DistributionServices, subscriptions: Any, clock: Any, store: Any
) -> None:
    account = uuid.uuid4()
    newer = SnapshotUpdate(account, clock.now, Rights((Entitlement("vpn", Tier.PLUS, clock.now),)))
    older = SnapshotUpdate(account, clock.now - timedelta(seconds=1), Rights())
    async with store.transaction() as tx:
        await services.apply_entitlements(tx, newer)
    async with store.transaction() as tx:
        await services.apply_entitlements(tx, older)  # arrives late: changes nothing
    async with store.connection() as db:
        assert await db.snapshot(account) == newer.rights
    assert subscriptions.forgotten == [account, account]
