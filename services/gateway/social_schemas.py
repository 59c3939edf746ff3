"""Bodies of the social sign-in routes (msgspec Structs)."""

from __future__ import annotations

from typing import Annotated

import msgspec

ReturnTo = Annotated[
    str, msgspec.Meta(max_length=512, description="a same-origin path to come back to")
]


class SocialProvider(msgspec.Struct):
    name: str
    start_url: str


class SocialProviders(msgspec.Struct):
    """The providers the caller may use; ``region`` is "" when the default row applied."""

    region: str
    providers: list[SocialProvider]


class LinkStartBody(msgspec.Struct):
    return_to: ReturnTo = "/"


class LinkStarted(msgspec.Struct):
    """Where to send the browser to link; the binding cookie is set with this answer."""

    authorization_url: str
    expires_in: int


class LinkedIdentity(msgspec.Struct):
    provider: str
    email: str
    linked_at: str
    last_used_at: str
