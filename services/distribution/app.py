"""The distribution service's composition root."""

from __future__ import annotations

import asyncio
from pathlib import Path

from distribution.config import DistributionSettings
from kabinet.service import ServiceHost

MIGRATIONS = Path(__file__).parent / "migrations"


async def serve(
    settings: DistributionSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the service until stopped."""
    async with ServiceHost("distribution", settings.common, migrations=MIGRATIONS) as host:
        await host.serve([], [], stop=stop, ready=ready)
