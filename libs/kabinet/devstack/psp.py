"""A sandbox payment provider (PSP) for development and tests, behaving like a real one.

API (``Authorization: Bearer <api key>``):

- ``POST /v1/payments`` ``{order_id, amount_minor, currency, description, return_url,
  payment_method?}`` creates a payment (idempotent per ``Idempotency-Key``) and answers ``{id,
  status, url}``: ``url`` is the hosted page where the buyer pays. With a saved
  ``payment_method`` (from an earlier approved payment) it is charged at once, without a page.
- ``GET /v1/payments/<id>``: the payment.
- ``POST /v1/refunds`` ``{payment_id, amount_minor}`` returns money of an approved payment
  (idempotent per ``Idempotency-Key``: the same key answers the same refund) and answers ``{id,
  payment_id, amount_minor, currency, status}``; refunds of one payment never exceed it (409
  ``not_refundable`` otherwise). The payment becomes ``refunded`` once wholly returned, and a
  signed ``payment.refunded`` notification (with ``refund_id``) goes to the webhook.
- ``POST /v1/events/<id>/resend``: deliver an event again (same id, fresh signature), as a
  PSP's dashboard does.

The hosted page ``/pay/<id>`` takes a card number. Test cards: ``4242 4242 4242 4242`` and
``5555 5555 5555 4444`` are approved, ``4000 0000 0000 0002`` is declined, any other number that
passes the Luhn check is declined, one that fails it is asked again. After the decision the buyer
is sent to ``return_url`` and, asynchronously, the PSP POSTs a signed notification to the webhook
URL (``kabinet.webhooks``: HMAC-SHA256 over timestamp and body), retrying with a growing delay
while the receiver answers 5xx or cannot be reached.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kabinet import webhooks
from kabinet.devstack.ports import ensure_free
from kabinet.devstack.settings import DevstackSettings

log = logging.getLogger(__name__)

APPROVED_CARDS = frozenset({"4242424242424242", "5555555555554444"})
DECLINED_CARD = "4000000000000002"


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@dataclass
class Payment:
    id: str
    order_id: str
    amount_minor: int
    currency: str
    description: str
    return_url: str
    status: str = "pending"  # pending, approved, declined, refunded
    payment_method: str = ""
    refunded_minor: int = 0


@dataclass
class Refund:
    id: str
    payment_id: str
    amount_minor: int
    currency: str
    status: str = "succeeded"


class NotRefundableError(Exception):
    """The payment is not approved, or the refund would return more than was paid."""


class UnknownPaymentError(Exception):
    """No payment has that id."""


@dataclass
class Delivery:
    event_id: str
    body: bytes
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)


class SandboxPsp:
    """The PSP on ``host:port`` (a thread); notifications go to ``webhook_url``."""

    def __init__(
        self,
        webhook_url: str,
        secret: str,
        *,
        api_key: str = "sandbox-api-key",
        host: str = "127.0.0.1",
        port: int = 0,
        retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 5.0),
    ) -> None:
        self.webhook_url = webhook_url
        self.secret = secret
        self.api_key = api_key
        self.retry_delays = retry_delays
        self.payments: dict[str, Payment] = {}
        self.by_order: dict[str, str] = {}
        self.methods: set[str] = set()
        self.refunds: dict[str, Refund] = {}
        self.refunds_by_key: dict[str, str] = {}
        self.deliveries: dict[str, Delivery] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._senders: list[threading.Thread] = []
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sandbox-psp", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        for sender in self._senders:
            sender.join(5)

    # the API

    def create(self, body: dict[str, Any], key: str) -> Payment:
        with self._lock:
            known = self.by_order.get(key)
            if known is not None:
                return self.payments[known]
            payment = Payment(
                id=f"pay_{secrets.token_hex(12)}",
                order_id=str(body["order_id"]),
                amount_minor=int(body["amount_minor"]),
                currency=str(body["currency"]),
                description=str(body.get("description", ""))[:200],
                return_url=str(body.get("return_url", "")),
            )
            self.payments[payment.id] = payment
            self.by_order[key] = payment.id
        method = str(body.get("payment_method") or "")
        if method:
            self.decide(payment, approved=method in self.methods, method=method)
        return payment

    def decide(self, payment: Payment, *, approved: bool, method: str = "") -> None:
        """Settle a pending payment and notify the webhook (in the background)."""
        with self._lock:
            if payment.status != "pending":
                return
            payment.status = "approved" if approved else "declined"
            if approved:
                payment.payment_method = method or f"pm_{secrets.token_hex(12)}"
                self.methods.add(payment.payment_method)
        self._notify(
            f"payment.{payment.status}",
            {
                "payment_id": payment.id,
                "order_id": payment.order_id,
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
                "payment_method": payment.payment_method,
            },
        )

    def refund(self, body: dict[str, Any], key: str) -> Refund:
        """Return money of an approved payment, once per ``key``; raises
        ``NotRefundableError``, ``UnknownPaymentError`` or ``ValueError``/``KeyError`` (a
        malformed request)."""
        amount, payment_id = int(body["amount_minor"]), str(body["payment_id"])
        if amount <= 0:
            raise ValueError("amount_minor must be positive")
        with self._lock:
            known = self.refunds_by_key.get(key)
            if known is not None:
                refund = self.refunds[known]
                if refund.payment_id != payment_id:
                    raise NotRefundableError("the key was used for another payment")
                return refund
            payment = self.payments.get(payment_id)
            if payment is None:
                raise UnknownPaymentError(payment_id)
            if payment.status not in ("approved", "refunded"):
                raise NotRefundableError(f"the payment is {payment.status}")
            if payment.refunded_minor + amount > payment.amount_minor:
                raise NotRefundableError("more than was paid")
            refund = Refund(
                id=f"re_{secrets.token_hex(12)}",
                payment_id=payment.id,
                amount_minor=amount,
                currency=payment.currency,
            )
            payment.refunded_minor += amount
            if payment.refunded_minor == payment.amount_minor:
                payment.status = "refunded"
            self.refunds[refund.id] = refund
            self.refunds_by_key[key] = refund.id
        self._notify(
            "payment.refunded",
            {
                "payment_id": payment.id,
                "order_id": payment.order_id,
                "refund_id": refund.id,
                "amount_minor": refund.amount_minor,
                "currency": refund.currency,
                "payment_method": payment.payment_method,
            },
        )
        return refund

    def _notify(self, kind: str, data: dict[str, object]) -> None:
        """Sign and deliver a notification to the webhook (in the background, with retries)."""
        event_id = f"evt_{secrets.token_hex(12)}"
        body = json.dumps(
            {"id": event_id, "type": kind, "created": int(time.time()), "data": data}
        ).encode()
        delivery = Delivery(event_id, body)
        with self._lock:
            self.deliveries[event_id] = delivery
        self._send_later(delivery)

    def _send_later(self, delivery: Delivery) -> None:
        sender = threading.Thread(target=self._deliver, args=(delivery,), name="psp-webhook")
        self._senders = [t for t in self._senders if t.is_alive()] + [sender]
        sender.start()

    def _deliver(self, delivery: Delivery) -> None:
        for delay in (0.0, *self.retry_delays):
            if self._stopping.wait(delay):
                return
            status = self.post_signed(delivery.body)
            delivery.attempts += 1
            delivery.statuses.append(status)
            if status and status < 500:
                return

    def post_signed(self, body: bytes, timestamp: int | None = None) -> int:
        """POST ``body`` to the webhook signed now (or at ``timestamp``); the status (0: no
        answer)."""
        stamp = int(time.time()) if timestamp is None else timestamp
        request = urllib.request.Request(  # noqa: S310 - the configured webhook URL
            self.webhook_url,
            data=body,
            method="POST",
            headers={
                "content-type": "application/json",
                webhooks.SIGNATURE_HEADER: webhooks.sign(self.secret, stamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                return int(reply.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return 0

    def resend(self, event_id: str) -> bool:
        delivery = self.deliveries.get(event_id)
        if delivery is None:
            return False
        self._send_later(delivery)
        return True


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox payment</title></head>
<body style="font-family:sans-serif;max-width:420px;margin:40px auto">
<h1>Sandbox payment</h1>
<p>{description}</p>
<p><strong>{amount} {currency}</strong></p>
{message}
<form method="post" action="/pay/{id}">
<label>Card number <input name="card_number" autocomplete="off" required></label>
<button type="submit">Pay</button>
</form>
<p><small>Test cards: 4242 4242 4242 4242 (approved), 4000 0000 0000 0002 (declined).</small></p>
</body></html>
"""


