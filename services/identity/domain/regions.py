"""Which social sign-in providers a region is offered, and where the caller's region comes from.

The region is, in this order: the one the edge vouches for (a header the gateway believes only
from a configured trusted proxy), else the signed-in account's country, else the configured
default. The table maps a region to the providers it is offered; the ``*`` row covers every region
without its own row. By default Russia is not offered Facebook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from identity.domain.countries import is_country_code

PROVIDERS = ("google", "apple", "facebook", "yandex", "vk")
ANY_REGION = "*"


class RegionSource(StrEnum):
    EDGE = "edge"
    ACCOUNT = "account"
    DEFAULT = "default"


@dataclass(frozen=True)
class RegionDecision:
    """The region a decision was made for, where it came from, and what it offers."""

    region: str
    source: RegionSource
    offered: tuple[str, ...]

    def offers(self, provider: str) -> bool:
        return provider in self.offered


def parse_table(entries: Iterable[str]) -> dict[str, frozenset[str]]:
    """``REGION=p1|p2`` entries as a mapping; a malformed entry or unknown provider is a
    ValueError (found at start-up, not at the first sign-in)."""
    table: dict[str, frozenset[str]] = {}
    for entry in entries:
        region, sep, names = entry.partition("=")
        region = region.strip().upper()
        if not sep or not (region == ANY_REGION or is_country_code(region)):
            raise ValueError(f"KABINET_IDENTITY_SOCIAL_REGIONS: bad entry {entry!r}")
        providers = frozenset(p.strip().lower() for p in names.split("|") if p.strip())
        unknown = providers - set(PROVIDERS)
        if unknown:
            raise ValueError(f"KABINET_IDENTITY_SOCIAL_REGIONS: unknown provider(s) {unknown}")
        table[region] = providers
    return table


def clean_region(value: str) -> str:
    """An assigned ISO 3166-1 alpha-2 code in upper case, or "" for anything else."""
    code = value.strip().upper()
    return code if is_country_code(code) else ""


class RegionPolicy:
    """Decides which configured providers a caller is offered."""

    def __init__(
        self, table: Mapping[str, frozenset[str]], default_region: str, enabled: Sequence[str]
    ) -> None:
        self._table = dict(table)
        self._default = clean_region(default_region)
        self._enabled = tuple(p for p in PROVIDERS if p in enabled)

    def decide(self, edge_region: str, account_country: str = "") -> RegionDecision:
        """The decision for a caller the edge places in ``edge_region`` (may be "") whose account,
        if any, names ``account_country``."""
        region, source = clean_region(edge_region), RegionSource.EDGE
        if not region:
            region, source = clean_region(account_country), RegionSource.ACCOUNT
        if not region:
            region, source = self._default, RegionSource.DEFAULT
        row = self._table.get(region, self._table.get(ANY_REGION, frozenset()))
        return RegionDecision(region, source, tuple(p for p in self._enabled if p in row))
