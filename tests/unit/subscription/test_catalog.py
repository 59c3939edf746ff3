"""The plans seed: the shipped file is a valid catalog; broken files are refused with a place."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from subscription.domain.catalog import DEFAULT_SEED, SeedError, parse_catalog, read_seed
from subscription.domain.model import Tier
from subscription.domain.services import SubscriptionServices

SEED: dict[str, Any] = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))


def test_the_shipped_seed_has_the_three_tiers_devices_terms_and_regions() -> None:
    plans = {p.id: p for p in read_seed(DEFAULT_SEED)}
    assert [plans[i].tier for i in ("standard", "plus", "premium")] == list(Tier)
    assert plans["standard"].features == ("antivirus",)
    assert set(plans["standard"].features) < set(plans["plus"].features)
    assert set(plans["plus"].features) < set(plans["premium"].features)
    assert "priority_support" in plans["premium"].features
    for plan in plans.values():
        assert {(o.devices, o.term_months) for o in plan.options} == {
            (d, t) for d in (1, 3, 5, 10) for t in (12, 24)
        }
        for option in plan.options:
            assert {(p.region, p.currency) for p in option.prices} >= {
                ("RU", "RUB"),
                ("US", "USD"),
                ("EU", "EUR"),
            }


def test_a_dearer_tier_costs_more_for_the_same_option() -> None:
    plans = {p.id: p for p in read_seed(DEFAULT_SEED)}
    for devices, term in ((1, 12), (10, 24)):
        amounts = [
            plans[i].option(devices, term).in_region("RU").prices[0].amount_minor  # type: ignore[union-attr]
            for i in ("standard", "plus", "premium")
        ]
        assert amounts == sorted(amounts)


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(version=2), "version"),
        (lambda d: d["plans"][0].update(tier="gold"), "plans[0] (standard): tier"),
        (lambda d: d["plans"][1].update(features=[]), "plans[1] (plus): features"),
        (lambda d: d["plans"][2]["options"][0].update(devices=0), "options[0]"),
        (lambda d: d["plans"][0]["options"][1]["prices"].update(ru=["RUB", 1]), "prices.ru"),
        (lambda d: d["plans"][0]["options"][1]["prices"].update(RU=["RUB", -5]), "prices.RU"),
        (lambda d: d["plans"].append(d["plans"][0]), "unique"),
        (lambda d: d["plans"][0]["options"].append(d["plans"][0]["options"][0]), "same devices"),
    ],
)
def test_a_broken_seed_is_refused_with_where(change: Any, where: str) -> None:
    with pytest.raises(SeedError) as error:
        parse_catalog(_broken(change))
    assert where in str(error.value)


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "plans.json"
    bad.write_text("{not json")
    with pytest.raises(SeedError) as error:
        read_seed(bad)
    assert str(bad) in str(error.value)


async def test_seeding_again_is_idempotent_and_a_dropped_plan_goes_off_sale(
    services: SubscriptionServices, store: Any
) -> None:
    plans = read_seed(DEFAULT_SEED)
    await services.seed_plans(plans)
    assert [p.id for p in await services.list_plans()] == ["standard", "plus", "premium"]
    await services.seed_plans([p for p in plans if p.id != "plus"])
    assert [p.id for p in await services.list_plans()] == ["standard", "premium"]
    assert not (await services.get_plan("plus")).on_sale


async def test_plans_are_served_with_one_regions_prices(services: SubscriptionServices) -> None:
    for plan in await services.list_plans("us"):
        assert {p.currency for o in plan.options for p in o.prices} == {"USD"}
    assert all(not p.options for p in await services.list_plans("ZZ"))