def _handler_for(psp: SandboxPsp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("psp: " + format, *args)

        def _json(self, status: int, value: object) -> None:
            data = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("content-length") or 0))

        def _authorised(self) -> bool:
            given = self.headers.get("authorization", "")
            if secrets.compare_digest(given, f"Bearer {psp.api_key}"):
                return True
            self._json(401, {"error": "unauthorised"})
            return False

        def _page(self, payment: Payment, message: str = "", status: int = 200) -> None:
            data = _PAGE.format(
                id=html.escape(payment.id),
                description=html.escape(payment.description),
                amount=f"{payment.amount_minor / 100:.2f}",
                currency=html.escape(payment.currency),
                message=f"<p style='color:#b00'>{html.escape(message)}</p>" if message else "",
            ).encode()
            self.send_response(status)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["favicon.ico"]:  # browsers ask; a 404 would be a console error
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if len(parts) == 2 and parts[0] == "pay" and parts[1] in psp.payments:
                payment = psp.payments[parts[1]]
                if payment.status != "pending":
                    self._page(payment, f"This payment is {payment.status}.", 409)
                else:
                    self._page(payment)
            elif parts[:2] == ["v1", "payments"] and len(parts) == 3:
                if not self._authorised():
                    return
                found = psp.payments.get(parts[2])
                if found is None:
                    self._json(404, {"error": "not_found"})
                else:
                    self._json(200, _public(found))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if parts == ["v1", "payments"]:
                if not self._authorised():
                    return
                try:
                    body = json.loads(self._body())
                    key = self.headers.get("idempotency-key") or str(body["order_id"])
                    payment = psp.create(body, key)
                except (ValueError, KeyError, TypeError):
                    self._json(400, {"error": "invalid_request"})
                    return
                self._json(201, _public(payment) | {"url": f"{psp.url}/pay/{payment.id}"})
            elif parts == ["v1", "refunds"]:
                if not self._authorised():
                    return
                key = self.headers.get("idempotency-key") or ""
                try:
                    if not key:
                        raise ValueError("Idempotency-Key is required")
                    refund = psp.refund(json.loads(self._body()), key)
                except UnknownPaymentError:
                    self._json(404, {"error": "not_found"})
                    return
                except NotRefundableError as exc:
                    self._json(409, {"error": "not_refundable", "detail": str(exc)})
                    return
                except (ValueError, KeyError, TypeError):
                    self._json(400, {"error": "invalid_request"})
                    return
                self._json(201, dataclasses.asdict(refund))
            elif len(parts) == 4 and parts[:2] == ["v1", "events"] and parts[3] == "resend":
                if not self._authorised():
                    return
                ok = psp.resend(parts[2])
                self._json(202 if ok else 404, {"resent": ok})
            elif len(parts) == 2 and parts[0] == "pay" and parts[1] in psp.payments:
                payment = psp.payments[parts[1]]
                form = urllib.parse.parse_qs(self._body().decode("utf-8", "replace"))
                card = "".join((form.get("card_number") or [""])[0].split())
                if payment.status != "pending":
                    self._page(payment, f"This payment is {payment.status}.", 409)
                    return
                if not luhn_ok(card):
                    self._page(payment, "This card number is not valid.", 400)
                    return
                psp.decide(payment, approved=card in APPROVED_CARDS)
                self.send_response(303)
                self.send_header("location", payment.return_url or "/")
                self.send_header("content-length", "0")
                self.end_headers()
            else:
                self._json(404, {"error": "not_found"})

    return Handler


def _public(payment: Payment) -> dict[str, object]:
    return {
        "id": payment.id,
        "order_id": payment.order_id,
        "status": payment.status,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
    }


def start_sandbox_psp(dev: DevstackSettings, env: dict[str, str]) -> SandboxPsp:
    """``make run``: start the sandbox PSP and tell the services and the gateway about it (its
    URL and, unless one is configured, a fresh webhook secret) through ``env``."""
    ensure_free("127.0.0.1", dev.psp_port, "the sandbox PSP", "KABINET_PAYMENTS_SANDBOX_PORT")
    secret = env.get("KABINET_PAYMENTS_WEBHOOK_SECRET") or secrets.token_hex(32)
    psp = SandboxPsp(
        f"http://{dev.gateway_host}:{dev.gateway_port}/api/v1/payments/webhooks/sandbox",
        secret,
        api_key=env.get("KABINET_PAYMENTS_SANDBOX_API_KEY", "sandbox-api-key"),
        port=dev.psp_port,
    )
    psp.start()
    env["KABINET_PAYMENTS_SANDBOX_URL"] = psp.url
    env["KABINET_PAYMENTS_WEBHOOK_SECRET"] = secret
    return psp
