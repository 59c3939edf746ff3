"""Bodies of the purchase, payment and device routes (msgspec Structs)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Short = Annotated[str, msgspec.Meta(max_length=64)]


class OrderBody(msgspec.Struct):
    plan_id: Short
    term_months: Annotated[int, msgspec.Meta(ge=1, le=120)]
    devices: Annotated[int, msgspec.Meta(ge=1, le=100)]
    email: Annotated[str, msgspec.Meta(max_length=320, description="the buyer's email")]
    region: Annotated[str, msgspec.Meta(max_length=8)] = "RU"
    language: Literal["ru", "en"] = "en"


class RenewBody(msgspec.Struct):
    term_months: Annotated[int, msgspec.Meta(ge=1, le=120)]
    region: Annotated[str, msgspec.Meta(max_length=8)] = "RU"


class Order(msgspec.Struct):
    id: str
    status: str
    plan_id: str
    devices: int
    term_months: int
    currency: str
    amount_minor: int
    payment_url: str
    subscription_id: str


class AutoRenewBody(msgspec.Struct):
    auto_renew: bool


class DeviceBody(msgspec.Struct):
    device_id: Short
    name: Annotated[str, msgspec.Meta(max_length=100)] = ""


class Device(msgspec.Struct):
    device_id: str
    name: str
    protected_at: str


class Seat(msgspec.Struct):
    subscription_id: str
    devices_in_use: int
    devices: int


class WebhookResult(msgspec.Struct):
    order_id: str
    status: str
