"""gRPC clients of the services, made once in the app's lifespan (on the app's event loop)."""

from __future__ import annotations

import asyncio

import grpc

from kabinet.distribution.v1 import distribution_pb2, distribution_pb2_grpc
from kabinet.identity.v1 import (
    federation_pb2,
    federation_pb2_grpc,
    identity_pb2,
    identity_pb2_grpc,
    oidc_pb2,
    oidc_pb2_grpc,
)
from kabinet.rpc.client import create_channel
from kabinet.rpc.health import is_serving
from kabinet.settings import ServiceAddresses
from kabinet.subscription.v1 import subscription_pb2, subscription_pb2_grpc
from kabinet.support.v1 import support_pb2, support_pb2_grpc

SERVICE_NAMES = ("identity", "subscription", "distribution", "support")


class ServiceClients:
    """One channel per service, with its stub; every call gets the channel's default deadline.

    A plain class, not a dataclass: Litestar's signature model would try to evaluate the stub
    annotations, and the async stub types exist only in the type stubs.
    """

    def __init__(self, channels: dict[str, grpc.aio.Channel]) -> None:
        self.channels = channels
        self.identity: identity_pb2_grpc.IdentityServiceAsyncStub = (
            identity_pb2_grpc.IdentityServiceStub(channels["identity"])
        )
        self.federation: federation_pb2_grpc.FederationServiceAsyncStub = (
            federation_pb2_grpc.FederationServiceStub(channels["identity"])
        )
        self.oidc: oidc_pb2_grpc.OidcServiceAsyncStub = oidc_pb2_grpc.OidcServiceStub(
            channels["identity"]
        )
        self.devices: oidc_pb2_grpc.DeviceRegistryServiceAsyncStub = (
            oidc_pb2_grpc.DeviceRegistryServiceStub(channels["identity"])
        )
        self.subscription: subscription_pb2_grpc.SubscriptionServiceAsyncStub = (
            subscription_pb2_grpc.SubscriptionServiceStub(channels["subscription"])
        )
        self.distribution: distribution_pb2_grpc.DistributionServiceAsyncStub = (
            distribution_pb2_grpc.DistributionServiceStub(channels["distribution"])
        )
        self.support: support_pb2_grpc.SupportServiceAsyncStub = (
            support_pb2_grpc.SupportServiceStub(channels["support"])
        )

    async def health(self, timeout: float = 1.0) -> dict[str, bool]:
        """Each service's gRPC health, asked concurrently."""

        names = list(self.channels)
        results = await asyncio.gather(*(is_serving(self.channels[n], "", timeout) for n in names))
        return dict(zip(names, results, strict=True))

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self.channels.values()))


def connect(addresses: ServiceAddresses, default_timeout: float) -> ServiceClients:
    """Channels to every service; must run on the loop that will use them."""
    descriptors = {
        "identity": identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],
        "subscription": subscription_pb2.DESCRIPTOR.services_by_name["SubscriptionService"],
        "distribution": distribution_pb2.DESCRIPTOR.services_by_name["DistributionService"],
        "support": support_pb2.DESCRIPTOR.services_by_name["SupportService"],
    }
    # Further services served on the same channel (their idempotent methods retry too).
    also = {
        "identity": [
            federation_pb2.DESCRIPTOR.services_by_name["FederationService"],
            oidc_pb2.DESCRIPTOR.services_by_name["OidcService"],
            oidc_pb2.DESCRIPTOR.services_by_name["DeviceRegistryService"],
        ]
    }
    channels = {
        name: create_channel(
            addresses.of(name),
            services=[descriptors[name], *also.get(name, [])],
            default_timeout=default_timeout,
        )
        for name in SERVICE_NAMES
    }
    return ServiceClients(channels)
