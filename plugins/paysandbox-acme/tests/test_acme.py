"""Acme Acquiring, installed as its own distribution, served by payments-sandbox through
the entry point: its routes, contracts, codes and webhooks come from this package."""

from __future__ import annotations

import hmac
import uuid
from typing import Any

import pytest
import requests
from paysandbox_acme import wire

from paysandbox.testing.receiver import WebhookReceiver
from paysandbox.testing.server import SimulatorServer

KEY = {"X-Api-Key": "acme_test_checkout"}
CARD = {"number": "4111111111111111", "expiry_month": 12, "expiry_year": 2031}


def pay(sim: SimulatorServer, body: dict[str, Any], path: str = "/v1/payments",
        **headers: str) -> requests.Response:
    return requests.post(sim.url("acme") + path, json=body, headers={**KEY, **headers},
                         timeout=10)


def new_payment(**changes: Any) -> dict[str, Any]:
    return {"amount": 2500, "currency": "EUR", "reference": f"order-{uuid.uuid4().hex[:8]}",
            "card": CARD, **changes}


def test_the_simulator_mounts_the_plugin_from_its_entry_point(
        payment_simulator: SimulatorServer) -> None:
    assert "acme" in payment_simulator.admin("GET", "/health")["providers"]


def test_a_payment_is_authorized_captured_and_refunded(
        payment_simulator: SimulatorServer) -> None:
    made = pay(payment_simulator, new_payment(capture=False))
    assert made.status_code == 200, made.text
    p = made.json()
    assert (p["status"], p["card"]["last4"], p["decline"]) == ("authorized", "1111", None)

    captured = pay(payment_simulator, {}, f"/v1/payments/{p['id']}/capture").json()
    assert (captured["status"], captured["captured_amount"]) == ("captured", 2500)
    refunded = pay(payment_simulator, {"amount": 1000}, f"/v1/payments/{p['id']}/refunds")
    assert refunded.json()["status"] == "partially_refunded"
    again = requests.get(payment_simulator.url("acme") + f"/v1/payments/{p['id']}",
                         headers=KEY, timeout=10).json()
    assert (again["refunded_amount"], len(again["refunds"])) == (1000, 1)


def test_a_test_card_declines_with_acmes_own_code(payment_simulator: SimulatorServer) -> None:
    body = new_payment(card={**CARD, "number": "4000000000000002"})
    p = pay(payment_simulator, body).json()
    assert p["status"] == "declined"
    assert p["decline"] == {"code": "51", "message": "Insufficient funds",
                            "reason": "insufficient_funds"}  # codes.yaml, in the plugin


def test_a_request_breaking_the_plugins_contract_gets_its_own_error(
        payment_simulator: SimulatorServer) -> None:
    answer = pay(payment_simulator, new_payment(amount="25.00"))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["field"]) == ("invalid_request", "amount")
    unknown = pay(payment_simulator, new_payment(tip=5))
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "tip")


def test_an_unknown_payment_is_a_404_in_acmes_envelope(
        payment_simulator: SimulatorServer) -> None:
    answer = requests.get(payment_simulator.url("acme") + "/v1/payments/pay_nope",
                          headers=KEY, timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "payment_not_found"


def test_the_same_idempotency_key_replays_the_first_answer(
        payment_simulator: SimulatorServer) -> None:
    body = new_payment()
    first = pay(payment_simulator, body, **{"Idempotency-Key": "k-1"})
    second = pay(payment_simulator, body, **{"Idempotency-Key": "k-1"})
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    other = pay(payment_simulator, new_payment(amount=1), **{"Idempotency-Key": "k-1"})
    assert other.status_code == 422


@pytest.mark.payment_scenario("""
name: acme-issuer-down
rules:
  - match: {provider: acme, operation: authorize}
    outcome: {decline: processing_error}
""")
def test_a_scenario_rule_declines_the_plugins_payments(
        payment_simulator: SimulatorServer) -> None:
    p = pay(payment_simulator, new_payment()).json()
    assert p["status"] == "declined"
    assert p["decline"]["code"] == "05"  # a reason codes.yaml lacks: the generic decline
    entry = payment_simulator.journal(provider="acme")[0]
    assert entry["scenario_rules"] == ["acme-issuer-down/rules[0]"]


def test_webhooks_are_signed_with_acmes_scheme(payment_simulator: SimulatorServer,
                                               webhook_receiver: WebhookReceiver) -> None:
    p = pay(payment_simulator, new_payment()).json()
    delivery = webhook_receiver.wait_for("acme")
    body = delivery.json()
    assert (body["type"], body["data"]["id"]) == ("payment.captured", p["id"])
    given = delivery.headers["acme-signature"]
    at = int(given.split(",")[0].removeprefix("t="))
    expected = wire.signature(delivery.body, webhook_receiver.secret("acme"), at)
    assert hmac.compare_digest(given, expected)
