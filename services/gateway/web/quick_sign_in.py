"""Quick sign-in offered where a device was just connected: the social sign-ins this person may
link (offered in their region and not linked yet), each started through the JSON API and coming
back to ``return_to``."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from gateway.controllers.social import region_hint
from gateway.web.texts import PROVIDER_LABELS
from kabinet.identity.v1 import federation_pb2, identity_pb2

# Where linking started on a device page comes back to (and lands on when it fails).
DEVICE_QUICK_PAGE = "/device/quick-sign-in"


async def quick_sign_in(
    request: Request[Any, Any, Any], state: State, account_id: str, return_to: str
) -> dict[str, Any]:
    """The account's email, its linked sign-ins, the ones it may still link, and ``return_to``."""
    clients = state.clients
    account = (
        await clients.identity.GetAccount(identity_pb2.GetAccountRequest(account_id=account_id))
    ).account
    linked = (
        await clients.federation.ListLinkedIdentities(
            federation_pb2.ListLinkedIdentitiesRequest(account_id=account_id)
        )
    ).identities
    offered = (
        await clients.federation.ListSocialProviders(
            federation_pb2.ListSocialProvidersRequest(
                region_hint=region_hint(request, state), account_id=account_id
            )
        )
    ).providers
    linked_names = {i.provider for i in linked}
    return {
        "email": account.email,
        "return_to": return_to,
        "linked": [
            {"name": i.provider, "label": PROVIDER_LABELS.get(i.provider, i.provider)}
            for i in linked
        ],
        "linkable": [
            {"name": p, "label": PROVIDER_LABELS[p]}
            for p in offered
            if p in PROVIDER_LABELS and p not in linked_names
        ],
    }
