"""The reference payment service against a simulator: routing, capture and refund,
webhooks, and failover to the second acquirer while Stripe is down."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer, simulator_providers
from paysandbox.testing.server import SimulatorServer
from tests.waiting import wait_until

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}

STRIPE_DOWN = """
name: stripe-down
rules:
  - name: stripe-503
    match: {provider: stripe, operation: authorize}
    probability: 0.7
    fault: {http: 503}
  - name: stripe-reset
    match: {provider: stripe, operation: authorize}
    fault: connection_reset
"""


@pytest.fixture
def service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    simulator.reset()
    config = for_simulator(simulator.base_url, simulator_providers(simulator.base_url),
                           retries=1, backoff_s=0.01, breaker_threshold=3,
                           breaker_reset_s=60)
    server = ServiceServer(config).start()
    yield server
    server.stop()


def pay(service: ServiceServer, currency: str = "usd", **extra: object) -> tuple[int, dict]:
    return service.call("POST", "/payments", {"amount": 2599, "currency": currency,
                                              "card": CARD, **extra})


def test_a_dollar_payment_goes_to_stripe_and_is_captured_then_refunded(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    status, p = pay(service, capture=False)
    assert (status, p["provider"], p["status"]) == (201, "stripe", "authorized")
    assert simulator.client.payment(p["provider_reference"])["status"] == "authorized"
    status, p = service.call("POST", f"/payments/{p['id']}/capture", {})
    assert (status, p["status"]) == (200, "captured")
    status, p = service.call("POST", f"/payments/{p['id']}/refund", {"amount": 599})
    assert (status, p["status"], p["refunded"]) == (200, "partially_refunded", 599)
    at_stripe = simulator.client.payment(p["provider_reference"])
    assert (at_stripe["amount_captured"], at_stripe["amount_refunded"]) == (2599, 599)


def test_a_euro_payment_goes_to_adyen_first(service: ServiceServer) -> None:
    status, p = pay(service, "eur")
    assert (status, p["provider"], p["status"]) == (201, "adyen", "captured")


def test_a_decline_is_an_answer_not_a_reason_to_fail_over(service: ServiceServer) -> None:
    status, p = pay(service, card={**CARD, "number": "4000000000009995"})
    assert (status, p["status"], p["decline_code"]) == (402, "declined", "insufficient_funds")
    assert [a["provider"] for a in p["attempts"]] == ["stripe"]


def test_3ds_completes_on_the_hosted_page_and_the_signed_webhook_updates_the_payment(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    status, p = pay(service, card={**CARD, "number": "4000002760003184"})
    assert (status, p["status"]) == (201, "requires_action")
    req = urllib.request.Request(p["action_url"] + "/complete", data=b"", method="POST")
    # The page redirects to the shop's return_url (nobody listens there): stop at it.
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(req)
    assert redirect.value.code == 303
    assert wait_until(lambda: service.service.payments[p["id"]]["status"] == "captured")
    assert service.service.counts["webhook:stripe:verified"] > 0
    assert service.service.counts["webhook:stripe:bad_signature"] == 0
    # Captured by the challenge, not by the request: the service still learns the charge
    # that Stripe's balance transactions name, so reconciliation finds its line.
    assert wait_until(lambda: service.service.payments[p["id"]]["settlement_key"])
    req = urllib.request.Request(
        f"{simulator.url('stripe')}/v1/payment_intents/{p['provider_reference']}",
        headers={"Authorization": "Bearer sk_test_reference_service"})
    with urllib.request.urlopen(req) as resp:
        latest = json.loads(resp.read())["latest_charge"]
    assert service.service.payments[p["id"]]["settlement_key"] == latest
    assert latest.startswith("ch_")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
        service: ServiceServer) -> None:
    _, p = pay(service, capture=False)
    body = json.dumps({"type": "payment_intent.canceled", "data": {
        "object": {"id": p["provider_reference"], "status": "canceled"}}})
    req = urllib.request.Request(f"{service.url}/webhooks/stripe", data=body.encode(),
                                 method="POST", headers={
                                     "Stripe-Signature": f"t={int(time.time())},v1=00"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req)
    assert refused.value.code == 401
    assert service.call("GET", f"/payments/{p['id']}")[1]["status"] == "authorized"


def test_while_stripe_is_down_payments_succeed_through_the_second_acquirer(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    simulator.use_scenario(STRIPE_DOWN)
    results = [pay(service) for _ in range(8)]
    assert all(status == 201 for status, _ in results), results
    assert {p["status"] for _, p in results} == {"captured"}
    assert {p["provider"] for _, p in results} == {"checkoutcom"}
    # The first payments tried Stripe (and its retry); once the breaker opened, Stripe
    # was skipped without a call.
    first, last = results[0][1], results[-1][1]
    assert first["attempts"][0]["provider"] == "stripe"
    assert first["attempts"][0]["outcome"].startswith("unavailable")
    assert last["attempts"][0]["outcome"] == "skipped: circuit open"
    assert service.service.breakers["stripe"].state == "open"
    faults = [e for e in simulator.journal(provider="stripe", limit=1000) if e.get("fault")]
    assert len(faults) == 3 * 2  # threshold 3, each call retried once
    at_checkout = simulator.client.call("GET", "/payments", query={"provider": "checkoutcom"})
    assert len(at_checkout["payments"]) == 8


# -- asynchronous methods: pending, finished by the tester, settled by the webhook ------

CUSTOMER = {"email": "shopper@example.com", "name": "Ana Souza"}
ASYNC_FLOWS = {
    # name: (body, provider, what the shopper gets, tester's outcome, final status)
    "mollie-ideal": ({"amount": 1999, "currency": "eur", "method": "ideal", "country": "NL",
                      "ideal": {"issuer": "ideal_INGBNL2A"}},
                     "mollie", "redirect", "success", "captured"),
    "mercadopago-pix": ({"amount": 5000, "currency": "brl", "method": "pix",
                         "country": "BR", "customer": CUSTOMER},
                        "mercadopago", "pix", "success", "captured"),
    "razorpay-upi": ({"amount": 49900, "currency": "inr", "method": "upi", "country": "IN",
                      "upi": {"vpa": "shopper@okhdfcbank"},
                      "customer": {**CUSTOMER, "phone": "9000090000"}},
                     "razorpay", "upi_collect", "failure", "failed"),
    # 254700001037 is the simulator's handset that never answers by itself.
    "daraja-mpesa": ({"amount": 15000, "currency": "kes", "method": "mpesa", "country": "KE",
                      "customer": {"phone": "254700001037"}},
                     "daraja", "phone_prompt", "success", "captured"),
}


@pytest.mark.parametrize("flow", list(ASYNC_FLOWS))
def test_an_async_method_is_pending_then_settled_by_the_providers_verified_webhook(
        flow: str, service: ServiceServer, simulator: SimulatorServer) -> None:
    body, provider, action, outcome, final = ASYNC_FLOWS[flow]
    status, p = service.call("POST", "/payments", body)
    assert (status, p["provider"], p["status"]) == (201, provider, "pending"), p
    assert p["next_action"]["type"] == action
    # Open at the provider (Mollie's open payment is the simulator's requires_action).
    assert simulator.client.payment(p["provider_reference"])["status"] in (
        "pending", "requires_action")

    simulator.client.complete(p["provider_reference"], outcome)

    # No GET /payments/{id} here: only the provider's webhook can move the payment.
    payments = service.service.payments
    assert wait_until(lambda: payments[p["id"]]["status"] == final), payments[p["id"]]
    assert payments[p["id"]]["next_action"] is None
    counts = service.service.counts
    assert counts[f"webhook:{provider}:verified"] > 0
    assert counts[f"webhook:{provider}:bad_signature"] == 0
    if final == "failed":
        assert payments[p["id"]]["decline_code"]  # the provider's own reason
    assert service.call("GET", f"/payments/{p['id']}")[1]["status"] == final


def test_the_shopper_gets_what_each_method_needs(service: ServiceServer) -> None:
    _, pix = service.call("POST", "/payments", ASYNC_FLOWS["mercadopago-pix"][0])
    assert pix["next_action"]["qr_code"].startswith("000201")  # an EMV BR Code
    assert pix["next_action"]["qr_code_base64"]
    _, oxxo = service.call("POST", "/payments", {"amount": 25000, "currency": "mxn",
                                                 "method": "oxxo", "customer": CUSTOMER})
    assert oxxo["next_action"]["type"] == "voucher"
    assert oxxo["next_action"]["reference"] and oxxo["next_action"]["url"]
    _, bancontact = service.call("POST", "/payments", {"amount": 1000, "currency": "eur",
                                                       "method": "bancontact",
                                                       "country": "BE"})
    assert bancontact["provider"] == "mollie"
    assert bancontact["action_url"] == bancontact["next_action"]["url"]
    assert "/__hosted/mollie/checkout/" in bancontact["action_url"]
    _, mpesa = service.call("POST", "/payments", ASYNC_FLOWS["daraja-mpesa"][0])
    assert mpesa["next_action"] == {"type": "phone_prompt", "phone": "254700001037",
                                    "message": mpesa["next_action"]["message"]}


@pytest.mark.parametrize(("body", "problem"), [
    ({"amount": 1000, "currency": "usd", "method": "pix", "customer": CUSTOMER}, 422),
    ({"amount": 1000, "currency": "inr", "method": "upi", "customer": CUSTOMER}, 400),
    ({"amount": 1050, "currency": "kes", "method": "mpesa",
      "customer": {"phone": "254708374149"}}, 400),
    ({"amount": 1000, "currency": "eur", "method": "sofort"}, 400),
])
def test_an_async_payment_the_service_cannot_route_or_lacks_details_is_refused_up_front(
        body: dict, problem: int, service: ServiceServer, simulator: SimulatorServer) -> None:
    status, answer = service.call("POST", "/payments", body)
    assert status == problem and answer["error"]
    assert simulator.client.call("GET", "/payments")["payments"] == []


def test_forged_callbacks_are_refused_and_change_nothing(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    _, p = service.call("POST", "/payments", ASYNC_FLOWS["daraja-mpesa"][0])
    forged = {"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID":
                                       "ws_CO_not_ours", "ResultCode": 0}}}
    assert post_raw(f"{service.url}/webhooks/daraja", json.dumps(forged).encode()) == 401
    _, pix = service.call("POST", "/payments", ASYNC_FLOWS["mercadopago-pix"][0])
    url = f"{service.url}/webhooks/mercadopago?data.id={pix['provider_reference']}&type=payment"
    assert post_raw(url, b'{"action": "payment.updated"}', {
        "x-signature": f"ts={int(time.time())},v1={'0' * 64}", "x-request-id": "r1"}) == 401
    assert service.service.payments[p["id"]]["status"] == "pending"
    assert service.service.payments[pix["id"]]["status"] == "pending"


def post_raw(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_an_ideal_payment_nobody_finishes_expires_on_the_virtual_clock(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    _, p = service.call("POST", "/payments", ASYNC_FLOWS["mollie-ideal"][0])
    assert p["status"] == "pending"
    simulator.advance_clock("16m")  # an open iDEAL payment lives 15 minutes at Mollie
    payments = service.service.payments
    assert wait_until(lambda: payments[p["id"]]["status"] == "expired"), payments[p["id"]]
    assert service.service.counts["webhook:mollie:verified"] == 1
