"""``kabinet.identity.v1.FederationService``: protobuf in, a federation use case, protobuf out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from identity.api.grpc import client_from_pb, signed_in_to_pb
from identity.domain.federation import (
    Callback,
    CompleteRequest,
    FederationService,
    Outcome,
    Purpose,
    StartRequest,
)
from kabinet.errors import DomainError, ErrorKind
from kabinet.identity.v1 import federation_pb2 as pb
from kabinet.identity.v1 import federation_pb2_grpc
from kabinet.protobuf import timestamp

SERVICE_NAME = "kabinet.identity.v1.FederationService"

# None of these is operator-only: the gateway calls them for the signed-in person.
OPERATOR_METHODS: frozenset[str] = frozenset()

Context = grpc.aio.ServicerContext[Any, Any]

_PURPOSE = {
    pb.SOCIAL_FLOW_PURPOSE_SIGN_IN: Purpose.SIGN_IN,
    pb.SOCIAL_FLOW_PURPOSE_LINK: Purpose.LINK,
}
_OUTCOME = {
    Outcome.SIGNED_IN: pb.SOCIAL_FLOW_OUTCOME_SIGNED_IN,
    Outcome.ACCOUNT_CREATED: pb.SOCIAL_FLOW_OUTCOME_ACCOUNT_CREATED,
    Outcome.LINKED: pb.SOCIAL_FLOW_OUTCOME_LINKED,
}


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    """Each RPC calls one use case of ``FederationService``."""

    def __init__(self, federation: FederationService) -> None:
        self._f = federation

    async def ListSocialProviders(
        self, request: pb.ListSocialProvidersRequest, context: Context
    ) -> pb.ListSocialProvidersResponse:
        """The providers offered to the caller's region."""
        decision = await self._f.offered(request.region_hint, request.account_id)
        return pb.ListSocialProvidersResponse(
            region=decision.region, providers=list(decision.offered)
        )

    async def StartSocialFlow(
        self, request: pb.StartSocialFlowRequest, context: Context
    ) -> pb.StartSocialFlowResponse:
        """Record a flow; the provider's authorization URL and the browser binding."""
        purpose = _PURPOSE.get(request.purpose)
        if purpose is None:
            raise DomainError(ErrorKind.INVALID_ARGUMENT, "request.invalid")
        started = await self._f.start(
            StartRequest(
                provider=request.provider,
                purpose=purpose,
                account_id=request.account_id,
                return_to=request.return_to,
                region_hint=request.region_hint,
            )
        )
        return pb.StartSocialFlowResponse(
            authorization_url=started.authorization_url,
            binding=started.binding,
            expires_in=started.expires_in,
        )

    async def CompleteSocialFlow(
        self, request: pb.CompleteSocialFlowRequest, context: Context
    ) -> pb.CompleteSocialFlowResponse:
        """Spend the flow and sign in, create the account, or link."""
        completed = await self._f.complete(
            CompleteRequest(
                provider=request.provider,
                state=request.state,
                binding=request.binding,
                callback=Callback(
                    code=request.code, device_id=request.device_id, user_json=request.user_json
                ),
                error=request.error,
                region_hint=request.region_hint,
                language=request.language,
            ),
            client_from_pb(request.client),
        )
        reply = pb.CompleteSocialFlowResponse(
            outcome=_OUTCOME[completed.outcome],
            return_to=completed.return_to,
            account_id=str(completed.account_id),
        )
        if completed.signed_in is not None:
            reply.tokens.CopyFrom(signed_in_to_pb(completed.signed_in))
        return reply

    async def ListLinkedIdentities(
        self, request: pb.ListLinkedIdentitiesRequest, context: Context
    ) -> pb.ListLinkedIdentitiesResponse:
        """The account's linked social sign-ins."""
        identities = await self._f.linked(request.account_id)
        return pb.ListLinkedIdentitiesResponse(
            identities=[
                pb.LinkedIdentity(
                    provider=i.provider,
                    email=i.email,
                    linked_at=timestamp(i.linked_at),
                    last_used_at=None if i.last_used_at is None else timestamp(i.last_used_at),
                )
                for i in identities
            ]
        )

    async def UnlinkIdentity(
        self, request: pb.UnlinkIdentityRequest, context: Context
    ) -> pb.UnlinkIdentityResponse:
        """Remove one linked sign-in, unless it is the last way to sign in."""
        await self._f.unlink(request.account_id, request.provider)
        return pb.UnlinkIdentityResponse()


def register(federation: FederationService) -> Callable[[grpc.aio.Server], None]:
    """The function ``ServiceHost.serve`` calls to add this servicer to its server."""

    def add(server: grpc.aio.Server) -> None:
        federation_pb2_grpc.add_FederationServiceServicer_to_server(
            FederationServicer(federation), server
        )

    return add
