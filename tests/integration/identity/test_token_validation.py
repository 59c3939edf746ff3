"""ValidateToken and Introspect refuse every forged, misdirected or stale token (RFC 8725)."""

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import timedelta

import grpc
import pytest

from kabinet.auth.keys import KeyRing, from_record, generate_signing_key
from kabinet.auth.tokens import issue_access_token, issue_id_token
from kabinet.identity.v1 import identity_pb2 as pb

pytestmark = pytest.mark.integration


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def decode(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture(scope="module")
async def signed(identity) -> pb.SignInResponse:
    email = identity.unique_email("tokens")
    since = identity.now()
    await identity.stub.Register(
        pb.RegisterRequest(email=email, password=identity.strong_password, language="en")
    )
    token = identity.link_token(await identity.mail_to(email, "Activate", since=since), "activate")
    await identity.stub.Activate(pb.ActivateRequest(token=token))
    return await identity.stub.SignIn(
        pb.SignInRequest(email=email, password=identity.strong_password)
    )


@pytest.fixture(scope="module")
async def ring(identity) -> KeyRing:
    """The service's own signing keys, read from its table (to forge well-signed tokens)."""
    rows = await identity.pool.fetch("SELECT * FROM signing_keys")
    return KeyRing(
        [from_record({**dict(r), "private_jwk": json.loads(r["private_jwk"])}) for r in rows]
    )


def forge(identity, signed, ring, **changes) -> str:
    """A token signed by the service's real key with the given claim changes."""
    shift = changes.pop("shift", timedelta())
    now = identity.now() + shift
    if shift:
        # The same keys, as if they had been signing since before ``now``.
        ring = KeyRing(
            [
                dataclasses.replace(
                    k, active_from=k.active_from + shift, created_at=k.created_at + shift
                )
                for k in ring.keys
            ]
        )
    return issue_access_token(
        ring,
        issuer=changes.pop("issuer", identity.settings.issuer),
        audience=changes.pop("audience", identity.settings.common.api_audience),
        subject=changes.pop("subject", signed.account_id),
        session_id=changes.pop("session_id", signed.session_id),
        now=now,
        ttl=changes.pop("ttl", timedelta(minutes=10)),
        extra_claims={"roles": []},
    )


async def assert_refused(identity, token: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=token))
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "token.invalid",
    )
    introspected = await identity.stub.Introspect(pb.IntrospectRequest(token=token))
    assert not introspected.active
    assert not introspected.HasField("claims")


async def test_a_good_token_and_its_claims(identity, signed, ring) -> None:
    claims = (
        await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=signed.access_token))
    ).claims
    assert (claims.subject, claims.session_id, list(claims.roles)) == (
        signed.account_id,
        signed.session_id,
        [],
    )
    assert claims.expires_at.seconds - claims.issued_at.seconds == 600
    # Forging with the real key and the right claims is what the service itself does: accepted.
    await identity.stub.ValidateToken(pb.ValidateTokenRequest(token=forge(identity, signed, ring)))


async def test_alg_none_and_stripped_signatures_are_refused(identity, signed) -> None:
    header, payload, _ = signed.access_token.split(".")
    none_header = segment({**decode(header), "alg": "none"})
    for token in (f"{none_header}.{payload}.", f"{header}.{payload}.", f"{header}.{payload}"):
        await assert_refused(identity, token)


async def test_hs256_signed_with_the_public_key_is_refused(identity, signed) -> None:
    header, payload, _ = signed.access_token.split(".")
    jwks = json.loads((await identity.stub.GetJwks(pb.GetJwksRequest())).jwks_json)
    public = json.dumps(jwks["keys"][0], separators=(",", ":")).encode()
    forged_header = segment({**decode(header), "alg": "HS256"})
    signature = hmac.new(public, f"{forged_header}.{payload}".encode(), hashlib.sha256).digest()
    await assert_refused(identity, f"{forged_header}.{payload}.{b64(signature)}")


async def test_tampered_claims_break_the_signature(identity, signed) -> None:
    header, payload, signature = signed.access_token.split(".")
    claims = decode(payload)
    tampered = segment({**claims, "roles": ["admin"]})
    await assert_refused(identity, f"{header}.{tampered}.{signature}")


async def test_wrong_issuer_audience_and_expired_tokens_are_refused(identity, signed, ring) -> None:
    await assert_refused(identity, forge(identity, signed, ring, issuer="https://evil.example"))
    await assert_refused(identity, forge(identity, signed, ring, audience="another-service"))
    await assert_refused(identity, forge(identity, signed, ring, shift=-timedelta(minutes=30)))
    # A session id that is not the account's own.
    await assert_refused(identity, forge(identity, signed, ring, session_id=signed.account_id))


async def test_tokens_signed_by_an_unknown_key_are_refused(identity, signed) -> None:
    stranger = KeyRing([generate_signing_key(identity.now())])
    await assert_refused(identity, forge(identity, signed, stranger))


async def test_an_id_token_is_not_an_access_token(identity, signed, ring) -> None:
    id_token = issue_id_token(
        ring,
        issuer=identity.settings.issuer,
        audience=identity.settings.common.api_audience,
        subject=signed.account_id,
        now=identity.now(),
    )
    await assert_refused(identity, id_token)


async def test_headers_that_point_elsewhere_are_refused(identity, signed) -> None:
    header, payload, signature = signed.access_token.split(".")
    for extra in (
        {"jku": "https://evil.example/jwks.json"},
        {"kid": "../../etc/passwd"},
        {"kid": "x' OR '1'='1"},
        {"typ": "JWT"},
    ):
        forged = segment({**decode(header), **extra})
        await assert_refused(identity, f"{forged}.{payload}.{signature}")


async def test_garbage_is_refused_not_crashed_on(identity) -> None:
    for token in ("", "a.b.c", "x" * 20_000, "\x00.\x00.\x00", "é.é.é"):
        await assert_refused(identity, token)
