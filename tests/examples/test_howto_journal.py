"""How to assert what your service sent to Stripe, not only what came back.

The simulator keeps a journal of the requests it received and of its answers
(GET /__admin/journal; `payment_simulator.journal(**filters)` in tests), newest first.
Each entry has the method, path, status, the request body exactly as sent (Stripe's
form encoding; card numbers masked to their first 6 and last 4 digits), the parsed
response, the scenario rules that touched it and how long it took. Filters: `path` (a
substring), `status` (402, or 4 for any 4xx), `namespace` (the API key), `provider`,
`limit` (100 by default), `bodies=False`.

That lets a test check the wire: amounts in minor units, the metadata reconciliation
depends on, the idempotency of retries, that a declined card was not tried again.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer


def checkout(client: stripe.StripeClient, order: dict[str, Any]) -> str:
    """Stands for your service: charge an order, authorize now, capture at shipping."""
    try:
        pi = client.v1.payment_intents.create(params={
            "amount": round(order["total"] * 100),
            "currency": order["currency"],
            "payment_method": order["payment_method"],
            "confirm": True,
            "capture_method": "manual",
            "metadata": {"order_id": order["id"]},
        }, options={"idempotency_key": f"order-{order['id']}"})
    except stripe.CardError as err:
        return f"declined: {err.error.decline_code if err.error else None}"
    return pi.status


ORDER = {"id": "A-1001", "total": 19.99, "currency": "eur", "payment_method": "pm_card_visa"}


def test_the_amount_goes_in_minor_units_with_the_order_id(client, payment_simulator,
                                                          stripe_key):
    assert checkout(client, ORDER) == "requires_capture"

    (entry,) = payment_simulator.journal(path="/v1/payment_intents", namespace=stripe_key)
    assert entry["method"] == "POST" and entry["status"] == 200
    sent = parse_qs(entry["request"])
    assert sent["amount"] == ["1999"]  # not 19.99, not 1998 (float rounding)
    assert sent["currency"] == ["eur"]
    assert sent["capture_method"] == ["manual"]
    assert sent["metadata[order_id]"] == ["A-1001"]
    assert entry["response"]["status"] == "requires_capture"


def test_a_retry_of_the_same_order_does_not_charge_twice(client, payment_simulator):
    """The second call replays the first answer (same Idempotency-Key): two requests
    in the journal, one payment at Stripe."""
    checkout(client, ORDER)
    checkout(client, ORDER)

    sent = payment_simulator.journal(path="/v1/payment_intents")
    assert len(sent) == 2
    assert sent[0]["response"]["id"] == sent[1]["response"]["id"]
    assert len(client.v1.payment_intents.list().data) == 1


def test_a_declined_card_is_not_tried_again(client, payment_simulator):
    """A hard decline must reach the shopper, not a retry loop: exactly one request,
    answered 402."""
    declined = dict(ORDER, payment_method="pm_card_visa_chargeDeclinedInsufficientFunds")
    assert checkout(client, declined) == "declined: insufficient_funds"

    assert len(payment_simulator.journal(path="/v1/payment_intents")) == 1
    (entry,) = payment_simulator.journal(status=402)
    assert entry["response"]["error"]["decline_code"] == "insufficient_funds"


def test_card_numbers_are_never_kept_in_full(client, payment_simulator):
    """A service that sends raw card details (PCI scope!) still cannot leak them
    through the journal: the number is masked to its first 6 and last 4 digits."""
    client.v1.payment_intents.create(params={
        "amount": 500, "currency": "usd", "confirm": True,
        "payment_method_data": {"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}},
    })
    (entry,) = payment_simulator.journal(path="/v1/payment_intents")
    assert "4242424242424242" not in json.dumps(entry)
    assert "424242" in entry["request"]


def test_why_did_my_rule_not_fire(client: stripe.StripeClient,
                                  payment_simulator: SimulatorServer) -> None:
    """A rule that never fires is QA's commonest puzzle. When no rule matched a request,
    its journal entry names the rules that came closest and, for each, the `match` fields
    it missed: what the rule wanted and what the request had."""
    payment_simulator.use_scenario({"name": "big-eur-declines", "rules": [
        {"name": "big-eur", "match": {"provider": "stripe", "currency": "eur",
                                      "amount": {"gte": 50000}},
         "outcome": {"decline": "insufficient_funds"}},
        {"name": "adyen-only", "match": {"provider": "adyen"}, "fault": {"http": 503}}]})

    pi = client.v1.payment_intents.create(params={  # USD, and too small: no rule fires
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"

    (entry,) = payment_simulator.journal(provider="stripe", limit=1)
    assert entry["scenario_rules"] == []
    closest, other = entry["near_misses"]
    assert closest["rule"] == "big-eur-declines/adyen-only"  # one field off
    assert closest["missed"] == [{"field": "provider", "wanted": "adyen", "actual": "stripe"}]
    assert other["rule"] == "big-eur-declines/big-eur"  # two fields off
    assert sorted(m["field"] for m in other["missed"]) == ["amount", "currency"]
    currency = next(m for m in other["missed"] if m["field"] == "currency")
    assert (currency["wanted"], currency["actual"]) == ("eur", "USD")

    # Once it matches, the entry says which rule fired, and no near misses.
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(params={
            "amount": 60000, "currency": "eur", "confirm": True,
            "payment_method": "pm_card_visa"})
    (entry,) = payment_simulator.journal(provider="stripe", limit=1)
    assert entry["scenario_rules"] == ["big-eur-declines/big-eur"]
    assert "near_misses" not in entry
