"""The payment provider port: what the use cases need from a PSP.

A payment is created for an order and approved or declined later, when the provider tells us so
through its signed notification (the gateway checks the signature and calls ``ConfirmPayment``).
A refund is asked of the provider and confirmed by its ``payment.refunded`` notification.
The sandbox adapter (``subscription.payments.sandbox``) speaks to the development PSP; a real one
would speak to the real provider the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PaymentRequest:
    order_id: uuid.UUID
    amount_minor: int
    currency: str
    description: str
    buyer_email: str
    language: str
    # Where the provider sends the buyer back after paying.
    return_url: str
    # A saved payment method (automatic renewal): charged without the buyer.
    payment_method: str | None = None


@dataclass(frozen=True)
class CreatedPayment:
    payment_id: str
    # The hosted page where the buyer pays (None when charged without the buyer).
    payment_url: str | None


@dataclass(frozen=True)
class ProviderRefund:
    refund_id: str
    # The amount the provider returns (the whole payment here: refunds are never partial).
    amount_minor: int


class PaymentFailedError(Exception):
    """The provider could not be reached or refused to create the payment."""


class PaymentProvider(Protocol):
    name: str

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Create (idempotently per order) a payment; raises ``PaymentFailedError``."""
        ...

    async def refund(self, payment_id: str, amount_minor: int, *, key: str) -> ProviderRefund:
        """Return ``amount_minor`` of an approved payment to the payer, idempotently per ``key``
        (the same key again answers the same refund); raises ``PaymentFailedError``. The
        provider confirms it later with its ``payment.refunded`` notification."""
        ...
