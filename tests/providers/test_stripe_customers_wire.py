"""Stripe customers, saved cards and SetupIntents on the wire: the published OpenAPI
document checks their bodies, and malformed requests get Stripe's own 4xx."""

from __future__ import annotations

import pytest
import requests
import stripe

from paysandbox.testing.server import SimulatorServer
from tests import spec_check

_absent = spec_check.missing()


@pytest.mark.skipif(_absent is not None, reason=_absent or "")
@pytest.mark.parametrize(("method", "path", "pointer"), [
    ("POST", "/stripe/v1/payment_methods/pm_123/attach",
     "/paths/~1v1~1payment_methods~1{payment_method}~1attach/post"),
    ("POST", "/stripe/v1/setup_intents/seti_123/confirm",
     "/paths/~1v1~1setup_intents~1{intent}~1confirm/post"),
    ("GET", "/stripe/v1/customers/cus_123/payment_methods",
     "/paths/~1v1~1customers~1{customer}~1payment_methods/get"),
    ("DELETE", "/stripe/v1/customers/cus_123", "/paths/~1v1~1customers~1{customer}/delete"),
])
def test_our_paths_find_the_spec_operation(method: str, path: str, pointer: str):
    found = spec_check._response_pointer("stripe", method, path, 200)
    assert found == pointer + "/responses/200/content/application~1json/schema"


@pytest.mark.skipif(_absent is not None, reason=_absent or "")
def test_a_setup_intent_the_spec_forbids_is_found(client: stripe.StripeClient,
                                                  payment_simulator: SimulatorServer):
    client.v1.setup_intents.create(params={"payment_method": "pm_card_visa"})
    (entry,) = payment_simulator.admin("GET", "/journal?provider=stripe")["entries"]
    assert list(spec_check.journal_problems("stripe", [entry])) == []
    broken = {**entry, "response": {**entry["response"], "status": "authorized"}}
    found = list(spec_check.journal_problems("stripe", [broken]))
    assert any(".status: 'authorized' is not one of" in f for f in found), found


def _post(sim: SimulatorServer, path: str, data: dict[str, str]) -> requests.Response:
    return requests.post(f"{sim.base_url}/stripe{path}", data=data, timeout=10,
                         headers={"Authorization": "Bearer sk_test_wire"})


@pytest.mark.parametrize(("path", "data", "param"), [
    ("/v1/customers", {"address": "x"}, "address"),
    ("/v1/customers", {"invoice_settings": "x"}, "invoice_settings"),
    ("/v1/payment_methods/pm_card_visa/attach", {}, "customer"),
    ("/v1/setup_intents", {"usage": "sometimes"}, "usage"),
    ("/v1/payment_intents", {
        "amount": "100", "currency": "usd", "confirm": "true", "off_session": "true",
        "payment_method": "pm_card_visa",
        "payment_method_options[card][mit_exemption][network_transaction_id][x]": "1"},
     "payment_method_options[card][mit_exemption][network_transaction_id]"),
])
def test_malformed_requests_get_stripes_400(payment_simulator: SimulatorServer,
                                            path: str, data: dict[str, str], param: str):
    answer = _post(payment_simulator, path, data)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert answer.json()["error"]["param"] == param


def test_unknown_customers_are_stripes_404(client: stripe.StripeClient):
    for call in (lambda: client.v1.payment_methods.attach(
                     "pm_card_visa", params={"customer": "cus_nope"}),
                 lambda: client.v1.customers.payment_methods.list("cus_nope"),
                 lambda: client.v1.setup_intents.create(params={"customer": "cus_nope"}),
                 lambda: client.v1.payment_intents.create(params={
                     "amount": 100, "currency": "usd", "customer": "cus_nope"})):
        with pytest.raises(stripe.InvalidRequestError) as err:
            call()
        assert err.value.http_status == 404 and err.value.code == "resource_missing"


def test_a_declining_card_cannot_be_attached(client: stripe.StripeClient):
    cus = client.v1.customers.create()
    with pytest.raises(stripe.CardError) as err:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": cus.id})
    assert err.value.code == "card_declined"
    assert client.v1.customers.payment_methods.list(cus.id).data == []


def test_a_setup_that_fails_3ds_saves_nothing(client: stripe.StripeClient,
                                              payment_simulator: SimulatorServer):
    cus = client.v1.customers.create()
    si = client.v1.setup_intents.create(params={
        "customer": cus.id, "payment_method": "pm_card_authenticationRequired",
        "confirm": True})
    payment_simulator.admin("POST", f"/payments/{si.id}/complete", {"outcome": "failure"})
    si = client.v1.setup_intents.retrieve(si.id)
    assert si.status == "requires_payment_method"
    assert si.last_setup_error.code == "setup_intent_authentication_failure"
    assert client.v1.customers.payment_methods.list(cus.id).data == []


def test_the_hosted_challenge_of_a_setup_returns_with_the_setup_intent(
        client: stripe.StripeClient):
    cus = client.v1.customers.create()
    si = client.v1.setup_intents.create(params={
        "customer": cus.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
        "confirm": True, "return_url": "https://shop.example/saved?step=2"})
    page = requests.get(si.next_action.redirect_to_url.url, timeout=10)
    assert page.status_code == 200 and "0.00 USD" in page.text
    done = requests.post(si.next_action.redirect_to_url.url + "/complete", timeout=10,
                         allow_redirects=False)
    assert done.status_code == 303
    assert done.headers["Location"] == (
        f"https://shop.example/saved?step=2&setup_intent={si.id}&setup_intent_client_secret="
        f"{si.client_secret}&redirect_status=succeeded")
    assert client.v1.setup_intents.retrieve(si.id).status == "succeeded"
