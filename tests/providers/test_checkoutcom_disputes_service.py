"""The reference payment service and Checkout.com's disputes: it receives the signed
`dispute_*` webhooks, records the dispute on its payment, provides and submits evidence
through `/disputes/{id}/evidence` before the deadline and books the outcome the
simulator decides on its virtual clock."""

from __future__ import annotations

from typing import Any

from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.testing.server import SimulatorServer
from tests.waiting import wait_until

#: Checkout.com's dispute test scenario: 10.40 on a card expiring 01/2099. Australian
#: dollars go to Checkout.com first in the service's default routing.
SCENARIO_CARD = {"number": "4242424242424242", "exp_month": 1, "exp_year": 2099,
                 "cvc": "100"}


def pay(service: ServiceServer, card: dict[str, Any], amount: int = 1040) -> dict[str, Any]:
    status, p = service.call("POST", "/payments", {
        "amount": amount, "currency": "aud", "card": card,
        "customer": {"email": "jia@example.com"}})
    assert (status, p["provider"], p["status"]) == (201, "checkoutcom", "captured"), p
    return p


def dispute_of(service: ServiceServer, p: dict[str, Any]) -> dict[str, Any] | None:
    found = list(service.call("GET", f"/payments/{p['id']}")[1]["disputes"].values())
    return found[0] if found else None


def test_the_service_answers_a_checkoutcom_dispute_and_books_the_won_outcome(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = pay(service, SCENARIO_CARD)
    simulator.advance_clock("1m")
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("answered"))
    d = dispute_of(service, p)
    assert d is not None and d["id"].startswith("dsp_")
    assert (d["reason"], d["amount"]) == ("fraudulent", 1040)
    assert d["due_by"] is not None
    at_cko = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"][0]
    assert at_cko["status"] == "under_review" and at_cko["submissions"] == 1
    assert at_cko["evidence"]["customer_communication_text"].endswith("jia@example.com")
    assert "proof_of_delivery_or_service_text" in at_cko["evidence"]

    simulator.advance_clock("1h")  # the issuer decides
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "won")
    assert service.call("GET", f"/payments/{p['id']}")[1]["charged_back"] == 0
    counts = service.call("GET", "/stats")[1]["counts"]
    assert counts["dispute:checkoutcom:fraudulent:opened"] == 1
    assert counts["dispute:checkoutcom:fraudulent:won"] == 1


def test_a_checkoutcom_dispute_with_no_time_to_answer_is_booked_as_expired(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = pay(service, {**SCENARIO_CARD, "exp_year": 2031}, amount=4200)
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "product_not_received", "ends": "expired"})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "expired")
    d = dispute_of(service, p)
    assert d is not None and d["reason"] == "product_service_not_received"
    assert service.call("GET", f"/payments/{p['id']}")[1]["charged_back"] == 4200
    assert service.call("GET", "/stats")[1]["counts"][
        "dispute:checkoutcom:product_service_not_received:expired"] == 1
