"""Checkout.com webhooks: sent to the dashboard-configured endpoint, in the workflows'
event shape, signed with Cko-Signature (verified here with the documented algorithm:
the SDK has no verifier), and retried on the documented schedule in virtual time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from checkout_sdk.payments.payments import CaptureRequest, RefundRequest, VoidRequest

from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.conftest import Received, WebhookReceiver
from tests.providers.checkoutcom_support import card_payment, sdk

SECRET = "cko-webhook-signature-key"


@pytest.fixture
def hooked(payment_simulator: SimulatorServer,
           hook_server: WebhookReceiver) -> Iterator[WebhookReceiver]:
    payment_simulator.admin("PUT", "/webhooks/checkoutcom",
                            {"url": hook_server.url, "secret": SECRET})
    try:
        yield hook_server
    finally:
        payment_simulator.admin("DELETE", "/webhooks/checkoutcom")


def verify(received: Received, secret: str = SECRET) -> bool:
    """As the docs say: HMAC-SHA256 of the raw body with the signature key, hex."""
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers["Cko-Signature"])


def test_lifecycle_events_are_signed_and_shaped_like_checkoutcom(
        payment_simulator: SimulatorServer, hooked: WebhookReceiver) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    held = api.payments.request_payment(card_payment(amount=2500, capture=False))
    capture = api.payments.capture_payment(held.id, CaptureRequest())
    refund = RefundRequest()
    refund.amount = 1000
    api.payments.refund_payment(held.id, refund)
    other = api.payments.request_payment(card_payment(capture=False))
    api.payments.void_payment(other.id, VoidRequest())
    api.payments.request_payment(card_payment("4544249167673670"))
    api.payments.request_payment(card_payment(three_ds=True))
    expected = ["payment_approved", "payment_captured", "payment_refunded",
                "payment_approved", "payment_voided", "payment_declined", "payment_pending"]
    assert hooked.wait_for(lambda got: len(got) >= len(expected))
    assert sorted(hooked.types()) == sorted(expected)
    assert all(verify(r) for r in hooked.received)
    assert not verify(hooked.received[0], "another-key")

    events = [r.json() for r in hooked.received]
    captured = next(e for e in events if e["type"] == "payment_captured")
    assert captured["id"].startswith("evt_") and len(captured["id"]) == 30
    assert {"id", "type", "version", "created_on", "data", "_links"} <= set(captured)
    assert captured["data"]["id"] == held.id
    assert captured["data"]["action_id"] == capture.action_id
    assert captured["data"]["amount"] == 2500
    assert captured["data"]["response_code"] == "10000"
    assert captured["_links"]["payment"]["href"].endswith(f"/payments/{held.id}")
    declined = next(e for e in events if e["type"] == "payment_declined")
    assert declined["data"]["response_code"] == "20051"
    assert declined["data"]["response_summary"] == "Insufficient Funds"


def test_auto_capture_sends_approved_then_captured(payment_simulator: SimulatorServer,
                                                   hooked: WebhookReceiver) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(card_payment())
    assert hooked.wait_for(lambda got: len(got) >= 2)
    # Deliveries run concurrently, so they may arrive in either order (as with the real
    # service); the events' own timestamps keep the order.
    got = {r.json()["type"]: r.json() for r in hooked.received}
    assert sorted(got) == ["payment_approved", "payment_captured"]
    assert got["payment_approved"]["created_on"] <= got["payment_captured"]["created_on"]
    assert {r.json()["data"]["id"] for r in hooked.received} == {paid.id}


def test_failed_deliveries_are_retried_on_the_documented_schedule(
        payment_simulator: SimulatorServer, hooked: WebhookReceiver) -> None:
    hooked.fail_first = 3
    api = sdk(payment_simulator.url("checkoutcom"))
    api.payments.request_payment(card_payment(capture=False))

    def delivery() -> dict[str, Any]:
        found = payment_simulator.admin("GET", "/webhooks/deliveries?provider=checkoutcom")
        return found["deliveries"][0]  # type: ignore[no-any-return]

    assert eventually(lambda: len(delivery()["attempts"]) == 1)
    assert delivery()["state"] == "pending"
    for step, attempts, wait in (("5m", 2, 300), ("10m", 3, 600), ("15m", 4, 900)):
        d = delivery()
        assert d["next_attempt_at"] - d["attempts"][-1]["at"] == pytest.approx(wait, abs=1)
        payment_simulator.admin("POST", "/clock/advance", {"by": step})
        assert eventually(lambda a=attempts: len(delivery()["attempts"]) == a)  # type: ignore[misc]
    assert hooked.wait_for(lambda got: len(got) == 1)
    assert eventually(lambda: delivery()["state"] == "delivered")
    assert [a["status"] for a in delivery()["attempts"]] == [500, 500, 500, 200]
    assert verify(hooked.received[0])

