"""The plans catalog as operators write it: a seed file read at start-up.

Operators change plans (features, options, prices, whether a plan is on sale) by editing the seed
(``services/subscription/seed/plans.json`` or the file named by ``KABINET_SUBSCRIPTION_SEED``)
and restarting; each replica upserts it, so the database always holds the latest file. A plan
removed from the file is taken off sale, never deleted: subscriptions and codes refer to it.

The format (one object, ``version`` 1)::

    {"version": 1, "plans": [{"id": "standard", "tier": "standard", "name": "Standard",
      "name_ru": "Стандартный", "on_sale": true, "features": ["antivirus"],
      "options": [{"devices": 1, "term_months": 12,
                   "prices": {"RU": ["RUB", 199000], "US": ["USD", 2999]}}]}]}

Amounts are in minor units (kopecks, cents). A malformed file stops the service at start-up with
a message that says where.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from subscription.domain.model import Plan, PlanOption, Price, Tier

DEFAULT_SEED = Path(__file__).resolve().parents[1] / "seed" / "plans.json"

_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_REGION = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class SeedError(ValueError):
    """The seed file is not a valid catalog; the message says where."""


def read_seed(path: Path) -> tuple[Plan, ...]:
    """The plans of the seed file at ``path``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SeedError(f"{path}: {exc}") from exc
    return parse_catalog(data, source=str(path))


def _need(condition: bool, where: str, what: str) -> None:
    if not condition:
        raise SeedError(f"{where}: {what}")


def _int(value: Any, where: str) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool), where, "expected a number")
    return int(value)


def parse_catalog(data: Any, *, source: str = "seed") -> tuple[Plan, ...]:
    """Validate a decoded seed and turn it into plans."""
    _need(isinstance(data, Mapping), source, "expected an object")
    _need(data.get("version") == 1, source, "version must be 1")
    raw_plans = data.get("plans")
    _need(isinstance(raw_plans, list) and bool(raw_plans), source, "plans must be a list")
    plans = [_plan(raw, f"{source}: plans[{i}]") for i, raw in enumerate(raw_plans)]
    ids = [p.id for p in plans]
    _need(len(set(ids)) == len(ids), source, "plan ids must be unique")
    return tuple(plans)


def _plan(raw: Any, where: str) -> Plan:
    _need(isinstance(raw, Mapping), where, "expected an object")
    plan_id = raw.get("id")
    _need(isinstance(plan_id, str) and bool(_ID.match(plan_id)), where, "id: lower-case name")
    where = f"{where} ({plan_id})"
    try:
        tier = Tier.from_key(str(raw.get("tier", "")))
    except KeyError:
        raise SeedError(f"{where}: tier must be standard, plus or premium") from None
    name, name_ru = raw.get("name"), raw.get("name_ru", raw.get("name"))
    _need(isinstance(name, str) and bool(name.strip()), where, "name is required")
    _need(isinstance(name_ru, str) and bool(name_ru.strip()), where, "name_ru must be text")
    features = raw.get("features")
    _need(
        isinstance(features, list)
        and bool(features)
        and all(isinstance(f, str) and _FEATURE.match(f) for f in features)
        and len(set(features)) == len(features),
        where,
        "features: a list of distinct lower-case names",
    )
    on_sale = raw.get("on_sale", True)
    _need(isinstance(on_sale, bool), where, "on_sale must be true or false")
    raw_options = raw.get("options")
    _need(isinstance(raw_options, list) and bool(raw_options), where, "options must be a list")
    options = tuple(_option(o, f"{where}: options[{i}]") for i, o in enumerate(raw_options))
    keys = [(o.devices, o.term_months) for o in options]
    _need(len(set(keys)) == len(keys), where, "two options with the same devices and term")
    return Plan(
        id=plan_id,
        tier=tier,
        name=name.strip(),
        name_ru=name_ru.strip(),
        features=tuple(features),
        options=options,
        on_sale=on_sale,
    )


def _option(raw: Any, where: str) -> PlanOption:
    _need(isinstance(raw, Mapping), where, "expected an object")
    devices = _int(raw.get("devices"), f"{where}: devices")
    term = _int(raw.get("term_months"), f"{where}: term_months")
    _need(1 <= devices <= 100, where, "devices must be 1..100")
    _need(1 <= term <= 120, where, "term_months must be 1..120")
    raw_prices = raw.get("prices")
    _need(isinstance(raw_prices, Mapping) and bool(raw_prices), where, "prices: region → price")
    prices = []
    for region, pair in raw_prices.items():
        at = f"{where}: prices.{region}"
        _need(bool(_REGION.match(region)), at, "region: two capital letters (RU, US, EU)")
        _need(isinstance(pair, list) and len(pair) == 2, at, 'expected ["CUR", amount_minor]')
        currency, amount = pair
        _need(isinstance(currency, str) and bool(_CURRENCY.match(currency)), at, "currency")
        amount = _int(amount, at)
        _need(amount > 0, at, "amount must be positive")
        prices.append(Price(region, currency, amount))
    return PlanOption(devices, term, tuple(prices))


def parse_plan(raw: Any) -> Plan:
    """One plan as an operator sends it (the seed's shape), checked by the seed's rules."""
    return _plan(raw, "plan")


def parse_price(region: str, currency: str, amount_minor: int) -> Price:
    """One price, checked by the seed's rules."""
    option = _option(
        {"devices": 1, "term_months": 1, "prices": {region: [currency, amount_minor]}}, "price"
    )
    return option.prices[0]
