"""Pages for buying and using what was bought: plans and checkout, an order's outcome, the
person's subscriptions (codes, renewal, automatic renewal) and their downloads."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import Redirect, Template

from gateway.controllers.downloads import application_out
from gateway.controllers.orders import order_out
from gateway.controllers.social import region_hint
from gateway.controllers.subscriptions import plan_out, subscription_out
from gateway.web.rendering import page_language, principal_of, render_page
from kabinet.distribution.v1 import distribution_pb2 as dpb
from kabinet.identity.v1 import identity_pb2
from kabinet.subscription.v1 import subscription_pb2 as spb

DEFAULT_REGION = "RU"
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}


def money(amount_minor: int, currency: str) -> str:
    """``199000, "RUB"`` → ``1 990 ₽``; whole units shown without kopecks or cents."""
    units, cents = divmod(amount_minor, 100)
    whole = f"{units:,}".replace(",", "\u00a0")
    number = whole if cents == 0 else f"{whole}.{cents:02d}"
    sign = CURRENCY_SIGNS.get(currency)
    return f"{number}\u00a0{sign}" if sign else f"{number}\u00a0{currency}"


def _offers(plans: list[Any], region: str) -> list[dict[str, Any]]:
    """Each plan with its options priced in ``region`` (options without a price there are left
    out: they cannot be bought there)."""
    shown = []
    for plan in plans:
        options = []
        for option in plan.options:
            price = next((p for p in option.prices if p.region == region), None)
            if price is None:
                continue
            options.append(
                {
                    "value": f"{plan.id}:{option.devices}:{option.term_months}",
                    "devices": option.devices,
                    "term_months": option.term_months,
                    "price": money(price.amount_minor, price.currency),
                }
            )
        if options:
            shown.append(
                {
                    "id": plan.id,
                    "name": plan.name,
                    "tier": plan.tier,
                    "features": plan.features,
                    "options": options,
                }
            )
    return shown


class CommercePagesController(Controller):
    """Buy, orders, subscriptions and downloads."""

    include_in_schema = False

    async def _region(self, request: Request[Any, Any, Any], state: State, country: str) -> str:
        return (region_hint(request, state) or country or DEFAULT_REGION).upper()

    @get("/buy")
    async def buy(self, request: Request[Any, Any, Any], state: State) -> Template:
        """Open to everyone: a buyer without an account gets one from the purchase."""
        principal = await principal_of(request, state)
        email, country = "", ""
        if principal is not None:
            account = (
                await state.clients.identity.GetAccount(
                    identity_pb2.GetAccountRequest(account_id=principal.account_id)
                )
            ).account
            email, country = account.email, account.country
        region = await self._region(request, state, country)
        language = page_language(request)
        reply = await state.clients.subscription.ListPlans(spb.ListPlansRequest(region=region))
        plans = [plan_out(p, language) for p in reply.plans]
        return render_page(
            request,
            state,
            "buy.html",
            "buy",
            signed_in=principal is not None,
            offers=_offers(plans, region),
            region=region,
            email=email,
            # One key per rendering of the form: pressing twice makes one order.
            idempotency_key=uuid.uuid4().hex,
        )

    @get("/orders/{order_id:str}")
    async def order(
        self, order_id: FromPath[str], request: Request[Any, Any, Any], state: State
    ) -> Template:
        """Where the payment page sends the buyer back; follows the order until it is decided.
        Order ids are random, so knowing one is what it takes to see its status."""
        reply = await state.clients.subscription.GetOrder(
            spb.GetOrderRequest(order_id=order_id[:64])
        )
        order = order_out(reply.order)
        principal = await principal_of(request, state)
        return render_page(
            request,
            state,
            "order.html",
            "buy",
            signed_in=principal is not None,
            order=order,
            price=money(order.amount_minor, order.currency),
            waiting=order.status in ("pending", "paid"),
        )

    @get("/subscriptions")
    async def subscriptions(
        self, request: Request[Any, Any, Any], state: State
    ) -> Template | Redirect:
        principal = await principal_of(request, state)
        if principal is None:
            return Redirect("/signin?next=/subscriptions")
        language = page_language(request)
        mine = await state.clients.subscription.ListSubscriptions(
            spb.ListSubscriptionsRequest(account_id=principal.account_id)
        )
        plans = await state.clients.subscription.ListPlans(spb.ListPlansRequest())
        names = {p.id: plan_out(p, language).name for p in plans.plans}
        terms = {p.id: sorted({o.term_months for o in p.options if o.prices}) for p in plans.plans}
        return render_page(
            request,
            state,
            "subscriptions.html",
            "subscriptions",
            signed_in=True,
            subscriptions=[
                {
                    "sub": subscription_out(s),
                    "plan_name": names.get(s.plan_id, s.plan_id),
                    "terms": terms.get(s.plan_id, []),
                    "renew_key": uuid.uuid4().hex,
                }
                for s in mine.subscriptions
            ],
        )

    @get("/downloads")
    async def downloads(self, request: Request[Any, Any, Any], state: State) -> Template | Redirect:
        principal = await principal_of(request, state)
        if principal is None:
            return Redirect("/signin?next=/downloads")
        language = page_language(request)
        reply = await state.clients.distribution.ListDownloads(
            dpb.ListDownloadsRequest(
                account_id=principal.account_id,
                user_agent=request.headers.get("user-agent", "")[:512],
                platform_hint=request.headers.get("sec-ch-ua-platform", "")[:64],
                language=language,
            )
        )
        return render_page(
            request,
            state,
            "downloads.html",
            "downloads",
            signed_in=True,
            applications=[application_out(a, language) for a in reply.applications],
        )
