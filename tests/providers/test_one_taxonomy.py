"""One scenario rule, three dialects: `decline: insufficient_funds` written once is
answered natively by Stripe, Adyen and Checkout.com, each through its official SDK, and
every canonical reason renders in each card acquirer's own words."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from paysandbox.core.outcomes import DeclineReason
from paysandbox.testing.server import SimulatorServer
from tests.providers.adyen_support import make_checkout
from tests.providers.checkoutcom_support import card_payment, sdk

ONE_RULE = """
name: everyone-is-broke
rules:
  - match: {provider: "*", operation: authorize}
    outcome: {decline: insufficient_funds}
"""


@pytest.mark.payment_scenario(ONE_RULE)
def test_one_rule_three_native_answers(payment_simulator: SimulatorServer,
                                       client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_intents.create(params={
            "amount": 1000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa"})
    assert (caught.value.http_status, caught.value.code) == (402, "card_declined")
    assert caught.value.error is not None
    assert caught.value.error.decline_code == "insufficient_funds"

    adyen = make_checkout(payment_simulator).pay()
    assert (adyen["resultCode"], adyen["refusalReason"], adyen["refusalReasonCode"]) == (
        "Refused", "Not enough balance", "12")

    cko = sdk(payment_simulator.url("checkoutcom")).payments.request_payment(card_payment())
    assert (cko.approved, cko.status, cko.response_code, cko.response_summary) == (
        False, "Declined", "20051", "Insufficient Funds")

    rules = {e["provider"]: e.get("scenario_rules") for e in payment_simulator.journal()
             if e["method"] == "POST"}
    assert rules == {p: ["everyone-is-broke/rules[0]"] for p in ("stripe", "adyen",
                                                                  "checkoutcom")}


def _scenario(reason: DeclineReason) -> str:
    return (f"name: decline-{reason.value}\nrules:\n  - match: {{operation: authorize}}\n"
            f"    outcome: {{decline: {reason.value}}}\n")


@pytest.mark.parametrize("reason", list(DeclineReason), ids=lambda r: r.value)
def test_every_reason_is_a_native_decline_at_every_card_acquirer(
        payment_simulator: SimulatorServer, client: stripe.StripeClient,
        reason: DeclineReason) -> None:
    payment_simulator.use_scenario(_scenario(reason))
    with pytest.raises((stripe.CardError, stripe.InvalidRequestError)) as caught:
        client.v1.payment_intents.create(params={
            "amount": 1000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa"})
    assert caught.value.code, f"stripe: {reason.value} has no error code"
    adyen: dict[str, Any] = make_checkout(payment_simulator).pay()
    # Adyen answers an acquirer's processing failure as Error, every other one as Refused
    assert adyen["resultCode"] == ("Error" if reason is DeclineReason.PROCESSING_ERROR
                                   else "Refused")
    assert adyen["refusalReason"]
    assert adyen["refusalReasonCode"].isdigit()
    cko = sdk(payment_simulator.url("checkoutcom")).payments.request_payment(card_payment())
    assert cko.approved is False and cko.response_code not in (None, "10000")
    assert cko.response_summary
