"""The sandbox PSP's refund API through the subscription service's adapter: idempotent per key,
never more than was paid, a signed ``payment.refunded`` notification to the webhook."""

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kabinet import webhooks
from kabinet.devstack.psp import SandboxPsp
from subscription.domain.payments import PaymentFailedError, PaymentRequest
from subscription.payments.sandbox import SandboxProvider

SECRET = "refund-secret"


@pytest.fixture
def received() -> Iterator[tuple[str, "queue.Queue[tuple[str, bytes]]"]]:
    """A webhook receiver: every delivery's signature header and body."""
    got: queue.Queue[tuple[str, bytes]] = queue.Queue()

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            got.put((self.headers.get(webhooks.SIGNATURE_HEADER, ""), body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}/hook", got
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def psp(received: tuple[str, Any]) -> Iterator[SandboxPsp]:
    running = SandboxPsp(received[0], SECRET, api_key="k")
    running.start()
    yield running
    running.stop()


def _notice(got: "queue.Queue[tuple[str, bytes]]", kind: str) -> dict[str, Any]:
    while True:
        header, body = got.get(timeout=10)
        webhooks.verify(SECRET, header, body, time.time())  # signed like every notification
        event = json.loads(body)
        if event["type"] == kind:
            return dict(event)


async def _approved(psp: SandboxPsp, provider: SandboxProvider) -> tuple[str, int]:
    created = await provider.create_payment(
        PaymentRequest(uuid.uuid4(), 12_900, "RUB", "Plus", "b@example.com", "en", "http://x/")
    )
    psp.decide(psp.payments[created.payment_id], approved=True)
    return created.payment_id, 12_900


async def test_a_refund_is_made_once_per_key_and_notified_signed(
    psp: SandboxPsp, received: tuple[str, "queue.Queue[tuple[str, bytes]]"]
) -> None:
    provider = SandboxProvider(psp.url, "k", 5.0)
    payment_id, amount = await _approved(psp, provider)
    first = await provider.refund(payment_id, amount, key="refund-1")
    again = await provider.refund(payment_id, amount, key="refund-1")
    assert again == first
    assert first.amount_minor == amount
    assert psp.payments[payment_id].status == "refunded"
    assert len(psp.refunds) == 1
    event = _notice(received[1], "payment.refunded")
    assert event["data"]["refund_id"] == first.refund_id
    assert event["data"]["payment_id"] == payment_id
    assert event["data"]["amount_minor"] == amount
    # Another key cannot return the money a second time.
    with pytest.raises(PaymentFailedError, match="409"):
        await provider.refund(payment_id, amount, key="refund-2")


async def test_unknown_unpaid_and_unauthorised_refunds_are_refused(psp: SandboxPsp) -> None:
    provider = SandboxProvider(psp.url, "k", 5.0)
    with pytest.raises(PaymentFailedError, match="404"):
        await provider.refund("pay_nope", 100, key="refund-x")
    created = await provider.create_payment(
        PaymentRequest(uuid.uuid4(), 500, "RUB", "Plus", "b@example.com", "en", "http://x/")
    )
    with pytest.raises(PaymentFailedError, match="409"):  # still pending: nothing to return
        await provider.refund(created.payment_id, 500, key="refund-y")
    psp.decide(psp.payments[created.payment_id], approved=True)
    with pytest.raises(PaymentFailedError, match="409"):  # more than was paid
        await provider.refund(created.payment_id, 501, key="refund-z")
    with pytest.raises(PaymentFailedError, match="401"):
        await SandboxProvider(psp.url, "wrong", 5.0).refund(created.payment_id, 500, key="r")
    assert psp.refunds == {}
    assert psp.payments[created.payment_id].status == "approved"
