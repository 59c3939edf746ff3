"""Kabinet as OpenID provider, through the gateway, with an independent relying party: Authlib's
httpx OAuth 2.0 client drives the code flow with PKCE, joserfc verifies the ID token against the
published JWKS. Then every refusal the security rules ask for, client_credentials tokens at the
gRPC boundary, and the operator-only registry."""

import asyncio
import html
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import grpc
import httpx
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from kabinet.auth.operator import operator_metadata
from kabinet.identity.v1 import identity_pb2, identity_pb2_grpc, oidc_pb2, oidc_pb2_grpc
from kabinet.subscription.v1 import subscription_pb2, subscription_pb2_grpc
from kabinet.testing.cluster import Cluster
from tests.e2e.oidc_support import (
    Browser,
    active_account,
    bearer,
    database,
    operator_token,
    register_client,
    sign_in,
)

pytestmark = pytest.mark.e2e

REDIRECT = "http://127.0.0.1:9/callback"


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture(scope="module")
async def operator(cluster: Cluster) -> str:
    async with httpx.AsyncClient(base_url=cluster.gateway_url, timeout=30) as http:
        return await operator_token(cluster, http)


async def _public_client(cluster: Cluster, operator: str, *, first_party: bool = False) -> str:
    client_id = f"site-{uuid.uuid4().hex[:8]}"
    await register_client(
        cluster,
        operator,
        oidc_pb2.OAuthClient(
            client_id=client_id,
            name="Forum",
            redirect_uris=[REDIRECT],
            post_logout_redirect_uris=["http://127.0.0.1:9/bye"],
            grant_types=["authorization_code", "refresh_token"],
            scopes=["openid", "email", "profile"],
            first_party=first_party,
        ),
    )
    return client_id


async def _authorize(browser: Browser, email: str, params: dict[str, str]) -> httpx.Response:
    """Open the authorization URL as a browser: sign in when asked, allow when asked; the
    answer that leaves Kabinet (a redirect) or the page it stops at."""
    url = "/oauth2/authorize?" + urlencode(params)
    reply = await browser.get(url)
    if reply.status_code == 200 and 'action="/oauth2/signin"' in reply.text:
        signed = await browser.sign_in(url, email)
        reply = await browser.get(signed.headers["location"])
    if reply.status_code == 200 and 'action="/oauth2/authorize/consent"' in reply.text:
        reply = await browser.post(
            "/oauth2/authorize/consent",
            {**params, "csrf": browser.cookies["__Host-kabinet_csrf"], "decision": "allow"},
        )
    return reply


