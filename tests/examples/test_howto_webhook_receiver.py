"""How to see the webhooks your payment service would get, with no server of your own.

The plugin's `webhook_receiver` fixture is a local receiver registered as every provider's
webhook endpoint for one test. It checks each delivery's signature as the provider's
verifier does (with the secret it registered), records it, and answers as the provider
expects (`[accepted]` for Adyen; 401 to a bad signature, so the simulator retries). Where
the provider's API carries the URL (Mollie's `webhookUrl`, Mercado Pago's
`notification_url`, Daraja's `CallBackURL`), give it `webhook_receiver.url("mollie")`.
"""

from __future__ import annotations

import razorpay
import stripe
from Adyen.util import is_valid_hmac_notification
from razorpay.utility import Utility

from paysandbox.testing.receiver import WebhookReceiver
from paysandbox.testing.server import SimulatorServer
from tests.providers import mollie_support
from tests.providers.adyen_support import card, make_checkout
from tests.providers.razorpay_helpers import collect, new_key_id, order


def test_stripe_events_arrive_verified(payment_simulator: SimulatorServer,
                                       webhook_receiver: WebhookReceiver) -> None:
    client = stripe.StripeClient("sk_test_receiver",
                                 base_addresses={"api": payment_simulator.url("stripe")})
    pi = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "eur", "confirm": True, "payment_method": "pm_card_visa"})

    delivery = webhook_receiver.wait_for("stripe", "payment_intent.succeeded")
    assert delivery.verified is True
    # Stripe's own verifier agrees, with the secret the receiver registered.
    event = stripe.Webhook.construct_event(delivery.body.decode(),
                                           delivery.headers["stripe-signature"],
                                           webhook_receiver.secret("stripe"))
    assert event.data.object["id"] == pi.id
    # The simulator saw it accepted, so wait_for_webhook works with no server of yours.
    accepted = payment_simulator.wait_for_webhook("payment_intent.succeeded",
                                                  provider="stripe")
    assert accepted["url"] == webhook_receiver.url("stripe")


def test_adyen_notifications_are_accepted_as_adyen_expects(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    checkout = make_checkout(payment_simulator)
    res = checkout.pay(card())
    assert res["resultCode"] == "Authorised"

    delivery = webhook_receiver.wait_for("adyen", "AUTHORISATION")
    assert delivery.verified is True
    item = delivery.json()["notificationItems"][0]["NotificationRequestItem"]
    assert item["pspReference"] == res["pspReference"]
    assert is_valid_hmac_notification(item, webhook_receiver.secret("adyen"))
    # Answered `[accepted]`, so Adyen's scheme counts it delivered on the first attempt.
    accepted = payment_simulator.wait_for_webhook("AUTHORISATION", provider="adyen")
    assert [a["status"] for a in accepted["attempts"]] == [200]


def test_mollie_calls_the_url_the_payment_carries(payment_simulator: SimulatorServer,
                                                  webhook_receiver: WebhookReceiver) -> None:
    mollie = mollie_support.client(payment_simulator)
    payment = mollie_support.create(mollie, webhookUrl=webhook_receiver.url("mollie"))
    payment_simulator.client.complete(payment.id, "success")

    delivery = webhook_receiver.wait_for("mollie")
    assert delivery.verified is None  # Mollie does not sign: the service re-reads by id
    assert delivery.body == f"id={payment.id}".encode()
    assert mollie.payments.get(payment.id).status == "paid"


def test_a_delivery_signed_with_another_secret_is_refused_and_retried(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    """What your handler must do with a forged webhook: refuse it. The receiver records
    it unverified and answers 401; the simulator counts the attempt failed."""
    payment_simulator.admin("PUT", "/webhooks/razorpay", {
        "url": webhook_receiver.url("razorpay"), "secret": "not-the-receivers-secret"})
    order_and_pay_upi(payment_simulator)

    delivery = webhook_receiver.wait_for("razorpay")
    assert delivery.verified is False
    signature = delivery.headers["x-razorpay-signature"]
    assert Utility(None).verify_webhook_signature(  # type: ignore[arg-type]
        delivery.body.decode(), signature, "not-the-receivers-secret")
    attempted = payment_simulator.wait_for_webhook(delivery.event_type, provider="razorpay",
                                                   state="pending")
    assert attempted["attempts"][0]["status"] == 401


def order_and_pay_upi(simulator: SimulatorServer) -> None:
    """A Razorpay UPI collect payment, paid: enough to make Razorpay send a webhook."""
    rzp = razorpay.Client(auth=(new_key_id(), "test_secret"), base_url=simulator.url("razorpay"))
    payment_id = collect(rzp, order(rzp))
    simulator.client.complete(payment_id, "success")
