"""``kabinet-admin plans ...`` and ``kabinet-admin codes ...``: the catalog, through
subscription's operator RPCs (``SubscriptionAdminService``, ``IssueCodes``).

- ``plans list [--region R]``: the plans on sale, one line each with their options and prices;
- ``plans show PLAN``: one plan (on sale or not) as JSON, the form ``plans save`` reads;
- ``plans save FILE.json``: create a plan or replace one whole (JSON of ``kabinet.subscription.v1
  .Plan``: ``{"id": "family", "tier": "TIER_PLUS", "name": ..., "options": [...]}``);
- ``plans price PLAN DEVICES TERM_MONTHS REGION CURRENCY AMOUNT_MINOR``: set one price (adds the
  option when it is new); amounts are in minor units (kopecks, cents);
- ``plans on-sale PLAN``, ``plans off-sale PLAN``: plans are never deleted, only taken off sale;
- ``codes issue PLAN DEVICES TERM_MONTHS COUNT``: activation codes, printed once, one a line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from kabinet.admin_rpc import operator_link
from kabinet.subscription.v1 import admin_pb2, admin_pb2_grpc, subscription_pb2
from kabinet.subscription.v1 import subscription_pb2_grpc as grpc_pb

GROUPS = ("plans", "codes")
SERVICES = [
    subscription_pb2.DESCRIPTOR.services_by_name["SubscriptionService"],
    admin_pb2.DESCRIPTOR.services_by_name["SubscriptionAdminService"],
]


def _count(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def add_parser(groups: Any) -> None:
    plans = groups.add_parser("plans", help="plans, their options and prices")
    commands = plans.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the plans on sale")
    listing.add_argument("--region", default="", help="only this region's prices (RU, US, EU)")
    commands.add_parser("show", help="one plan as JSON (what save reads)").add_argument("plan")
    commands.add_parser("save", help="create or replace a plan from JSON").add_argument(
        "file", type=Path
    )
    price = commands.add_parser("price", help="set one option's price in one region")
    price.add_argument("plan")
    price.add_argument("devices", type=_count)
    price.add_argument("term_months", type=_count)
    price.add_argument("region")
    price.add_argument("currency")
    price.add_argument("amount_minor", type=_count, help="minor units (kopecks, cents)")
    for name, text in (("on-sale", "put a plan on sale"), ("off-sale", "take a plan off sale")):
        commands.add_parser(name, help=text).add_argument("plan")
    codes = groups.add_parser("codes", help="activation codes")
    code_commands = codes.add_subparsers(dest="command", required=True)
    issue = code_commands.add_parser("issue", help="issue activation codes (shown once)")
    issue.add_argument("plan")
    issue.add_argument("devices", type=_count)
    issue.add_argument("term_months", type=_count)
    issue.add_argument("count", type=_count)


def describe(plan: subscription_pb2.Plan) -> str:
    tier = subscription_pb2.Tier.Name(plan.tier).removeprefix("TIER_").lower()
    sale = "on sale" if plan.on_sale else "off sale"
    options = "; ".join(
        f"{o.devices}x{o.term_months}m "
        + ", ".join(f"{p.region} {p.amount_minor} {p.currency}" for p in o.prices)
        for o in plan.options
    )
    return f"{plan.id}  {tier} {sale}  {plan.name} / {plan.name_ru}  [{options}]"


def _option(args: argparse.Namespace) -> dict[str, Any]:
    """The plan option ``codes issue`` and ``plans price`` name."""
    return {"plan_id": args.plan, "devices": args.devices, "term_months": args.term_months}


async def run(args: argparse.Namespace, database: str) -> list[str]:
    """The command's output lines; gRPC errors propagate."""
    async with operator_link(database, lambda a: a.subscription, SERVICES) as link:
        public: Any = grpc_pb.SubscriptionServiceStub(link.channel)
        admin: Any = admin_pb2_grpc.SubscriptionAdminServiceStub(link.channel)
        md = link.metadata
        if args.group == "codes":
            issued = await public.IssueCodes(
                subscription_pb2.IssueCodesRequest(**_option(args), count=args.count), metadata=md
            )
            return [f"batch {issued.batch_id}: {len(issued.codes)} codes", *issued.codes]
        if args.command == "list":
            listed = await public.ListPlans(
                subscription_pb2.ListPlansRequest(region=args.region), metadata=md
            )
            return [describe(p) for p in listed.plans] or ["no plans on sale"]
        if args.command == "show":
            got = await public.GetPlan(
                subscription_pb2.GetPlanRequest(plan_id=args.plan), metadata=md
            )
            return [json_format.MessageToJson(got.plan, indent=2)]
        if args.command == "save":
            plan = json_format.Parse(args.file.read_text(encoding="utf-8"), subscription_pb2.Plan())
            saved = await admin.SavePlan(admin_pb2.SavePlanRequest(plan=plan), metadata=md)
            return [describe(saved.plan)]
        if args.command == "price":
            priced = await admin.SetPrice(
                admin_pb2.SetPriceRequest(
                    **_option(args),
                    price=subscription_pb2.Price(
                        region=args.region.upper(),
                        currency=args.currency.upper(),
                        amount_minor=args.amount_minor,
                    ),
                ),
                metadata=md,
            )
            return [describe(priced.plan)]
        changed = await admin.SetPlanOnSale(
            admin_pb2.SetPlanOnSaleRequest(plan_id=args.plan, on_sale=args.command == "on-sale"),
            metadata=md,
        )
        return [describe(changed.plan)]
