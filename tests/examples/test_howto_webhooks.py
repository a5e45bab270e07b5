"""How to receive Stripe's webhooks in a test and verify them as your handler does.

Webhooks go where Stripe would send them:

- to an endpoint your service registers through the API, as it does with Stripe
  (`client.v1.webhook_endpoints.create(...)` returns the endpoint's `whsec_...` secret);
  it gets the events of that API key;
- to an endpoint configured for the whole simulator, as in Stripe's dashboard
  (`paysandbox serve --webhook stripe=URL --webhook-secret stripe=whsec_...`, or
  `PUT /__admin/webhooks/stripe` at run time); it gets every key's events.

Each delivery is signed exactly as Stripe signs it, so `stripe.Webhook.construct_event`
(your handler's own verification) accepts it. `payment_simulator.wait_for_webhook(type)`
waits until a delivery of that event type has been accepted by its endpoint.

In these examples `hook_server` (tests/conftest.py) stands in for your service: a
local HTTP server that records what it receives and answers 200.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver


def pay(client: stripe.StripeClient) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})


def test_register_an_endpoint_and_verify_what_arrives(client, payment_simulator,
                                                      hook_server: WebhookReceiver):
    """The whole round trip: register, pay, wait for the event, verify its signature
    with the endpoint's secret, read the payment from it."""
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")

    pi = pay(client)
    delivery = payment_simulator.wait_for_webhook("payment_intent.succeeded",
                                                  provider="stripe", timeout=10)
    assert delivery["url"] == hook_server.url
    assert delivery["attempts"][-1]["status"] == 200

    (received,) = hook_server.received
    event = stripe.Webhook.construct_event(
        received.body.decode(), received.headers["Stripe-Signature"], endpoint.secret)
    assert event.id == delivery["event_id"]
    assert event.type == "payment_intent.succeeded"
    assert event.data.object["id"] == pi.id
    assert event.data.object["amount_received"] == 2000


@pytest.fixture
def dashboard_endpoint(payment_simulator: SimulatorServer,
                       hook_server: WebhookReceiver) -> Iterator[str]:
    """An endpoint for the whole simulator, with a secret of our choosing. The per-test
    reset does not remove endpoints configured this way, so the fixture does."""
    secret = "whsec_checkout_service_test"
    payment_simulator.admin("PUT", "/webhooks/stripe",
                            {"url": hook_server.url, "secret": secret})
    try:
        yield secret
    finally:
        payment_simulator.admin("DELETE", "/webhooks/stripe")


def test_an_endpoint_configured_for_the_whole_simulator(make_stripe, payment_simulator,
                                                        hook_server: WebhookReceiver,
                                                        dashboard_endpoint: str):
    """Like a dashboard-configured endpoint: no API call from your service, every
    event of every key, verified with the secret you configured."""
    pi = pay(make_stripe())
    payment_simulator.wait_for_webhook("payment_intent.succeeded", provider="stripe")

    events = [stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"],
                                             dashboard_endpoint)
              for r in hook_server.received]
    assert "payment_intent.succeeded" in {e.type for e in events}
    assert {e.data.object["id"] for e in events if e.type.startswith("payment_intent.")} \
        == {pi.id}


def test_your_handler_must_reject_a_forged_signature(client, payment_simulator,
                                                     hook_server: WebhookReceiver):
    """A scenario can sign deliveries with the wrong secret (or a stale timestamp,
    see the ready-made webhook-chaos scenario): the SDK refuses them, and so must your handler."""
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    payment_simulator.use_scenario("name: forged\nwebhooks: {bad_signature: 1.0}\n")

    pay(client)
    payment_simulator.wait_for_webhook("payment_intent.succeeded")
    (received,) = hook_server.received
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received.body.decode(),
                                       received.headers["Stripe-Signature"], endpoint.secret)
