"""Signed download links: bound to the artifact, the account and the expiry; the signature is
checked before anything else, so a forged link learns nothing."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from distribution.domain.links import LinkClaims, LinkProblem, LinkRefused, sign, verify

KEY = b"k" * 32
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ARTIFACT = uuid.uuid4()
ACCOUNT = uuid.uuid4()


def _link(expires: datetime = NOW + timedelta(minutes=10), account: uuid.UUID = ACCOUNT) -> str:
    return sign(KEY, LinkClaims(ARTIFACT, account, expires))


def _refused(link: str, account: uuid.UUID = ACCOUNT, key: bytes = KEY) -> LinkProblem:
    with pytest.raises(LinkRefused) as caught:
        verify(key, link, account, NOW)
    return caught.value.problem


def test_a_link_verifies_for_its_account_until_it_expires() -> None:
    claims = verify(KEY, _link(), ACCOUNT, NOW)
    assert claims.artifact_id == ARTIFACT
    assert claims.account_id == ACCOUNT
    assert claims.expires_at == NOW + timedelta(minutes=10)


def test_every_changed_part_breaks_the_signature() -> None:
    link = _link()
    version, artifact, account, expires, signature = link.split(".")
    other = uuid.uuid4().hex
    for forged in (
        f"{version}.{other}.{account}.{expires}.{signature}",
        f"{version}.{artifact}.{other}.{expires}.{signature}",
        f"{version}.{artifact}.{account}.{int(expires) + 60}.{signature}",
        f"v2.{artifact}.{account}.{expires}.{signature}",
        f"{version}.{artifact}.{account}.{expires}.{signature[:-1]}",
        f"{version}.{artifact}.{account}.{expires}.",
        "",
        "no-dots-at-all",
        "é" * 10,
        "x" * 10_000,
    ):
        assert _refused(forged) is LinkProblem.INVALID, forged
    assert _refused(link, key=b"q" * 32) is LinkProblem.INVALID


def test_expired_then_other_account_in_that_order_after_the_signature() -> None:
    expired = _link(NOW - timedelta(seconds=1))
    assert _refused(expired) is LinkProblem.EXPIRED
    assert _refused(expired, account=uuid.uuid4()) is LinkProblem.EXPIRED
    assert _refused(_link(NOW)) is LinkProblem.EXPIRED  # the expiry second itself is too late
    assert _refused(_link(), account=uuid.uuid4()) is LinkProblem.OTHER_ACCOUNT
    tampered_expired = expired[:-2] + ("A" if expired[-2] != "A" else "B") + expired[-1]
    assert _refused(tampered_expired) is LinkProblem.INVALID


def test_the_link_holds_no_secret_and_is_url_safe() -> None:
    link = _link()
    assert KEY.decode() not in link
    assert all(c.isalnum() or c in "._-" for c in link)
