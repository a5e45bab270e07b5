"""How to make hours of Stripe's time pass in a test: webhook retries and delayed
settlements.

The simulator keeps a virtual clock. Webhook retries follow Stripe's test-mode schedule
(5 minutes, 1 hour, then 3 hours after the previous attempt) and a scenario's pending
payments settle after their delay, both measured on that clock.
`payment_simulator.advance_clock("1h")` (POST /__admin/clock/advance, `{"by": "1h"}` or
`{"seconds": 3600}`) moves it forward at once, and whatever became due happens right
away. The clock only ever moves forward; the per-test reset does not rewind it.

Scenario phases are the exception: they run on real time (paysandbox/scenarios/ready/README.md).
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from paysandbox.testing.client import wait_until
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver


def pay(client: stripe.StripeClient) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})


def attempts_reach(sim: SimulatorServer, count: int) -> dict[str, Any]:
    """The only delivery of this test, once it has made `count` attempts."""
    def check() -> dict[str, Any] | None:
        (delivery,) = sim.client.deliveries(provider="stripe")
        return delivery if len(delivery["attempts"]) >= count else None
    found: dict[str, Any] = wait_until(check, 10, f"no attempt #{count} within 10 s")
    return found


def test_a_failed_webhook_is_retried_when_the_clock_moves(client, payment_simulator,
                                                          hook_server: WebhookReceiver):
    """Your service is down for the first two attempts. Real Stripe would try again
    after 5 minutes, then after another hour: the test gets there in two calls."""
    hook_server.fail_first = 2  # answers 500 twice
    client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    pay(client)

    first = attempts_reach(payment_simulator, 1)
    assert first["state"] == "pending"
    assert [a["status"] for a in first["attempts"]] == [500]
    assert first["next_attempt_at"] == pytest.approx(first["attempts"][0]["at"] + 300, abs=1)

    payment_simulator.advance_clock("5m")
    second = attempts_reach(payment_simulator, 2)
    assert [a["status"] for a in second["attempts"]] == [500, 500]

    payment_simulator.advance_clock("1h")
    delivered = payment_simulator.wait_for_webhook("payment_intent.succeeded")
    assert [a["status"] for a in delivered["attempts"]] == [500, 500, 200]
    assert len(hook_server.received) == 1


def test_a_pending_payment_settles_when_its_time_comes(client, payment_simulator):
    """A scenario can keep payments `processing` for a while (as bank debits and some
    local methods do): advancing the clock past the delay settles them."""
    payment_simulator.use_scenario("""
name: slow-settlement
rules:
  - match: {provider: stripe, operation: authorize}
    outcome: {pending: {after: 2h, then: approve}}
""")
    pi = pay(client)
    assert pi.status == "processing"

    payment_simulator.advance_clock("1h")
    assert client.v1.payment_intents.retrieve(pi.id).status == "processing"  # not yet

    payment_simulator.advance_clock("1h")
    wait_until(lambda: client.v1.payment_intents.retrieve(pi.id).status == "succeeded",
               10, "the payment did not settle after 2 h of virtual time")


def test_read_the_clock(payment_simulator):
    """GET /__admin/clock tells the simulator's time; advancing returns it too."""
    before = payment_simulator.admin("GET", "/clock")
    after = payment_simulator.advance_clock("3h")
    assert after["now"] - before["now"] >= 3 * 3600
