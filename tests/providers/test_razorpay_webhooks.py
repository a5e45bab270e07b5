"""Razorpay webhooks: the dashboard endpoint, Razorpay's envelope, signatures checked
with the SDK's own verifier, retries on the virtual clock."""

from __future__ import annotations

import pytest
import razorpay

from paysandbox.testing.client import wait_until
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.razorpay_helpers import collect, order, wait_status

pytest_plugins = ["tests.providers.razorpay_fixtures"]

SECRET = "whsec-razorpay-dashboard-secret"


@pytest.fixture
def hooks(payment_simulator: SimulatorServer, hook_server: WebhookReceiver) -> WebhookReceiver:
    payment_simulator.admin("PUT", "/webhooks/razorpay",
                            {"url": hook_server.url, "secret": SECRET})
    return hook_server


def events(rx: WebhookReceiver) -> list[str]:
    return [r.json()["event"] for r in rx.received]


def test_captured_payment_sends_signed_events_in_razorpays_envelope(
        rzp: razorpay.Client, payment_simulator: SimulatorServer,
        hooks: WebhookReceiver) -> None:
    o = order(rzp, 25000)
    pid = collect(rzp, o)
    payment_simulator.advance_clock(5)
    wait_status(rzp, pid, "captured")
    assert hooks.wait_for(lambda got: len(got) >= 3)
    assert sorted(events(hooks)) == ["order.paid", "payment.authorized", "payment.captured"]
    for r in hooks.received:
        body = r.body.decode()
        assert rzp.utility.verify_webhook_signature(body, r.headers["X-Razorpay-Signature"],
                                                    SECRET)
        with pytest.raises(razorpay.errors.SignatureVerificationError):
            rzp.utility.verify_webhook_signature(body, r.headers["X-Razorpay-Signature"],
                                                 "another-secret")
        assert r.headers["X-Razorpay-Event-Id"].startswith("evt_")
        e = r.json()
        assert e["entity"] == "event" and e["account_id"].startswith("acc_")
        assert e["payload"]["payment"]["entity"]["id"] == pid
        assert set(e["contains"]) == set(e["payload"])
    by_type = {r.json()["event"]: r.json() for r in hooks.received}
    assert by_type["payment.authorized"]["payload"]["payment"]["entity"]["status"] == "authorized"
    assert by_type["order.paid"]["payload"]["order"]["entity"]["status"] == "paid"
    assert len({r.headers["X-Razorpay-Event-Id"] for r in hooks.received}) == 3


def test_failed_payment_and_refund_events(rzp: razorpay.Client,
                                          payment_simulator: SimulatorServer,
                                          hooks: WebhookReceiver) -> None:
    failed = collect(rzp, order(rzp, 201))
    payment_simulator.advance_clock(5)
    assert hooks.wait_for(lambda got: "payment.failed" in [r.json()["event"] for r in got])
    entity = next(r.json() for r in hooks.received
                  if r.json()["event"] == "payment.failed")["payload"]["payment"]["entity"]
    assert (entity["id"], entity["error_reason"]) == (failed, "insufficient_funds")

    pid = collect(rzp, order(rzp, 9000))
    payment_simulator.advance_clock(5)
    wait_status(rzp, pid, "captured")
    refund = rzp.payment.refund(pid, {"amount": 500})
    # both, in whichever order they arrive (deliveries run concurrently)
    assert hooks.wait_for(lambda got: {"refund.created", "refund.processed"} <=
                          {r.json()["event"] for r in got})
    created = next(r.json() for r in hooks.received if r.json()["event"] == "refund.created")
    assert created["contains"] == ["refund", "payment"]
    assert created["payload"]["refund"]["entity"]["id"] == refund["id"]


def test_expiry_sends_payment_failed(rzp: razorpay.Client, payment_simulator: SimulatorServer,
                                     hooks: WebhookReceiver) -> None:
    pid = collect(rzp, order(rzp), vpa="late.payer@okaxis")
    payment_simulator.advance_clock(6 * 60)  # default expiry: 5 minutes
    assert hooks.wait_for(lambda got: any(r.json()["event"] == "payment.failed" for r in got))
    assert rzp.payment.fetch(pid)["error_reason"] == "payment_timed_out"


def test_failed_delivery_is_retried_on_the_virtual_clock(
        rzp: razorpay.Client, payment_simulator: SimulatorServer,
        hooks: WebhookReceiver) -> None:
    hooks.fail_first = 1
    pid = collect(rzp, order(rzp), vpa="payer@okaxis")
    payment_simulator.client.complete(pid, "failure")

    def first_attempt_failed() -> bool:
        found = payment_simulator.client.deliveries(provider="razorpay")
        return bool(found) and found[0]["state"] == "pending" and \
            len(found[0]["attempts"]) == 1
    wait_until(first_attempt_failed, 5, "the first delivery attempt did not fail")
    assert payment_simulator.client.deliveries(provider="razorpay")[0]["event_type"] == \
        "payment.failed"
    payment_simulator.advance_clock(61)  # Razorpay's first retry
    assert hooks.wait_for(lambda got: len(got) == 1)
    assert hooks.attempts == 2
