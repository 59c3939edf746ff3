"""The support service's composition root."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kabinet.service import ServiceHost
from support.config import SupportSettings

MIGRATIONS = Path(__file__).parent / "migrations"


async def serve(
    settings: SupportSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run the service until stopped."""
    async with ServiceHost("support", settings.common, migrations=MIGRATIONS) as host:
        await host.serve([], [], stop=stop, ready=ready)
