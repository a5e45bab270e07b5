"""What Stripe's SDKs in every language read beyond the happy path: the echoed idempotency
key, objects that are never null, unsetting by an empty value, updates after payment."""

from __future__ import annotations

import uuid

import pytest
import stripe


def pay(client: stripe.StripeClient, pm: str = "pm_card_visa", **params: object) \
        -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": pm, **params})


def test_the_idempotency_key_is_echoed_in_responses_and_replays(client: stripe.StripeClient):
    key = f"order-{uuid.uuid4()}"
    params = {"amount": 2000, "currency": "usd"}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})

    assert first.last_response.idempotency_key == key
    assert again.last_response.idempotency_key == key
    assert again.id == first.id
    declined = f"order-{uuid.uuid4()}"
    with pytest.raises(stripe.CardError) as err:  # errors carry it too
        client.v1.payment_intents.create(params={
            "amount": 2000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_chargeDeclined"}, options={"idempotency_key": declined})
    assert err.value.headers is not None
    assert err.value.headers["Idempotency-Key"] == declined


def test_a_charge_always_has_billing_details_also_in_its_events(client: stripe.StripeClient):
    pi = pay(client)
    charge = client.v1.charges.retrieve(pi.latest_charge)

    assert charge.billing_details.email is None
    assert charge.billing_details.address.postal_code is None
    events = client.v1.events.list(params={"type": "charge.succeeded"}).data
    assert events[0].data.object.billing_details.name is None


def test_a_charge_shows_the_billing_details_its_card_was_given(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method_data": {
            "type": "card", "card": {"number": "4242424242424242", "exp_month": 12,
                                     "exp_year": 2034, "cvc": "123"},
            "billing_details": {"email": "jenny@example.com",
                                "address": {"postal_code": "94107"}}}})

    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.billing_details.email == "jenny@example.com"
    assert charge.billing_details.address.postal_code == "94107"
    assert charge.billing_details.name is None
    pm = client.v1.payment_methods.retrieve(pi.payment_method)
    assert pm.billing_details.email == "jenny@example.com"


def test_a_decline_names_its_payment_method_in_the_error_reads_and_events(
        client: stripe.StripeClient):
    with pytest.raises(stripe.CardError) as err:
        pay(client, "pm_card_visa_chargeDeclinedInsufficientFunds")
    failed = err.value.error.payment_intent

    pm = failed.last_payment_error.payment_method
    assert pm.id == failed.payment_method and pm.card.brand == "visa"
    assert pm.card.last4 == "9995"
    read = client.v1.payment_intents.retrieve(failed.id)
    assert read.last_payment_error.payment_method.card.last4 == "9995"
    event = client.v1.events.list(params={"type": "payment_intent.payment_failed"}).data[0]
    assert event.data.object.last_payment_error.payment_method.id == failed.payment_method


def test_an_empty_value_unsets_to_null(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "setup_future_usage": "off_session",
        "receipt_email": "jenny@example.com", "description": "Order 6735",
        "shipping": {"name": "Jenny Rosen", "address": {"line1": "1 Main St"}}})
    assert pi.setup_future_usage == "off_session"

    pi = client.v1.payment_intents.update(pi.id, params={
        "setup_future_usage": "", "receipt_email": "", "description": "", "shipping": ""})
    assert pi.setup_future_usage is None
    assert pi.receipt_email is None
    assert pi.description is None
    assert pi.shipping is None
    assert client.v1.payment_intents.retrieve(pi.id).setup_future_usage is None


def test_an_empty_metadata_clears_every_key(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "metadata": {"a": "1", "b": "2"}})

    pi = client.v1.payment_intents.update(pi.id, params={"metadata": ""})
    assert pi.metadata.to_dict() == {}


@pytest.mark.parametrize("capture_method", ["manual", "automatic"])
def test_descriptive_fields_are_updatable_after_payment(client: stripe.StripeClient,
                                                        capture_method: str):
    pi = pay(client, capture_method=capture_method)
    assert pi.status in ("requires_capture", "succeeded")

    pi = client.v1.payment_intents.update(pi.id, params={
        "metadata": {"order_id": "6735"}, "description": "Order 6735",
        "receipt_email": "jenny@example.com",
        "shipping": {"name": "Jenny Rosen", "address": {"line1": "1 Main St", "country": "US"}}})
    assert pi.metadata["order_id"] == "6735"
    assert pi.description == "Order 6735"
    assert pi.receipt_email == "jenny@example.com"
    assert pi.shipping.name == "Jenny Rosen" and pi.shipping.address.city is None
    assert pi.status in ("requires_capture", "succeeded")
    # What needs a new confirmation still does not change after it.
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.update(pi.id, params={"amount": 5, "metadata": {"x": "1"}})
    assert err.value.code == "payment_intent_unexpected_state"
    assert "x" not in client.v1.payment_intents.retrieve(pi.id).metadata


def test_confirm_accepts_the_client_secret(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "eur", "payment_method": "pm_card_visa"})

    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.confirm(pi.id, params={"client_secret": pi.id + "_secret_x"})
    assert err.value.param == "client_secret"
    pi = client.v1.payment_intents.confirm(pi.id, params={"client_secret": pi.client_secret})
    assert pi.status == "succeeded"
