"""Which social sign-ins a page offers: on the sign-in pages (the portal's, the OpenID provider's,
the device connection's), those offered in the caller's region; and quick sign-in where a device
was just connected: the ones this person may still link (offered and not linked yet), each
started through the JSON API and coming back to ``return_to``."""

from __future__ import annotations

import asyncio
from collections.abc import Container, Iterable
from typing import Any

from litestar import Request
from litestar.datastructures import State

from gateway.controllers.social import region_hint
from gateway.web.texts import PROVIDER_LABELS
from kabinet.identity.v1 import federation_pb2, identity_pb2

# Where linking started on a device page comes back to (and lands on when it fails).
DEVICE_QUICK_PAGE = "/device/quick-sign-in"


def _labelled(providers: Iterable[str], leaving_out: Container[str] = ()) -> list[dict[str, str]]:
    return [
        {"name": p, "label": PROVIDER_LABELS[p]}
        for p in providers
        if p in PROVIDER_LABELS and p not in leaving_out
    ]


async def offered_providers(request: Request[Any, Any, Any], state: State) -> list[dict[str, str]]:
    """The social sign-ins a sign-in page offers this caller (region rules decided by identity)."""
    reply = await state.clients.federation.ListSocialProviders(
        federation_pb2.ListSocialProvidersRequest(region_hint=region_hint(request, state))
    )
    return _labelled(reply.providers)


async def sign_in_choices(
    request: Request[Any, Any, Any], state: State, account_id: str
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The account's linked social sign-ins and the ones it may still link (offered in its
    region, known to the pages, not linked yet); the two lists are asked for at once."""
    federation = state.clients.federation
    linked_reply, offered_reply = await asyncio.gather(
        federation.ListLinkedIdentities(
            federation_pb2.ListLinkedIdentitiesRequest(account_id=account_id)
        ),
        federation.ListSocialProviders(
            federation_pb2.ListSocialProvidersRequest(
                region_hint=region_hint(request, state), account_id=account_id
            )
        ),
    )
    linked_names = {i.provider for i in linked_reply.identities}
    linked = [
        {"name": i.provider, "label": PROVIDER_LABELS.get(i.provider, i.provider), "email": i.email}
        for i in linked_reply.identities
    ]
    return linked, _labelled(offered_reply.providers, leaving_out=linked_names)


async def quick_sign_in(
    request: Request[Any, Any, Any], state: State, account_id: str, return_to: str
) -> dict[str, Any]:
    """The account's email, its linked sign-ins, the ones it may still link, and ``return_to``."""
    account_reply, (linked, linkable) = await asyncio.gather(
        state.clients.identity.GetAccount(identity_pb2.GetAccountRequest(account_id=account_id)),
        sign_in_choices(request, state, account_id),
    )
    return {
        "email": account_reply.account.email,
        "return_to": return_to,
        "linked": linked,
        "linkable": linkable,
    }
