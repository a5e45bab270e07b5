"""Stripe test helpers shared by other providers' tests: a network transaction id as a
customer's first payment at Stripe gets one, for renewals elsewhere to quote."""

from __future__ import annotations

import stripe


def first_payment_nti(client: stripe.StripeClient, number: str = "4242424242424242",
                      currency: str = "eur") -> str:
    """The network transaction id Stripe gives a customer's first payment with `number`
    that saves the card for payments without them."""
    cus = client.v1.customers.create()
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    pi = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": currency, "customer": cus.id, "payment_method": pm.id,
        "confirm": True, "setup_future_usage": "off_session"})
    assert pi.status == "succeeded"
    card = client.v1.charges.retrieve(str(pi.latest_charge)).payment_method_details.card
    assert card.network_transaction_id is not None
    return str(card.network_transaction_id)
