"""PaymentIntents through the official stripe SDK: the flows a payment service runs."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import pytest
import requests
import stripe

from paysandbox.testing.server import SimulatorServer

Make = Callable[..., stripe.StripeClient]


def create_confirmed(client: stripe.StripeClient, pm: str = "pm_card_visa",
                     **params: object) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": pm, **params})


def test_create_and_confirm_in_one_call_succeeds_with_a_charge(client: stripe.StripeClient):
    pi = create_confirmed(client, metadata={"order_id": "6735"}, description="Order 6735")

    assert pi.id.startswith("pi_")
    assert pi.status == "succeeded"
    assert pi.amount_received == 2000
    assert pi.metadata["order_id"] == "6735"
    assert pi.payment_method.startswith("pm_")
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert charge.id.startswith("ch_")
    assert charge.paid and charge.captured and charge.status == "succeeded"
    assert charge.payment_method_details.card.brand == "visa"
    assert charge.payment_method_details.card.last4 == "4242"


def test_create_then_confirm(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "eur", "payment_method_types": ["card"]})
    assert pi.status == "requires_payment_method"
    assert pi.client_secret.startswith(pi.id + "_secret_")

    pi = client.v1.payment_intents.update(pi.id, params={"payment_method": "pm_card_mastercard"})
    assert pi.status == "requires_confirmation"

    pi = client.v1.payment_intents.confirm(pi.id)
    assert pi.status == "succeeded"
    assert pi.currency == "eur"
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_manual_capture_partial_then_no_second_capture(client: stripe.StripeClient):
    pi = create_confirmed(client, capture_method="manual")
    assert pi.status == "requires_capture"
    assert pi.amount_capturable == 2000

    pi = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 1200})
    assert pi.status == "succeeded"
    assert pi.amount_received == 1200
    assert pi.amount_capturable == 0

    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.capture(pi.id)
    assert err.value.code == "payment_intent_unexpected_state"
    assert "status of succeeded" in err.value.user_message


def test_capture_more_than_authorized_names_the_parameter(client: stripe.StripeClient):
    pi = create_confirmed(client, capture_method="manual")
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 2001})
    assert err.value.param == "amount_to_capture"
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_capture"


def test_cancel_an_authorization_and_nothing_after(client: stripe.StripeClient):
    pi = create_confirmed(client, capture_method="manual")
    pi = client.v1.payment_intents.cancel(pi.id,
                                          params={"cancellation_reason": "requested_by_customer"})
    assert pi.status == "canceled"
    assert pi.cancellation_reason == "requested_by_customer"
    assert pi.canceled_at is not None
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.capture(pi.id)
    assert err.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": pi.id})


def test_cannot_cancel_a_succeeded_payment(client: stripe.StripeClient):
    pi = create_confirmed(client)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.cancel(pi.id)
    assert "You cannot cancel this PaymentIntent because it has a status of succeeded" in (
        err.value.user_message or "")


def test_update_merges_metadata_and_empty_value_unsets(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "metadata": {"a": "1", "b": "2"}})
    pi = client.v1.payment_intents.update(pi.id, params={
        "amount": 1100, "metadata": {"b": "", "c": "3"}})
    assert pi.amount == 1100
    assert pi.metadata.to_dict() == {"a": "1", "c": "3"}


def test_cannot_update_amount_after_success(client: stripe.StripeClient):
    pi = create_confirmed(client)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.update(pi.id, params={"amount": 5})
    assert err.value.code == "payment_intent_unexpected_state"


def test_expand_latest_charge_and_payment_method(client: stripe.StripeClient):
    pi = create_confirmed(client, pm="pm_card_amex")
    expanded = client.v1.payment_intents.retrieve(
        pi.id, params={"expand": ["latest_charge", "payment_method"]})
    assert expanded.latest_charge.object == "charge"
    assert expanded.latest_charge.amount_captured == 2000
    assert expanded.payment_method.card.brand == "amex"
    assert expanded.payment_method.card.last4 == "0005"


@pytest.mark.parametrize(("pm", "code", "decline_code", "message"), [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
    ("pm_card_visa_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds",
     "Your card has insufficient funds."),
    ("pm_card_chargeDeclinedLostCard", "card_declined", "lost_card", "Your card was declined."),
    ("pm_card_chargeDeclinedStolenCard", "card_declined", "stolen_card",
     "Your card was declined."),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card",
     "Your card has expired."),
    ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc",
     "Your card's security code is incorrect."),
    ("pm_card_chargeDeclinedProcessingError", "processing_error", "processing_error",
     "An error occurred while processing your card. Try again in a little bit."),
    ("pm_card_radarBlock", "card_declined", "fraudulent", "Your card was declined."),
    ("pm_card_visa_chargeDeclinedVelocityLimitExceeded", "card_declined",
     "card_velocity_exceeded", None),
])
def test_documented_decline_cards(client: stripe.StripeClient, pm: str, code: str,
                                  decline_code: str, message: str | None):
    with pytest.raises(stripe.CardError) as err:
        create_confirmed(client, pm=pm)
    e = err.value
    assert e.http_status == 402
    assert e.code == code
    assert e.error.decline_code == decline_code
    if message:
        assert e.user_message == message
    pi = e.error.payment_intent
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == code
    charge = client.v1.charges.retrieve(e.error.charge)
    assert charge.status == "failed" and charge.failure_code == code

    retried = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded"


@pytest.mark.parametrize(("number", "brand"), [
    ("4242424242424242", "visa"), ("5555555555554444", "mastercard"),
    ("2223003122003222", "mastercard"), ("378282246310005", "amex"),
    ("6011111111111117", "discover"), ("3056930009020004", "diners"),
    ("3566002020360505", "jcb"), ("6200000000000005", "unionpay"),
])
def test_raw_card_numbers_by_brand(client: stripe.StripeClient, number: str, brand: str):
    pi = client.v1.payment_intents.create(params={
        "amount": 999, "currency": "usd", "confirm": True,
        "payment_method_data": {"type": "card", "card": {
            "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
        "expand": ["payment_method"]})
    assert pi.status == "succeeded"
    assert pi.payment_method.card.brand == brand
    assert pi.payment_method.card.last4 == number[-4:]


def test_luhn_failing_number_is_incorrect_number(client: stripe.StripeClient):
    with pytest.raises(stripe.CardError) as err:
        client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": "4242424242424241", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    assert err.value.code == "incorrect_number"
    assert err.value.param == "number"


def test_expired_raw_card_is_refused(client: stripe.StripeClient):
    with pytest.raises(stripe.CardError) as err:
        client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 1, "exp_year": 2020, "cvc": "123"}})
    assert err.value.code == "invalid_expiry_year"


def test_payment_methods_for_test_tokens(client: stripe.StripeClient):
    pm = client.v1.payment_methods.retrieve("pm_card_visa")
    assert pm.type == "card" and pm.card.brand == "visa" and pm.card.last4 == "4242"
    made = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "5555555555554444", "exp_month": 3, "exp_year": 2031, "cvc": "737"}})
    assert made.id.startswith("pm_")
    assert client.v1.payment_methods.retrieve(made.id).card.last4 == "4444"
    pi = create_confirmed(client, pm=made.id)
    assert pi.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_methods.retrieve("pm_doesnotexist")
    assert err.value.code == "resource_missing"


@pytest.mark.parametrize("pm", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired",
                                "pm_card_threeDSecureRequired"])
def test_3ds_cards_require_action_and_admin_completes(
        client: stripe.StripeClient, payment_simulator: SimulatorServer, pm: str):
    pi = create_confirmed(client, pm=pm, return_url="https://shop.example/return")
    assert pi.status == "requires_action"
    assert pi.next_action.type == "redirect_to_url"
    url = pi.next_action.redirect_to_url.url
    assert url.startswith(payment_simulator.base_url + "/__hosted/3ds/")
    assert pi.next_action.redirect_to_url.return_url == "https://shop.example/return"
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "20.00 USD" in page.text

    payment_simulator.admin("POST", f"/payments/{pi.id}/complete", {"outcome": "success"})
    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"


def test_3ds_failure_via_admin(client: stripe.StripeClient, payment_simulator: SimulatorServer):
    pi = create_confirmed(client, pm="pm_card_threeDSecure2Required")
    payment_simulator.admin("POST", f"/payments/{pi.id}/complete", {"outcome": "failure"})
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == "payment_intent_authentication_failure"


def test_3ds_optional_card_succeeds_without_action(client: stripe.StripeClient):
    assert create_confirmed(client, pm="pm_card_threeDSecureOptional").status == "succeeded"


def test_confirm_without_payment_method_is_refused(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.confirm(pi.id)
    assert err.value.param == "payment_method"


def test_list_payment_intents_paginates(client: stripe.StripeClient):
    ids = [client.v1.payment_intents.create(params={"amount": 100 + i, "currency": "usd"}).id
           for i in range(5)]
    first = client.v1.payment_intents.list(params={"limit": 3})
    assert [p.id for p in first.data] == ids[::-1][:3]
    assert first.has_more
    rest = client.v1.payment_intents.list(params={"limit": 3, "starting_after": first.data[-1].id})
    assert [p.id for p in rest.data] == ids[::-1][3:]
    assert not rest.has_more


def test_zero_decimal_and_three_decimal_currencies(client: stripe.StripeClient):
    jpy = create_confirmed(client, currency="jpy", amount=1500)
    assert jpy.currency == "jpy" and jpy.amount_received == 1500
    kwd = create_confirmed(client, currency="kwd", amount=1500)
    assert kwd.currency == "kwd"


def test_fifty_concurrent_captures_yield_exactly_one_success(make_stripe: Make, stripe_key: str):
    client = make_stripe(stripe_key)
    pi = create_confirmed(client, capture_method="manual")

    def capture() -> str:
        try:
            make_stripe(stripe_key).v1.payment_intents.capture(pi.id)
            return "ok"
        except stripe.InvalidRequestError as exc:
            return exc.code or "error"

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: capture(), range(50)))
    assert results.count("ok") == 1
    assert results.count("payment_intent_unexpected_state") == 49
    assert client.v1.payment_intents.retrieve(pi.id).amount_received == 2000


def test_module_level_api_base_works_too(payment_simulator: SimulatorServer, stripe_key: str,
                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(stripe, "api_key", stripe_key)
    monkeypatch.setattr(stripe, "api_base", payment_simulator.url("stripe"))
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    pi = stripe.PaymentIntent.create(amount=4200, currency="gbp", confirm=True,
                                     payment_method="pm_card_visa_debit")
    assert pi.status == "succeeded"
    assert stripe.PaymentIntent.retrieve(pi.id).amount_received == 4200