async def test_relying_party_code_flow_with_pkce(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    issuer = cluster.gateway_url
    discovery = (await http.get("/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == issuer
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert discovery["response_types_supported"] == ["code"]
    client_id = await _public_client(cluster, operator)
    email = await active_account(cluster, http)

    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    async with AsyncOAuth2Client(
        client_id=client_id,
        redirect_uri=REDIRECT,
        scope="openid email profile",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        timeout=30,
    ) as rp:
        url, state = rp.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        browser = Browser(http)
        started = time.time()
        first = await browser.get(url)
        assert first.status_code == 200
        assert "<script" not in first.text
        assert "access-control-allow-origin" not in first.headers
        redirect = await _authorize(browser, email, _query(url))
        assert redirect.status_code == 303
        location = redirect.headers["location"]
        assert location.startswith(REDIRECT + "?")
        assert _query(location)["state"] == state
        assert _query(location)["iss"] == issuer

        token = await rp.fetch_token(
            discovery["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        assert token["token_type"] == "Bearer"

        jwks = KeySet.import_key_set((await http.get(discovery["jwks_uri"])).json())
        id_token = jwt.decode(token["id_token"], jwks, algorithms=["ES256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": nonce},
            azp={"essential": True, "value": client_id},
            sub={"essential": True},
            auth_time={"essential": True},
        ).validate(id_token.claims)
        assert id_token.claims["auth_time"] >= int(started) - 1
        assert id_token.claims["email"] == email
        # Another site's token opens the userinfo endpoint, not the portal's API.
        site_bearer = {"authorization": f"Bearer {token['access_token']}"}
        refused = await http.get("/api/v1/account", headers=site_bearer)
        assert refused.status_code == 403
        assert refused.json()["code"] == "auth.forbidden"
        # Nor may it buy for the account on a route open to anonymous buyers.
        order = await http.post(
            "/api/v1/orders",
            json={"plan_id": "plus", "term_months": 12, "devices": 3, "email": email},
            headers={**site_bearer, "idempotency-key": secrets.token_hex(8)},
        )
        assert order.status_code == 403
        assert order.json()["code"] == "auth.forbidden"
        portal = await sign_in(http, email)
        account = await http.get(
            "/api/v1/account", headers={"authorization": f"Bearer {portal['access_token']}"}
        )
        assert id_token.claims["sub"] == account.json()["id"]

        userinfo = (await rp.get(discovery["userinfo_endpoint"])).json()
        assert userinfo["sub"] == id_token.claims["sub"]
        assert (await rp.post(discovery["userinfo_endpoint"])).json() == userinfo
        assert userinfo["email"] == email

        refreshed = await rp.refresh_token(discovery["token_endpoint"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert refreshed["scope"] == "openid email profile"
        assert (await rp.get(discovery["userinfo_endpoint"])).status_code == 200

        revoked = await rp.revoke_token(
            discovery["revocation_endpoint"],
            token=refreshed["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        with pytest.raises(Exception, match="invalid_grant"):
            await rp.refresh_token(discovery["token_endpoint"])
        # The access token of the revoked session dies with it.
        gone = await http.get(
            discovery["userinfo_endpoint"],
            headers={"authorization": f"Bearer {refreshed['access_token']}"},
        )
        assert gone.status_code == 401

        # A second visit: consent is remembered, the browser is still signed in.
        again = await browser.get(
            rp.create_authorization_url(
                discovery["authorization_endpoint"], code_verifier=verifier
            )[0]
        )
        assert again.status_code == 303
        assert "code" in _query(again.headers["location"])


async def _code(
    http: httpx.AsyncClient, browser: Browser, email: str, client_id: str, **extra: str
) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "s1",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        **extra,
    }
    reply = await _authorize(browser, email, params)
    assert reply.status_code == 303, reply.text
    return _query(reply.headers["location"]).get("code", ""), verifier


async def _exchange(
    http: httpx.AsyncClient, client_id: str, code: str, verifier: str, redirect: str = REDIRECT
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "code": code,
        "redirect_uri": redirect,
    }
    if verifier:
        form["code_verifier"] = verifier
    return await http.post("/oauth2/token", data=form)


async def test_a_person_with_only_a_social_sign_in_signs_in_to_another_site(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    """The provider's sign-in page offers the social sign-ins too: a person whose account was
    made by Google (no password) follows the button and comes back to the authorization
    request, which goes on to the client."""
    client_id = await _public_client(cluster, operator)
    verifier = secrets.token_urlsafe(48)
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email",
        # A client's state and nonce may be long: the way back must carry them whole.
        "state": secrets.token_urlsafe(160),
        "nonce": secrets.token_urlsafe(160),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    authorization = "/oauth2/authorize?" + urlencode(params)
    assert len(authorization) > 512
    browser = Browser(http)
    page = await browser.get(authorization)
    assert page.status_code == 200
    assert 'action="/oauth2/signin"' in page.text
    button = re.search(r'href="(/api/v1/auth/social/google/start\?return_to=[^"]+)"', page.text)
    assert button is not None, "the sign-in page offers no Google button"
    started = await browser.get(html.unescape(button.group(1)))
    assert started.status_code == 302, started.text

    email = f"social-sso-{uuid.uuid4().hex[:8]}@example.com"
    person = {"login_as": f"g-{uuid.uuid4().hex}", "login_email": email, "login_name": "Anna"}
    async with httpx.AsyncClient(timeout=30) as at_google:
        consented = await at_google.get(started.headers["location"] + "&" + urlencode(person))
    assert consented.status_code == 302, consented.text
    callback = urlsplit(consented.headers["location"])
    back = await browser.get(f"{callback.path}?{callback.query}")
    assert back.status_code == 303, back.text
    assert back.headers["location"] == cluster.gateway_url + authorization

    consent = await browser.get(back.headers["location"])
    assert 'action="/oauth2/authorize/consent"' in consent.text
    redirect = await browser.post(
        "/oauth2/authorize/consent",
        {**params, "csrf": browser.cookies["__Host-kabinet_csrf"], "decision": "allow"},
    )
    assert redirect.status_code == 303, redirect.text
    answer = _query(redirect.headers["location"])
    assert answer["state"] == params["state"]
    token = await _exchange(http, client_id, answer["code"], verifier)
    assert token.status_code == 200, token.text
    jwks = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    claims = jwt.decode(token.json()["id_token"], jwks, algorithms=["ES256"]).claims
    assert claims["email"] == email
    assert claims["nonce"] == params["nonce"]


async def test_refusals_of_the_code_flow(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    client_id = await _public_client(cluster, operator, first_party=True)
    email = await active_account(cluster, http)
    browser = Browser(http)
    base = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code"}

    # A redirect URI that is not registered exactly: an error page, never a redirect.
    for wrong in (REDIRECT + "/x", REDIRECT.upper(), "http://127.0.0.1:9/callback?x=1"):
        page = await browser.get("/oauth2/authorize?" + urlencode({**base, "redirect_uri": wrong}))
        assert page.status_code == 400
        assert "location" not in page.headers
        assert "oidc.redirect_uri_mismatch" not in page.text  # a message, not a code
    # Public client without PKCE, or with plain: refused back to the client.
    missing = await browser.get("/oauth2/authorize?" + urlencode(base))
    assert _query(missing.headers["location"])["error"] == "invalid_request"
    plain = await browser.get(
        "/oauth2/authorize?"
        + urlencode({**base, "code_challenge": "a" * 43, "code_challenge_method": "plain"})
    )
    assert _query(plain.headers["location"])["error"] == "invalid_request"
    # Implicit and hybrid response types.
    for response_type in ("token", "id_token", "code id_token"):
        implicit = await browser.get(
            "/oauth2/authorize?" + urlencode({**base, "response_type": response_type})
        )
        assert _query(implicit.headers["location"])["error"] == "unsupported_response_type"

    # A wrong verifier, a missing one, another redirect URI: invalid_grant.
    code, verifier = await _code(http, browser, email, client_id)
    wrong_verifier = await _exchange(http, client_id, code, secrets.token_urlsafe(48))
    assert wrong_verifier.status_code == 400
    assert wrong_verifier.json()["error"] == "invalid_grant"
    assert "error_description" in wrong_verifier.json()
    assert wrong_verifier.headers["content-type"].startswith("application/json")
    no_verifier = await _exchange(http, client_id, code, "")
    assert no_verifier.json()["error"] == "invalid_grant"
    other_redirect = await _exchange(http, client_id, code, verifier, REDIRECT + "x")
    assert other_redirect.json()["error"] == "invalid_grant"

    # The right exchange works once; a second use is refused and kills what the first issued.
    issued = await _exchange(http, client_id, code, verifier)
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    headers = {"authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get("/oauth2/userinfo", headers=headers)).status_code == 200
    reused = await _exchange(http, client_id, code, verifier)
    assert reused.json()["error"] == "invalid_grant"
    for _ in range(50):
        if (await http.get("/oauth2/userinfo", headers=headers)).status_code == 401:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the access token of a reused code stayed valid")
    refresh = await http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refresh.json()["error"] == "invalid_grant"

    # Password and other grants are refused.
    password = await http.post(
        "/oauth2/token",
        data={"grant_type": "password", "username": email, "password": "x", "client_id": client_id},
    )
    assert password.status_code == 400
    assert password.json()["error"] == "unsupported_grant_type"
    # A public client may not use client_credentials.
    cc = await http.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": client_id}
    )
    assert cc.json()["error"] == "unauthorized_client"
    # A portal refresh token is not a client's refresh token.
    portal = await sign_in(http, email)
    crossed = await http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": portal["refresh_token"],
        },
    )
    assert crossed.json()["error"] == "invalid_grant"


async def test_logout_needs_a_valid_hint_or_a_confirmation(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    client_id = await _public_client(cluster, operator, first_party=True)
    email = await active_account(cluster, http)
    browser = Browser(http)
    code, verifier = await _code(http, browser, email, client_id)
    tokens = (await _exchange(http, client_id, code, verifier)).json()

    unconfirmed = await browser.get(
        "/oauth2/logout?" + urlencode({"post_logout_redirect_uri": "http://127.0.0.1:9/bye"})
    )
    assert unconfirmed.status_code == 200
    assert 'action="/oauth2/logout"' in unconfirmed.text
    assert "__Host-kabinet_at" in browser.cookies  # still signed in
    tampered = await browser.get(
        "/oauth2/logout?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"][:-4] + "AAAA",
                "post_logout_redirect_uri": "http://127.0.0.1:9/bye",
            }
        )
    )
    assert tampered.status_code == 200
    assert "location" not in tampered.headers
    assert 'action="/oauth2/logout"' in tampered.text
    assert (await browser.post("/oauth2/logout", {"csrf": "forged"})).status_code == 403
    assert "__Host-kabinet_at" in browser.cookies

    out = await browser.get(
        "/oauth2/logout?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "http://127.0.0.1:9/bye",
                "state": "z",
            }
        )
    )
    assert out.status_code == 303
    assert out.headers["location"] == "http://127.0.0.1:9/bye?state=z"
    assert "__Host-kabinet_at" not in browser.cookies
    gone = await http.get(
        "/oauth2/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
    )
    assert gone.status_code == 401

    # Confirmed by the person on the page: signed out, no redirect anywhere.
    again = Browser(http)
    await _code(http, again, email, client_id)
    portal_token = again.cookies["__Host-kabinet_at"]
    confirmed = await again.post("/oauth2/logout", {"csrf": again.cookies["__Host-kabinet_csrf"]})
    assert confirmed.status_code == 200
    assert "location" not in confirmed.headers
    assert "__Host-kabinet_at" not in again.cookies
    after = await http.get(
        "/api/v1/auth/session", headers={"authorization": f"Bearer {portal_token}"}
    )
    assert after.status_code == 401


async def _grpc(cluster: Cluster) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(cluster.environ["KABINET_IDENTITY_ADDR"])


async def test_operator_rpcs_need_operator_credentials(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    person = (await sign_in(http, await active_account(cluster, http)))["access_token"]
    async with await _grpc(cluster) as channel:
        registry = oidc_pb2_grpc.ClientRegistryServiceStub(channel)
        request = oidc_pb2.ListClientsRequest()
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await registry.ListClients(request, timeout=10)
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as forged:
            await registry.ListClients(request, metadata=bearer(person + "x"), timeout=10)
        assert forged.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as not_operator:
            await registry.ListClients(request, metadata=bearer(person), timeout=10)
        assert not_operator.value.code() is grpc.StatusCode.PERMISSION_DENIED
        listed = await registry.ListClients(request, metadata=bearer(operator), timeout=10)
        assert "kabinet-demo-site" in {c.client_id for c in listed.clients}  # the seed file
        # The operator's tools, holding the database credentials, sign their own token.
        tool = await operator_metadata(
            cluster.environ["KABINET_DATABASE_URL"],
            issuer=cluster.gateway_url,
            audience="kabinet-api",
        )
        assert (await registry.ListClients(request, metadata=tool, timeout=10)).clients


async def _confidential(cluster: Cluster, operator: str, scopes: list[str]) -> tuple[str, str]:
    reply = await register_client(
        cluster,
        operator,
        oidc_pb2.OAuthClient(
            client_id=f"backend-{uuid.uuid4().hex[:8]}",
            name="Product backend",
            confidential=True,
            grant_types=["client_credentials"],
            scopes=scopes,
        ),
    )
    assert len(reply.client_secret) >= 43
    return reply.client.client_id, reply.client_secret


async def _cc_token(http: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await http.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


async def test_client_credentials_tokens_at_the_grpc_boundary(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    validator, validator_secret = await _confidential(
        cluster, operator, ["kabinet.tokens.validate"]
    )
    reader, reader_secret = await _confidential(cluster, operator, ["kabinet.entitlements.read"])
    admin, admin_secret = await _confidential(cluster, operator, ["kabinet.admin"])

    wrong = await _cc_token(http, validator, validator_secret[:-1] + "A")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    issued = await _cc_token(http, validator, validator_secret)
    assert issued.status_code == 200, issued.text
    cc = issued.json()
    assert cc["scope"] == "kabinet.tokens.validate"
    assert "refresh_token" not in cc

    introspected = await http.post(
        "/oauth2/introspect", data={"token": cc["access_token"]}, auth=(admin, admin_secret)
    )
    assert introspected.json()["active"] is True
    assert introspected.json()["client_id"] == validator
    inactive = await http.post(
        "/oauth2/introspect", data={"token": "nonsense"}, auth=(admin, admin_secret)
    )
    assert inactive.json() == {"active": False}
    unauthenticated = await http.post("/oauth2/introspect", data={"token": cc["access_token"]})
    assert unauthenticated.status_code == 401

    person = (await sign_in(http, await active_account(cluster, http)))["access_token"]
    request = identity_pb2.ValidateTokenRequest(token=person)
    reader_token = (await _cc_token(http, reader, reader_secret)).json()["access_token"]
    admin_token = (await _cc_token(http, admin, admin_secret)).json()["access_token"]
    async with await _grpc(cluster) as channel:
        identity = identity_pb2_grpc.IdentityServiceStub(channel)
        valid = await identity.ValidateToken(
            request, metadata=bearer(cc["access_token"]), timeout=10
        )
        assert valid.claims.subject
        for token, code in (
            ("not-a-token", grpc.StatusCode.UNAUTHENTICATED),
            (cc["access_token"][:-2], grpc.StatusCode.UNAUTHENTICATED),
            (reader_token, grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await identity.ValidateToken(request, metadata=bearer(token), timeout=10)
            assert refused.value.code() is code
        registry = oidc_pb2_grpc.ClientRegistryServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as not_admin:
            await registry.ListClients(
                oidc_pb2.ListClientsRequest(), metadata=bearer(cc["access_token"]), timeout=10
            )
        assert not_admin.value.code() is grpc.StatusCode.PERMISSION_DENIED
        listed = await registry.ListClients(
            oidc_pb2.ListClientsRequest(), metadata=bearer(admin_token), timeout=10
        )
        assert admin in {c.client_id for c in listed.clients}
        # A disabled client's tokens are no longer active.
        await registry.DisableClient(
            oidc_pb2.DisableClientRequest(client_id=validator),
            metadata=bearer(admin_token),
            timeout=10,
        )
    # Another service checks the same tokens against identity's JWKS.
    async with grpc.aio.insecure_channel(cluster.environ["KABINET_SUBSCRIPTION_ADDR"]) as channel:
        plans = subscription_pb2_grpc.SubscriptionServiceStub(channel)
        listed_plans = await plans.ListPlans(
            subscription_pb2.ListPlansRequest(), metadata=bearer(reader_token), timeout=10
        )
        assert listed_plans.plans
        with pytest.raises(grpc.aio.AioRpcError) as forged_elsewhere:
            await plans.ListPlans(
                subscription_pb2.ListPlansRequest(),
                metadata=bearer(reader_token[:-2]),
                timeout=10,
            )
        assert forged_elsewhere.value.code() is grpc.StatusCode.UNAUTHENTICATED

    after: Any = await http.post(
        "/oauth2/introspect", data={"token": cc["access_token"]}, auth=(admin, admin_secret)
    )
    assert after.json() == {"active": False}
    assert (await _cc_token(http, validator, validator_secret)).status_code == 401


async def test_confidential_clients_downgrades_expiry_and_denial(
    cluster: Cluster, http: httpx.AsyncClient, operator: str
) -> None:
    reply = await register_client(
        cluster,
        operator,
        oidc_pb2.OAuthClient(
            client_id=f"portal-{uuid.uuid4().hex[:8]}",
            name="Shop",
            confidential=True,
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code"],
            scopes=["openid"],
        ),
    )
    client_id, secret = reply.client.client_id, reply.client_secret
    email = await active_account(cluster, http)
    browser = Browser(http)
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "st",
    }
    # prompt=none shows no page: what would need one goes back as an error.
    silent = {**params, "prompt": "none"}
    unknown = await browser.get("/oauth2/authorize?" + urlencode(silent))
    assert _query(unknown.headers["location"])["error"] == "login_required"
    # Not first-party: the consent page; "deny" goes back with access_denied.
    page = await browser.get("/oauth2/authorize?" + urlencode(params))
    signed = await browser.sign_in("/oauth2/authorize?" + urlencode(params), email)
    consent = await browser.get(signed.headers["location"])
    assert 'action="/oauth2/authorize/consent"' in consent.text, page.text
    forged = await browser.post(
        "/oauth2/authorize/consent", {**params, "csrf": "forged", "decision": "allow"}
    )
    assert forged.status_code == 403
    denied = await browser.post(
        "/oauth2/authorize/consent",
        {**params, "csrf": browser.cookies["__Host-kabinet_csrf"], "decision": "deny"},
    )
    assert _query(denied.headers["location"]) == {
        "error": "access_denied",
        "state": "st",
        "iss": cluster.gateway_url,
    }
    no_consent = await browser.get("/oauth2/authorize?" + urlencode(silent))
    assert _query(no_consent.headers["location"])["error"] == "consent_required"

    # A confidential client may go without PKCE; a verifier for such a code is a downgrade.
    reply_code = await _authorize(browser, email, params)
    code = _query(reply_code.headers["location"])["code"]
    # Signed in and consented: prompt=none answers with a code.
    quiet = await browser.get("/oauth2/authorize?" + urlencode(silent))
    assert "code" in _query(quiet.headers["location"])
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    downgrade = await http.post(
        "/oauth2/token",
        data={**form, "code_verifier": secrets.token_urlsafe(48)},
        auth=(client_id, secret),
    )
    assert downgrade.json()["error"] == "invalid_grant"
    no_secret = await http.post("/oauth2/token", data={**form, "client_id": client_id})
    assert no_secret.status_code == 401
    assert no_secret.json()["error"] == "invalid_client"
    issued = await http.post("/oauth2/token", data=form, auth=(client_id, secret))
    assert issued.status_code == 200, issued.text
    assert "refresh_token" not in issued.json()  # the client may not refresh
    # An ID token is not an access token.
    as_access = await http.get(
        "/oauth2/userinfo", headers={"authorization": f"Bearer {issued.json()['id_token']}"}
    )
    assert as_access.status_code == 401

    # A challenge needs its method; an expired code is refused.
    no_method = await browser.get(
        "/oauth2/authorize?" + urlencode({**params, "code_challenge": "a" * 43})
    )
    assert _query(no_method.headers["location"])["error"] == "invalid_request"
    late = _query((await _authorize(browser, email, params)).headers["location"])["code"]
    conn = await database(cluster)
    try:
        updated = await conn.execute(
            "UPDATE identity.oauth_codes SET expires_at = now() - interval '1 second'"
            " WHERE code_hash = sha256($1::text::bytea)",
            late,
        )
        assert updated == "UPDATE 1"
    finally:
        await conn.close()
    expired = await http.post(
        "/oauth2/token", data={**form, "code": late}, auth=(client_id, secret)
    )
    assert expired.json()["error"] == "invalid_grant"
