"""The admin API as an engineer or a CI pipeline uses it."""

from __future__ import annotations

import urllib.error

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer


def admin_error(sim: SimulatorServer, method: str, path: str, body: object = None) -> tuple[
        int, dict]:
    with pytest.raises(urllib.error.HTTPError) as err:
        sim.admin(method, path, body)
    import json
    return err.value.code, json.loads(err.value.read())


def test_health_lists_providers(payment_simulator: SimulatorServer):
    health = payment_simulator.admin("GET", "/health")
    assert health["status"] == "ok"
    assert "stripe" in health["providers"]


def test_journal_records_and_filters_and_redacts_card_numbers(
        payment_simulator: SimulatorServer, client: stripe.StripeClient):
    client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True,
        "payment_method_data": {"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(params={
            "amount": 2000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_chargeDeclined"})

    everything = payment_simulator.admin("GET", "/journal?provider=stripe")["entries"]
    assert len(everything) == 2
    first = everything[-1]
    assert first["method"] == "POST" and first["path"] == "/stripe/v1/payment_intents"
    assert first["status"] == 200
    assert "4242424242424242" not in str(first)
    assert "424242******4242" in str(first["request"])
    declined = payment_simulator.admin("GET", "/journal?status=402")["entries"]
    assert len(declined) == 1 and declined[0]["response"]["error"]["code"] == "card_declined"
    assert payment_simulator.admin("GET", "/journal?status=4xx")["entries"] == declined
    assert payment_simulator.admin("GET", "/journal?path=/v1/refunds")["entries"] == []


def test_payment_with_its_full_history(payment_simulator: SimulatorServer,
                                       client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 3000, "currency": "eur", "confirm": True, "payment_method": "pm_card_visa",
        "capture_method": "manual"})
    client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 2000})
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    p = payment_simulator.admin("GET", f"/payments/{pi.id}")
    assert p["status"] == "partially_refunded"
    assert [h["action"] for h in p["history"]] == ["authorize", "capture", "refund"]
    assert (p["amount_authorized"], p["amount_captured"], p["amount_refunded"]) == (
        3000, 2000, 500)
    assert p["card"] == {"brand": "visa", "last4": "4242", "bin": "424242"}
    listed = payment_simulator.admin("GET", "/payments?provider=stripe")["payments"]
    assert [x["id"] for x in listed] == [pi.id]


def test_clock_advances_and_refuses_nonsense(payment_simulator: SimulatorServer):
    before = payment_simulator.admin("GET", "/clock")
    after = payment_simulator.admin("POST", "/clock/advance", {"by": "2h"})
    assert after["now"] - before["now"] >= 7200
    assert after["offset"] - before["offset"] == 7200
    status, body = admin_error(payment_simulator, "POST", "/clock/advance", {"by": "soon"})
    assert status == 400 and "250ms, 90s, 15m, 2h, 3d" in body["error"]["message"]
    status, _ = admin_error(payment_simulator, "POST", "/clock/advance", {"seconds": -1})
    assert status == 400


def test_unknown_admin_route_lists_the_real_ones(payment_simulator: SimulatorServer):
    status, body = admin_error(payment_simulator, "GET", "/nope")
    assert status == 404
    assert "GET /__admin/health" in body["error"]["routes"]


def test_unknown_payment_and_bad_completion(payment_simulator: SimulatorServer,
                                            client: stripe.StripeClient):
    status, _ = admin_error(payment_simulator, "GET", "/payments/pi_missing")
    assert status == 404
    pi = client.v1.payment_intents.create(params={
        "amount": 100, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
    status, body = admin_error(payment_simulator, "POST", f"/payments/{pi.id}/complete",
                               {"outcome": "success"})
    assert status == 409 and "captured" in body["error"]["message"]
    status, _ = admin_error(payment_simulator, "POST", f"/payments/{pi.id}/complete",
                            {"outcome": "maybe"})
    assert status == 400


@pytest.mark.parametrize(("outcome", "reason", "status", "decline_code"), [
    ("success", None, "succeeded", None),
    ("failure", None, "requires_payment_method", None),
    ("failure", "insufficient_funds", "requires_payment_method", "insufficient_funds"),
    ("canceled", None, "canceled", None),
    ("expired", None, "canceled", None),
])
def test_admin_completes_a_waiting_payment_every_way(
        payment_simulator: SimulatorServer, client: stripe.StripeClient, outcome: str,
        reason: str | None, status: str, decline_code: str | None):
    pi = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "eur", "confirm": True,
        "payment_method": "pm_card_threeDSecure2Required",
        "return_url": "http://127.0.0.1/back"})
    assert pi.status == "requires_action"
    payment_simulator.client.complete(pi.id, outcome, reason=reason)
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == status
    error = after.last_payment_error
    assert (error.to_dict().get("decline_code") if error else None) == decline_code
    history = payment_simulator.admin("GET", f"/payments/{pi.id}")["history"]
    assert history[-1]["action"] == {"success": "complete", "failure": "complete",
                                     "canceled": "void", "expired": "expire"}[outcome]


def test_admin_completion_refuses_a_reason_it_does_not_know(
        payment_simulator: SimulatorServer, client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "eur", "confirm": True,
        "payment_method": "pm_card_threeDSecure2Required"})
    status, body = admin_error(payment_simulator, "POST", f"/payments/{pi.id}/complete",
                               {"outcome": "failure", "reason": "insufficent_funds"})
    assert status == 400 and "insufficient_funds" in body["error"]["message"]
    status, _ = admin_error(payment_simulator, "POST", f"/payments/{pi.id}/complete",
                            {"outcome": "success", "reason": "insufficient_funds"})
    assert status == 400
    assert client.v1.payment_intents.retrieve(pi.id).status == "requires_action"


def test_webhook_config_validation(payment_simulator: SimulatorServer):
    status, _ = admin_error(payment_simulator, "PUT", "/webhooks/paypal", {"url": "http://x"})
    assert status == 404
    status, _ = admin_error(payment_simulator, "PUT", "/webhooks/stripe", {"url": "nope"})
    assert status == 400


def test_journal_never_keeps_a_security_code(payment_simulator: SimulatorServer,
                                             client: stripe.StripeClient):
    client.v1.payment_intents.create(params={
        "amount": 500, "currency": "usd", "confirm": True,
        "payment_method_data": {"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "321"}}})
    (entry,) = payment_simulator.admin("GET", "/journal")["entries"]
    assert "321" not in str(entry["request"])
    assert "[cvc]=***" in str(entry["request"])


def test_full_reset_restores_the_start_up_webhook_endpoints(payment_simulator: SimulatorServer):
    payment_simulator.admin("PUT", "/webhooks/stripe", {"url": "http://127.0.0.1:9/x"})
    payment_simulator.reset()
    assert payment_simulator.admin("GET", "/webhooks")["endpoints"] == {}
