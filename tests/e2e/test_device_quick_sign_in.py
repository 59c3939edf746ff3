"""Quick sign-in set up from the device page: a refused linking comes back to that page, and the
cookie that says so names only pages of the allow-list (anything else lands on ``/account``)."""

import uuid

import httpx
import pytest

from kabinet.testing.cluster import Cluster
from tests.e2e.test_social_signin import (
    BINDING,
    Started,
    _authorize,
    _callback,
    _email,
    _password_account,
    _person,
    _set_cookies,
)

pytestmark = pytest.mark.e2e

BACK = "__Host-kabinet_sf_back"


async def _start_link(http: httpx.AsyncClient, access: str, return_to: str) -> tuple[Started, str]:
    reply = await http.post(
        "/api/v1/account/identities/google",
        json={"return_to": return_to},
        headers={"authorization": f"Bearer {access}"},
    )
    assert reply.status_code == 200, reply.text
    cookies = _set_cookies(reply)
    back = next(h for h in reply.headers.get_list("set-cookie") if h.startswith(BACK))
    for attribute in ("HttpOnly", "Secure", "Path=/"):
        assert attribute in back
    started = Started(
        "google", reply.json()["authorization_url"], cookies[BINDING.format(provider="google")]
    )
    return started, cookies[BACK]


async def _refused_landing(
    http: httpx.AsyncClient, access: str, started: Started, back: str
) -> str:
    person = _person(f"sub-{uuid.uuid4().hex}", _email("someone-else"))
    returned = await _authorize(started, person)
    headers = {
        "accept": "text/html",
        "authorization": f"Bearer {access}",
        "cookie": f"{BINDING.format(provider='google')}={started.binding}; {BACK}={back}",
    }
    refused = await _callback(http, started, returned, headers=headers)
    assert refused.status_code == 303, refused.text
    # Both cookies are removed, with Secure: a browser ignores a __Host- cookie set without it.
    removals = refused.headers.get_list("set-cookie")
    for name in (BINDING.format(provider="google"), BACK):
        removal = next(h for h in removals if h.startswith(f"{name}="))
        assert "Secure" in removal
        assert "Max-Age=0" in removal
    return refused.headers["location"]


async def test_a_refused_linking_lands_where_it_started_only_on_listed_pages(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    access = await _password_account(cluster, http, _email("quick"))
    started, back = await _start_link(http, access, "/device/quick-sign-in")
    assert back == "/device/quick-sign-in"
    location = await _refused_landing(http, access, started, back)
    assert location == f"{cluster.gateway_url}/device/quick-sign-in?error=social.email_mismatch"

    # Started from the account page: the cookie is cleared, and a forged one is not followed.
    started, back = await _start_link(http, access, "/account")
    assert back == ""
    for forged in ("https://evil.example/", "//evil.example", "/signin"):
        started, _ = await _start_link(http, access, "/account")
        location = await _refused_landing(http, access, started, forged)
        assert location == f"{cluster.gateway_url}/account?error=social.email_mismatch"
