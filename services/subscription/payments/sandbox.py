"""``PaymentProvider`` on the sandbox PSP's HTTP API (``kabinet.devstack.psp``)."""

from __future__ import annotations

import httpx

from subscription.domain.payments import CreatedPayment, PaymentFailedError, PaymentRequest


class SandboxProvider:
    name = "sandbox"

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        if not self._base_url:
            raise PaymentFailedError("KABINET_PAYMENTS_SANDBOX_URL is not set")
        body = {
            "order_id": str(request.order_id),
            "amount_minor": request.amount_minor,
            "currency": request.currency,
            "description": request.description,
            "return_url": request.return_url,
            "payment_method": request.payment_method or "",
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                reply = await client.post(
                    f"{self._base_url}/v1/payments",
                    json=body,
                    headers={
                        "authorization": f"Bearer {self._api_key}",
                        "idempotency-key": str(request.order_id),
                    },
                )
        except httpx.HTTPError as exc:
            raise PaymentFailedError(repr(exc)) from None
        if reply.status_code != 201:
            raise PaymentFailedError(f"the provider answered {reply.status_code}")
        created = reply.json()
        url = None if request.payment_method else str(created["url"])
        return CreatedPayment(payment_id=str(created["id"]), payment_url=url)
