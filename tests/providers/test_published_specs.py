"""The check every test runs after it (tests/conftest.py): the simulator's bodies against
the providers' published OpenAPI documents. Here: that the documents are there, and that
the check finds what a client generated from them would choke on."""

from __future__ import annotations

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer
from tests import spec_check

_absent = spec_check.missing()
if _absent is not None:
    if spec_check.required_in_ci():
        pytest.fail(f"{_absent}; CI must check the wire formats against them.", pytrace=False)
    pytest.skip(_absent, allow_module_level=True)


def test_a_body_the_spec_forbids_is_found(client: stripe.StripeClient,
                                          payment_simulator: SimulatorServer):
    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    (entry,) = payment_simulator.admin("GET", "/journal?provider=stripe")["entries"]
    assert list(spec_check.journal_problems("stripe", [entry])) == []

    broken = {**entry, "response": {**entry["response"], "setup_future_usage": "",
                                    "billing_details": None, "amount": "1000"}}
    found = list(spec_check.journal_problems("stripe", [broken]))
    assert any(".setup_future_usage: '' is not one of" in f for f in found), found
    assert any(".amount: '1000' is not of type 'integer'" in f for f in found), found


def test_a_stripe_event_is_checked_with_its_object(client: stripe.StripeClient):
    client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    (event,) = client.v1.events.list(params={"type": "payment_intent.created"}).data
    body = event.to_dict()
    assert list(spec_check.webhook_problems("stripe", body, "event")) == []

    body["data"]["object"]["status"] = "authorized"
    found = list(spec_check.webhook_problems("stripe", body, "event"))
    assert any("(payment_intent): .status: 'authorized' is not one of" in f for f in found)


@pytest.mark.parametrize(("provider", "path", "pointer"), [
    ("stripe", "/stripe/v1/payment_intents/pi_123/capture",
     "/paths/~1v1~1payment_intents~1{intent}~1capture/post/responses/200/content/"
     "application~1json/schema"),
    ("adyen", "/adyen/checkout/v71/payments/ABC123/refunds",
     "/paths/~1payments~1{paymentPspReference}~1refunds/post/responses/201/content/"
     "application~1json/schema"),
    ("checkoutcom", "/checkoutcom/payments/pay_123/captures",
     "/paths/~1payments~1{id}~1captures/post/responses/202/content/application~1json/schema"),
])
def test_our_paths_find_the_spec_operation(provider: str, path: str, pointer: str):
    status = {"stripe": 200, "adyen": 201, "checkoutcom": 202}[provider]
    assert spec_check._response_pointer(provider, "POST", path, status) == pointer


def test_an_adyen_notification_is_checked_by_its_event_code():
    body = {"live": "false", "notificationItems": [{"NotificationRequestItem": {
        "eventCode": "CAPTURE", "success": "yes", "pspReference": "ABC"}}]}

    found = list(spec_check.webhook_problems("adyen", body, "webhook CAPTURE"))
    assert any("'merchantAccountCode' is a required property" in f for f in found), found
