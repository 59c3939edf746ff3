"""``PaymentProvider`` on the sandbox PSP's HTTP API (``kabinet.devstack.psp``)."""

from __future__ import annotations

import httpx

from subscription.domain.payments import (
    CreatedPayment,
    PaymentFailedError,
    PaymentRequest,
    ProviderRefund,
)


class SandboxProvider:
    name = "sandbox"

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    async def _post(self, path: str, body: dict[str, object], key: str) -> dict[str, object]:
        if not self._base_url:
            raise PaymentFailedError("KABINET_PAYMENTS_SANDBOX_URL is not set")
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                reply = await client.post(
                    f"{self._base_url}{path}",
                    json=body,
                    headers={
                        "authorization": f"Bearer {self._api_key}",
                        "idempotency-key": key,
                    },
                )
        except httpx.HTTPError as exc:
            raise PaymentFailedError(repr(exc)) from None
        if reply.status_code != 201:
            raise PaymentFailedError(f"the provider answered {reply.status_code}")
        answer = reply.json()
        assert isinstance(answer, dict)
        return answer

    async def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        body: dict[str, object] = {
            "order_id": str(request.order_id),
            "amount_minor": request.amount_minor,
            "currency": request.currency,
            "description": request.description,
            "return_url": request.return_url,
            "payment_method": request.payment_method or "",
        }
        created = await self._post("/v1/payments", body, str(request.order_id))
        url = None if request.payment_method else str(created["url"])
        return CreatedPayment(payment_id=str(created["id"]), payment_url=url)

    async def refund(self, payment_id: str, amount_minor: int, *, key: str) -> ProviderRefund:
        body: dict[str, object] = {"payment_id": payment_id, "amount_minor": amount_minor}
        refunded = await self._post("/v1/refunds", body, key)
        amount = refunded["amount_minor"]
        assert isinstance(amount, int)
        return ProviderRefund(refund_id=str(refunded["id"]), amount_minor=amount)
