"""Stand-ins for Google, Apple, Facebook, Yandex ID and VK ID on loopback, for tests and
``make run``.

One HTTP server, each provider under its own path prefix, each speaking that provider's protocol
as identity's adapters expect it: authorization (a small sign-in form, or the person given in the
query), the code redirect (Apple: an auto-submitting ``form_post`` page), the token endpoint
(client secret, Apple's ES256 client-secret JWT, PKCE and VK's ``device_id`` checked), RS256 ID
tokens and their JWKS, Google's discovery document, Facebook's Graph ``/me`` (with
``appsecret_proof``), Yandex's ``/info`` (``Authorization: OAuth``) and VK ID's ``user_info``.

Tests choose the person by adding ``login_as`` (subject), ``login_email``, ``login_verified``
(true/false), ``login_name`` and ``misbehave`` to the authorization URL; ``misbehave`` makes the
provider answer wrongly on purpose: ``iss``, ``aud`` or ``nonce`` (a wrong ID-token claim;
Facebook: ``aud`` makes ``/debug_token`` name another app) or ``state`` (a wrong state in the
redirect). Without ``login_as`` a browser gets a form asking for
the same fields. ``environ()`` gives the variables that point identity at the stand-ins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

PROVIDERS = ("google", "apple", "facebook", "yandex", "vk")
APPLE_TEAM_ID = "KABINETTEAM"
APPLE_KEY_ID = "KABINETKEY"
ID_TOKEN_TTL = 600
MAX_BODY = 65_536
# Apple refuses client secrets that live longer than six months.
APPLE_SECRET_MAX_TTL = 15_777_000


@dataclass(frozen=True)
class Person:
    """Who signs in at a stand-in."""

    subject: str
    email: str = ""
    email_verified: bool = True
    name: str = ""
    misbehave: str = ""


@dataclass
class _Grant:
    provider: str
    client_id: str
    redirect_uri: str
    person: Person
    state: str
    nonce: str = ""
    code_challenge: str = ""
    device_id: str = ""
    used: bool = False


@dataclass
class _State:
    """What the stand-ins remember between requests (one lock guards it)."""

    grants: dict[str, _Grant] = field(default_factory=dict)
    access: dict[str, tuple[str, Person]] = field(default_factory=dict)
    apple_seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class StandInProviders:
    """The five stand-ins on one loopback port, served from a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_dir: Path | None = None):
        self.host = host
        self._port = port
        self._data_dir = data_dir
        self.client_ids = {p: f"kabinet-{p}" for p in PROVIDERS}
        self.client_secrets = {p: secrets.token_urlsafe(24) for p in PROVIDERS}
        self.signing_key = RSAKey.generate_key(2048, parameters={"kid": "stand-in-1"})
        self.apple_key = ECKey.generate_key("P-256", parameters={"kid": APPLE_KEY_ID})
        self.apple_key_file: Path | None = None
        self.state = _State()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def issuer(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    def start(self) -> None:
        """Listen and serve from a daemon thread; writes Apple's .p8 key for identity."""
        if self._server is not None:
            return
        folder = self._data_dir
        if folder is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kabinet-providers-")
            folder = Path(self._tmp.name)
        folder.mkdir(parents=True, exist_ok=True)
        self.apple_key_file = folder / "apple-stand-in.p8"
        self.apple_key_file.write_bytes(self.apple_key.as_pem(private=True))
        self.apple_key_file.chmod(0o600)
        handler = type("Handler", (_Handler,), {"providers": self})
        self._server = ThreadingHTTPServer((self.host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stand-in-providers", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def environ(self) -> dict[str, str]:
        """The variables that point identity at these stand-ins."""
        base, ids, keys = self.url, self.client_ids, self.client_secrets
        assert self.apple_key_file is not None
        return {
            "KABINET_IDENTITY_GOOGLE_CLIENT_ID": ids["google"],
            "KABINET_IDENTITY_GOOGLE_CLIENT_SECRET": keys["google"],
            "KABINET_IDENTITY_GOOGLE_DISCOVERY_URL": (
                f"{base}/google/.well-known/openid-configuration"
            ),
            "KABINET_IDENTITY_GOOGLE_ISSUER": self.issuer("google"),
            "KABINET_IDENTITY_APPLE_CLIENT_ID": ids["apple"],
            "KABINET_IDENTITY_APPLE_TEAM_ID": APPLE_TEAM_ID,
            "KABINET_IDENTITY_APPLE_KEY_ID": APPLE_KEY_ID,
            "KABINET_IDENTITY_APPLE_PRIVATE_KEY_FILE": str(self.apple_key_file),
            "KABINET_IDENTITY_APPLE_ISSUER": self.issuer("apple"),
            "KABINET_IDENTITY_APPLE_AUTHORIZE_URL": f"{base}/apple/auth/authorize",
            "KABINET_IDENTITY_APPLE_TOKEN_URL": f"{base}/apple/auth/token",
            "KABINET_IDENTITY_APPLE_JWKS_URL": f"{base}/apple/auth/keys",
            "KABINET_IDENTITY_FACEBOOK_CLIENT_ID": ids["facebook"],
            "KABINET_IDENTITY_FACEBOOK_CLIENT_SECRET": keys["facebook"],
            "KABINET_IDENTITY_FACEBOOK_AUTHORIZE_URL": f"{base}/facebook/dialog/oauth",
            "KABINET_IDENTITY_FACEBOOK_TOKEN_URL": f"{base}/facebook/oauth/access_token",
            "KABINET_IDENTITY_FACEBOOK_PROFILE_URL": f"{base}/facebook/me",
            "KABINET_IDENTITY_FACEBOOK_DEBUG_TOKEN_URL": f"{base}/facebook/debug_token",
            "KABINET_IDENTITY_YANDEX_CLIENT_ID": ids["yandex"],
            "KABINET_IDENTITY_YANDEX_CLIENT_SECRET": keys["yandex"],
            "KABINET_IDENTITY_YANDEX_AUTHORIZE_URL": f"{base}/yandex/authorize",
            "KABINET_IDENTITY_YANDEX_TOKEN_URL": f"{base}/yandex/token",
            "KABINET_IDENTITY_YANDEX_PROFILE_URL": f"{base}/yandex/info",
            "KABINET_IDENTITY_VK_CLIENT_ID": ids["vk"],
            "KABINET_IDENTITY_VK_AUTHORIZE_URL": f"{base}/vk/authorize",
            "KABINET_IDENTITY_VK_TOKEN_URL": f"{base}/vk/oauth2/auth",
            "KABINET_IDENTITY_VK_PROFILE_URL": f"{base}/vk/oauth2/user_info",
        }

    # protocol pieces, called by the handler

    def authorize(self, provider: str, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) of an authorization request."""
        if params.get("client_id") != self.client_ids[provider]:
            return 400, {}, "unknown client_id"
        if params.get("response_type") != "code" or not params.get("redirect_uri"):
            return 400, {}, "response_type=code and redirect_uri are required"
        challenge = params.get("code_challenge", "")
        if challenge and params.get("code_challenge_method") != "S256":
            return 400, {}, "only S256 code challenges"
        if provider == "vk" and not challenge:
            return 400, {}, "VK ID requires PKCE"
        if provider == "apple" and params.get("response_mode") != "form_post":
            return 400, {}, "Apple requires response_mode=form_post when asking for name/email"
        if not params.get("login_as"):
            return 200, {"Content-Type": "text/html; charset=utf-8"}, _login_form(params)
        person = Person(
            subject=params["login_as"],
            email=params.get("login_email", ""),
            email_verified=params.get("login_verified", "true") != "false",
            name=params.get("login_name", ""),
            misbehave=params.get("misbehave", ""),
        )
        code = secrets.token_urlsafe(24)
        grant = _Grant(
            provider=provider,
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            person=person,
            state=params.get("state", ""),
            nonce=params.get("nonce", ""),
            code_challenge=challenge,
            device_id=secrets.token_urlsafe(12) if provider == "vk" else "",
        )
        with self.state.lock:
            self.state.grants[code] = grant
            first_time = person.subject not in self.state.apple_seen
            if provider == "apple":
                self.state.apple_seen.add(person.subject)
        state = "tampered-" + grant.state if person.misbehave == "state" else grant.state
        answer = {"code": code, "state": state}
        if provider == "vk":
            answer |= {"device_id": grant.device_id, "type": "code_v2", "expires_in": "600"}
        if provider == "apple":
            if first_time:
                first, _, last = person.name.partition(" ")
                user = {"name": {"firstName": first, "lastName": last}, "email": person.email}
                answer["user"] = json.dumps(user)
            return (
                200,
                {"Content-Type": "text/html; charset=utf-8"},
                _form_post(grant.redirect_uri, answer),
            )
        separator = "&" if "?" in grant.redirect_uri else "?"
        return 302, {"Location": grant.redirect_uri + separator + urlencode(answer)}, ""

    def token(self, provider: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.state.lock:
            grant = self.state.grants.get(form.get("code", ""))
            if grant is None or grant.used or grant.provider != provider:
                return 400, {"error": "invalid_grant"}
            grant.used = True
        if form.get("client_id") != grant.client_id:
            return 401, {"error": "invalid_client"}
        if not self._client_authenticated(provider, form):
            return 401, {"error": "invalid_client"}
        if provider != "yandex" and form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        if grant.code_challenge and s256(form.get("code_verifier", "")) != grant.code_challenge:
            return 400, {"error": "invalid_grant", "error_description": "code_verifier"}
        if provider == "vk" and (
            form.get("device_id") != grant.device_id or form.get("state") != grant.state
        ):
            return 400, {"error": "invalid_grant", "error_description": "device_id or state"}
        access_token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.access[access_token] = (provider, grant.person)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        if provider in ("google", "apple"):
            body["id_token"] = self._id_token(provider, grant)
        if provider == "vk":
            body |= {"user_id": grant.person.subject, "state": grant.state}
        return 200, body

    def _client_authenticated(self, provider: str, form: dict[str, str]) -> bool:
        if provider == "vk":
            return True  # VK ID's public clients prove themselves with PKCE and device_id
        secret = form.get("client_secret", "")
        if provider != "apple":
            return hmac.compare_digest(secret, self.client_secrets[provider])
        try:
            token = jwt.decode(secret, self.apple_key, algorithms=["ES256"])
        except (JoseError, ValueError):
            return False
        claims, now = token.claims, time.time()
        return (
            token.header.get("kid") == APPLE_KEY_ID
            and claims.get("iss") == APPLE_TEAM_ID
            and claims.get("sub") == self.client_ids["apple"]
            and claims.get("aud") == self.issuer("apple")
            and isinstance(claims.get("exp"), int)
            and now < claims["exp"] <= now + APPLE_SECRET_MAX_TTL
        )

    def _id_token(self, provider: str, grant: _Grant) -> str:
        person, now = grant.person, int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://evil.example" if person.misbehave == "iss" else self.issuer(provider),
            "aud": "someone-else" if person.misbehave == "aud" else grant.client_id,
            "sub": person.subject,
            "iat": now,
            "exp": now + ID_TOKEN_TTL,
            "nonce": "not-your-nonce" if person.misbehave == "nonce" else grant.nonce,
        }
        if person.email:
            claims["email"] = person.email
            if provider == "apple":
                claims["email_verified"] = "true" if person.email_verified else "false"
                relay = person.email.endswith("@privaterelay.appleid.com")
                claims["is_private_email"] = "true" if relay else "false"
            else:
                claims["email_verified"] = person.email_verified
        if provider == "google" and person.name:
            claims["name"] = person.name
        return jwt.encode(
            {"alg": "RS256", "kid": self.signing_key.kid}, claims, self.signing_key, ["RS256"]
        )

    def person_for(self, provider: str, access_token: str) -> Person | None:
        with self.state.lock:
            found = self.state.access.get(access_token)
        return found[1] if found is not None and found[0] == provider else None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.as_dict(private=False) | {"use": "sig", "alg": "RS256"}]}

    def discovery(self) -> dict[str, Any]:
        base = self.issuer("google")
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }


def _login_form(params: dict[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    return (
        "<!doctype html><title>Stand-in sign-in</title><h1>Stand-in provider</h1>"
        f'<form method="get">{hidden}'
        '<p><label>Subject <input name="login_as" required value="person-1"></label>'
        '<p><label>Email <input name="login_email" type="email"></label>'
        '<p><label>Name <input name="login_name"></label>'
        '<p><label>Email verified <select name="login_verified">'
        '<option value="true">yes</option><option value="false">no</option></select></label>'
        '<p><button type="submit">Sign in</button></form>'
    )


def _form_post(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items()
    )
    return (
        "<!doctype html><title>Signing in</title>"
        f'<body onload="document.forms[0].submit()">'
        f'<form method="post" action="{html.escape(action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form></body>'
    )


class _Handler(BaseHTTPRequestHandler):
    providers: StandInProviders
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests and `make run` have their own logs

    def _send(self, status: int, body: str | bytes, headers: dict[str, str]) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body), {"Content-Type": "application/json"})

    def _route(self) -> tuple[str, str, dict[str, str]]:
        parts = urlsplit(self.path)
        provider, _, rest = parts.path.lstrip("/").partition("/")
        return provider, "/" + rest, dict(parse_qsl(parts.query))

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return {}
        return dict(parse_qsl(self.rfile.read(length).decode()))

    def _bearer(self, scheme: str) -> str:
        given, _, token = self.headers.get("Authorization", "").partition(" ")
        return token.strip() if given.lower() == scheme.lower() else ""

    def do_GET(self) -> None:
        p = self.providers
        provider, path, query = self._route()
        if provider == "favicon.ico":  # browsers ask for it; a 404 would be a console error
            self._send(204, "", {})
            return
        if provider not in PROVIDERS:
            self._json(404, {"error": "not_found"})
            return
        routes = {
            "google": {"/authorize": "authorize", "/jwks": "jwks"},
            "apple": {"/auth/authorize": "authorize", "/auth/keys": "jwks"},
            "facebook": {
                "/dialog/oauth": "authorize",
                "/me": "profile",
                "/debug_token": "debug_token",
            },
            "yandex": {"/authorize": "authorize", "/info": "profile"},
            "vk": {"/authorize": "authorize"},
        }[provider]
        if provider == "google" and path == "/.well-known/openid-configuration":
            self._json(200, p.discovery())
            return
        action = routes.get(path)
        if action == "authorize":
            status, headers, body = p.authorize(provider, query)
            self._send(status, body, headers)
        elif action == "jwks":
            self._json(200, p.jwks())
        elif action == "debug_token":
            app_token = f"{p.client_ids['facebook']}|{p.client_secrets['facebook']}"
            if not hmac.compare_digest(self._bearer("Bearer"), app_token):
                self._json(400, {"error": {"type": "OAuthException", "code": 190}})
                return
            person = p.person_for(provider, query.get("input_token", ""))
            app_id = p.client_ids["facebook"]
            if person is not None and person.misbehave == "aud":
                app_id = "another-app"
            data = {"is_valid": person is not None, "app_id": app_id}
            if person is not None:
                data["user_id"] = person.subject
            self._json(200, {"data": data})
        elif action == "profile" and provider == "facebook":
            token = self._bearer("Bearer")
            person = p.person_for(provider, token)
            proof = hmac.new(
                p.client_secrets["facebook"].encode(), token.encode(), hashlib.sha256
            ).hexdigest()
            if person is None or not hmac.compare_digest(query.get("appsecret_proof", ""), proof):
                self._json(400, {"error": {"type": "OAuthException", "code": 190}})
                return
            me: dict[str, Any] = {"id": person.subject, "name": person.name}
            if person.email and person.email_verified and "email" in query.get("fields", ""):
                me["email"] = person.email
            self._json(200, me)
        elif action == "profile":
            person = p.person_for(provider, self._bearer("OAuth"))
            if person is None:
                self._send(401, "", {})
                return
            info: dict[str, Any] = {
                "id": person.subject,
                "login": person.subject,
                "psuid": "psuid-" + person.subject,
                "real_name": person.name,
                "display_name": person.name,
            }
            if person.email and person.email_verified:
                info |= {"default_email": person.email, "emails": [person.email]}
            self._json(200, info)
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        p = self.providers
        provider, path, _ = self._route()
        form = self._form()
        token_paths = {
            "google": "/token",
            "apple": "/auth/token",
            "facebook": "/oauth/access_token",
            "yandex": "/token",
            "vk": "/oauth2/auth",
        }
        if provider in PROVIDERS and path == token_paths[provider]:
            status, body = p.token(provider, form)
            self._json(status, body)
        elif provider == "vk" and path == "/oauth2/user_info":
            person = p.person_for("vk", form.get("access_token", ""))
            if person is None or form.get("client_id") != p.client_ids["vk"]:
                self._json(401, {"error": "invalid_token"})
                return
            first, _, last = person.name.partition(" ")
            user: dict[str, Any] = {
                "user_id": person.subject,
                "first_name": first,
                "last_name": last,
            }
            if person.email and person.email_verified:
                user["email"] = person.email
            self._json(200, {"user": user})
        else:
            self._json(404, {"error": "not_found"})
