"""Signing keys shared through the store: the first key, rotation with overlap, clean-up."""

from datetime import timedelta

from identity.config import TokenSettings
from identity.domain.model import Client

PASSWORD = "Correct-horse-7"


async def test_the_first_start_creates_one_key_that_signs_at_once(services, store, clock) -> None:
    assert len(store.state.keys) == 1
    key = services.keys.ring.current(clock())
    assert key.active_from == clock()
    await services.keys.ensure()
    await services.keys.reload()
    assert list(store.state.keys) == [key.kid]


async def test_rotation_publishes_ahead_then_signs_and_keeps_the_old_key_published(
    make_services, store, clock
) -> None:
    services = await make_services(
        tokens=TokenSettings(key_rotate_every=86_400, key_publish_ahead=3_600)
    )
    first = services.keys.ring.current(clock())
    await services.registration.register("anna@example.com", PASSWORD, "en", Client())
    await services.registration.activate(store.mails[-1].values["link"].split("token=")[1])

    clock.advance(hours=23)  # rotation is due: the next key is made, published, not yet signing
    await services.keys.reload()
    assert len(store.state.keys) == 2
    assert services.keys.ring.current(clock()).kid == first.kid
    published = {k["kid"] for k in services.keys.jwks()["keys"]}
    assert len(published) == 2

    clock.advance(minutes=55)
    old_token = (await services.signin.sign_in("anna@example.com", PASSWORD, Client())).access_token
    clock.advance(minutes=5)  # the new key signs now; the old one still verifies
    second = services.keys.ring.current(clock())
    assert second.kid != first.kid
    await services.sessions.validate(old_token)
    new_token = (await services.signin.sign_in("anna@example.com", PASSWORD, Client())).access_token
    assert (await services.sessions.validate(new_token)).subject

    # Long after the old key's last token expired, it leaves the store and the JWKS.
    clock.advance(hours=2)
    await services.keys.ensure()
    assert list(store.state.keys) == [second.kid]
    assert [k["kid"] for k in services.keys.jwks()["keys"]] == [second.kid]


async def test_an_explicit_rotation_waits_its_turn(services, store, clock) -> None:
    first = services.keys.ring.current(clock())
    new = await services.keys.rotate(timedelta(minutes=30))
    assert new.active_from == clock() + timedelta(minutes=30)
    assert services.keys.ring.current(clock()).kid == first.kid
    clock.advance(minutes=30)
    assert services.keys.ring.current(clock()).kid == new.kid


async def test_the_jwks_carries_public_members_only(services) -> None:
    [key] = services.keys.jwks()["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (key["alg"], key["use"]) == ("ES256", "sig")
