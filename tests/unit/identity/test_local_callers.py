"""Identity's own caller authentication: a token naming a kid this replica does not know makes
it re-read its keys, but not on every call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from identity.oidc_app import local_callers
from kabinet.auth.keys import KeyRing, generate_signing_key
from kabinet.auth.tokens import InvalidToken, issue_access_token

METHOD = "/kabinet.identity.v1.IdentityService/GetAccount"


async def test_unknown_kids_reload_the_keys_at_most_once_per_interval(
    services, clock, monkeypatch
) -> None:
    reloads = 0
    reload = services.keys.reload

    async def counting():
        nonlocal reloads
        reloads += 1
        return await reload()

    monkeypatch.setattr(services.keys, "reload", counting)
    foreign = KeyRing([generate_signing_key(clock())], max_token_ttl=timedelta(hours=1))
    token = issue_access_token(
        foreign,
        issuer=services.settings.issuer,
        audience=services.settings.common.api_audience,
        subject="0b7c1c6e-0000-4000-8000-000000000001",
        session_id="0b7c1c6e-0000-4000-8000-000000000002",
        now=clock(),
    )
    callers = local_callers(services)
    metadata = [("authorization", f"Bearer {token}")]
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await callers.check(METHOD, metadata)
    assert reloads == 1

    clock.advance(minutes=1)  # the interval has passed: the next unknown kid reads again
    with pytest.raises(InvalidToken):
        await callers.check(METHOD, metadata)
    assert reloads == 2
