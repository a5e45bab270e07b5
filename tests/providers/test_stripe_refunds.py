"""Refunds through the official stripe SDK: full, partial, several, and their limits."""

from __future__ import annotations

import pytest
import stripe


def paid(client: stripe.StripeClient, amount: int = 5000) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})


def test_full_refund(client: stripe.StripeClient):
    pi = paid(client)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert refund.id.startswith("re_")
    assert refund.amount == 5000 and refund.status == "succeeded"
    assert refund.payment_intent == pi.id and refund.charge == pi.latest_charge
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.refunded and charge.amount_refunded == 5000


def test_several_partial_refunds_then_nothing_left(client: stripe.StripeClient):
    pi = paid(client)
    first = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000,
                                             "reason": "requested_by_customer",
                                             "metadata": {"ticket": "T-1"}})
    second = client.v1.refunds.create(params={"charge": pi.latest_charge, "amount": 1500})
    assert first.reason == "requested_by_customer"
    assert first.metadata["ticket"] == "T-1"
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.amount_refunded == 2500 and not charge.refunded

    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 2501})
    assert err.value.param == "amount"
    assert err.value.code == "amount_too_large"

    rest = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert rest.amount == 2500
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert err.value.code == "charge_already_refunded"

    listed = client.v1.refunds.list(params={"payment_intent": pi.id})
    assert [r.id for r in listed.data] == [rest.id, second.id, first.id]
    assert client.v1.refunds.retrieve(second.id).amount == 1500


def test_refund_of_uncaptured_payment_is_refused(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa",
        "capture_method": "manual"})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert err.value.code == "charge_not_captured"


def test_refund_of_partially_captured_payment_is_bounded_by_capture(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa",
        "capture_method": "manual"})
    client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 600})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 601})
    assert client.v1.refunds.create(params={"payment_intent": pi.id}).amount == 600


def test_refund_needs_a_target_and_an_existing_one(client: stripe.StripeClient):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"amount": 100})
    assert err.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": "pi_missing"})
    assert err.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.retrieve("re_missing")
    assert err.value.http_status == 404
