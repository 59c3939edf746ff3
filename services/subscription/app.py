"""The subscription service's composition root."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kabinet.service import ServiceHost
from subscription.config import SubscriptionSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def serve(
    settings: SubscriptionSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the service until stopped."""
    async with ServiceHost("subscription", settings.common, migrations=MIGRATIONS) as host:
        await host.serve([], [], stop=stop, ready=ready)
