"""Stripe webhooks: registered through the API or the admin, signed as Stripe signs,
verified by the SDK's own `Webhook.construct_event`, retried on the virtual clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stripe

from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver

Make = Callable[..., stripe.StripeClient]


def pay(client: stripe.StripeClient, **params: object) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa",
        **params})


def verified(rx: WebhookReceiver, secret: str) -> list[stripe.Event]:
    return [stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"], secret)
            for r in rx.received]


def test_endpoint_from_the_api_receives_signed_events(client: stripe.StripeClient,
                                                      hook_server: WebhookReceiver):
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["*"]})
    assert endpoint.secret.startswith("whsec_")

    pi = pay(client)
    assert hook_server.wait_for(lambda got: len(got) >= 3)
    events = verified(hook_server, endpoint.secret)
    assert {e.type for e in events} == {"payment_intent.created", "charge.succeeded",
                                        "payment_intent.succeeded"}
    succeeded = next(e for e in events if e.type == "payment_intent.succeeded")
    assert succeeded.id.startswith("evt_")
    assert succeeded.data.object.id == pi.id
    assert succeeded.data.object.status == "succeeded"
    # StripeClient's own verifier accepts them too.
    raw = hook_server.received[0]
    assert client.construct_event(raw.body.decode(), raw.headers["Stripe-Signature"],
                                  endpoint.secret).id


def test_a_wrong_secret_is_rejected_by_the_sdk(client: stripe.StripeClient,
                                               hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={"url": hook_server.url,
                                               "enabled_events": ["*"]})
    pay(client)
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    raw = hook_server.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(raw.body.decode(), raw.headers["Stripe-Signature"],
                                       "whsec_not_the_secret")


def test_enabled_events_filter(client: stripe.StripeClient, hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.payment_failed"]})
    pay(client)
    with pytest.raises(stripe.CardError):
        pay(client, payment_method="pm_card_chargeDeclined")
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert hook_server.types() == ["payment_intent.payment_failed"]


def test_lifecycle_events_for_capture_cancel_refund_and_3ds(client: stripe.StripeClient,
                                                             hook_server: WebhookReceiver):
    client.v1.webhook_endpoints.create(params={"url": hook_server.url,
                                               "enabled_events": ["*"]})
    held = pay(client, capture_method="manual")
    client.v1.payment_intents.capture(held.id)
    client.v1.refunds.create(params={"payment_intent": held.id, "amount": 500})
    other = pay(client, capture_method="manual")
    client.v1.payment_intents.cancel(other.id)
    pay(client, payment_method="pm_card_threeDSecure2Required")
    expected = {"payment_intent.amount_capturable_updated", "charge.captured",
                "payment_intent.succeeded", "refund.created", "charge.refunded",
                "payment_intent.canceled", "payment_intent.requires_action"}
    assert hook_server.wait_for(lambda got: expected <= {r.json()["type"] for r in got})
    refunded = next(r.json() for r in hook_server.received
                    if r.json()["type"] == "charge.refunded")
    assert refunded["data"]["object"]["amount_refunded"] == 500


def test_failed_deliveries_are_retried_on_the_virtual_clock(
        client: stripe.StripeClient, hook_server: WebhookReceiver,
        payment_simulator: SimulatorServer):
    hook_server.fail_first = 2
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    pay(client)

    def deliveries() -> list[dict]:
        found = payment_simulator.admin("GET", "/webhooks/deliveries?provider=stripe")
        return found["deliveries"]

    assert eventually(lambda: deliveries() and deliveries()[0]["attempts"])
    assert deliveries()[0]["state"] == "pending"
    payment_simulator.admin("POST", "/clock/advance", {"by": "5m"})
    assert eventually(lambda: len(deliveries()[0]["attempts"]) == 2)
    payment_simulator.admin("POST", "/clock/advance", {"by": "1h"})
    assert hook_server.wait_for(lambda got: len(got) == 1)
    assert eventually(lambda: deliveries()[0]["state"] == "delivered")
    d = deliveries()[0]
    assert [a["status"] for a in d["attempts"]] == [500, 500, 200]
    assert verified(hook_server, endpoint.secret)[0].type == "payment_intent.succeeded"

    again = payment_simulator.admin("POST", f"/webhooks/deliveries/{d['id']}/redeliver")
    assert again["id"] != d["id"]
    assert hook_server.wait_for(lambda got: len(got) == 2)
    assert hook_server.received[0].json()["id"] == hook_server.received[1].json()["id"]


def test_one_advance_runs_every_retry_that_falls_due_within_it(
        client: stripe.StripeClient, hook_server: WebhookReceiver,
        payment_simulator: SimulatorServer):
    hook_server.fail_first = 10  # the receiver is down all day
    client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    pay(client)

    def delivery() -> dict:
        (found,) = payment_simulator.admin(
            "GET", "/webhooks/deliveries?provider=stripe")["deliveries"]
        return found  # type: ignore[no-any-return]

    assert eventually(lambda: delivery()["attempts"])
    first = delivery()["attempts"][0]["at"]
    payment_simulator.admin("POST", "/clock/advance", {"by": "26h"})

    assert eventually(lambda: delivery()["state"] == "failed")
    attempts = delivery()["attempts"]
    assert [a["status"] for a in attempts] == [500, 500, 500, 500]  # the first and 3 retries
    # Stripe's test-mode schedule, each retry after the one before: 5 min, 1 h, 3 h.
    assert [round(a["at"] - first) for a in attempts] == [0, 300, 300 + 3600, 300 + 3600 + 10800]
    assert len(hook_server.received) == 0


def test_dashboard_style_endpoint_from_admin_gets_every_namespace(
        make_stripe: Make, hook_server: WebhookReceiver, payment_simulator: SimulatorServer):
    secret = "whsec_configured_by_admin"
    payment_simulator.admin("PUT", "/webhooks/stripe", {"url": hook_server.url,
                                                        "secret": secret})
    try:
        pay(make_stripe())
        pay(make_stripe())
        assert hook_server.wait_for(lambda got: len(got) >= 6)
        intents = {e.data.object.id for e in verified(hook_server, secret)
                   if e.data.object.object == "payment_intent"}
        assert len(intents) == 2
    finally:
        payment_simulator.admin("DELETE", "/webhooks/stripe")


def test_one_key_never_receives_another_keys_events(make_stripe: Make,
                                                    hook_server: WebhookReceiver):
    alice, bob = make_stripe(), make_stripe()
    alice.v1.webhook_endpoints.create(params={"url": hook_server.url,
                                              "enabled_events": ["*"]})
    bobs = pay(bob)
    alices = pay(alice)
    assert hook_server.wait_for(lambda got: len(got) >= 3)
    ids = {r.json()["data"]["object"].get("payment_intent") or r.json()["data"]["object"]["id"]
           for r in hook_server.received}
    assert ids == {alices.id}
    assert bobs.id not in {e.data.object.id for e in alice.v1.events.list().data}
    assert alices.id not in {e.data.object.id for e in bob.v1.events.list().data}


def test_events_api_lists_and_retrieves(client: stripe.StripeClient):
    pi = pay(client)
    events = client.v1.events.list(params={"limit": 10})
    assert events.data[0].type == "payment_intent.succeeded"
    assert events.data[0].data.object.id == pi.id
    one = client.v1.events.retrieve(events.data[0].id)
    assert one.id == events.data[0].id
    only = client.v1.events.list(params={"type": "payment_intent.created"})
    assert [e.type for e in only.data] == ["payment_intent.created"]


def test_webhook_endpoints_crud(client: stripe.StripeClient):
    made = client.v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/hook",
                                                      "enabled_events": ["charge.succeeded"]})
    listed = client.v1.webhook_endpoints.list()
    assert [e.id for e in listed.data] == [made.id]
    assert "secret" not in client.v1.webhook_endpoints.retrieve(made.id)
    assert client.v1.webhook_endpoints.delete(made.id).deleted
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(made.id)

