"""The provider's and the device pages as the portal renders them: what the device says is
escaped, the authorization pages load no script and keep a policy that lets their forms end at the
client, the language switch keeps the request, and quick sign-in set up from the device page comes
back there even when refused (the cookie that says so names only pages of an allow-list)."""

import html
import re
import uuid
from urllib.parse import unquote, urlencode

import httpx
import pytest

from kabinet.identity.v1 import oidc_pb2
from kabinet.testing.cluster import Cluster
from tests.e2e.oidc_support import Browser, active_account, operator_token, register_client
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


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def _client(cluster: Cluster, http: httpx.AsyncClient, **fields: object) -> str:
    client_id = f"pages-{uuid.uuid4().hex[:8]}"
    operator = await operator_token(cluster, http)
    await register_client(cluster, operator, oidc_pb2.OAuthClient(client_id=client_id, **fields))
    return client_id


async def test_device_pages_escape_what_the_device_says(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    client_id = await _client(
        cluster,
        http,
        name="<b>Notes</b>",
        grant_types=[DEVICE_GRANT],
        scopes=["openid", "kabinet.api"],
    )
    started = await http.post(
        "/oauth2/device_authorization",
        data={
            "client_id": client_id,
            "scope": "openid kabinet.api",
            "device_name": '"><script>alert(1)</script>',
            "platform": "<img src=x>",
        },
    )
    code = started.json()["user_code"]
    email = await active_account(cluster, http)
    browser = Browser(http)
    await browser.get(f"/device?user_code={code}")
    signed = await browser.sign_in(f"/device?user_code={code}", email)
    page = await browser.get(signed.headers["location"])
    assert page.status_code == 200
    assert "form-action 'self'" in page.headers["content-security-policy"]  # the edge's policy
    confirm = await browser.post(
        "/device/confirm", {"user_code": code, "csrf": browser.cookies["__Host-kabinet_csrf"]}
    )
    assert confirm.status_code == 200
    assert "<script>alert" not in confirm.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in confirm.text
    assert "&lt;b&gt;Notes&lt;/b&gt;" in confirm.text
    assert "<img src=x>" not in confirm.text
    assert 'action="/device/decide"' in confirm.text


async def test_authorization_pages_load_no_script_and_let_their_forms_reach_the_client(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    redirect = "http://127.0.0.1:9/callback"
    client_id = await _client(
        cluster,
        http,
        name="Forum",
        redirect_uris=[redirect],
        grant_types=["authorization_code"],
        scopes=["openid", "email"],
    )
    params = {
        "client_id": client_id,
        "redirect_uri": redirect,
        "response_type": "code",
        "scope": "openid email",
        "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    url = "/oauth2/authorize?" + urlencode(params)
    browser = Browser(http)
    for page in (await browser.get(url), await browser.get(url.replace("s1", "s2"))):
        assert page.status_code == 200
        assert "<script" not in page.text
        policy = page.headers["content-security-policy"]
        assert "form-action" not in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["referrer-policy"] == "same-origin"
    # The language switch comes back to this very request.
    switch = re.search(r'href="/language/ru\?next=([^"]+)"', page.text)
    assert switch is not None
    assert unquote(html.unescape(switch.group(1))) == url.replace("s1", "s2")
    email = await active_account(cluster, http)
    await browser.sign_in(url, email)
    consent = await browser.get(url)
    assert 'action="/oauth2/authorize/consent"' in consent.text
    assert "<script" not in consent.text
    assert "form-action" not in consent.headers["content-security-policy"]

    # A redirect URI that was not registered: a page, no redirect, no script either.
    wrong = await browser.get(url.replace("callback", "elsewhere"))
    assert wrong.status_code == 400
    assert "location" not in wrong.headers
    assert "<script" not in wrong.text
