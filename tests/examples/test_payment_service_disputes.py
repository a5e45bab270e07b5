"""The reference payment service and disputes: it receives Stripe's signed dispute
webhooks, records the dispute on its payment, submits evidence through Stripe's API
before the deadline and books the outcome the simulator decides on its virtual clock."""

from __future__ import annotations

from typing import Any

from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.testing.server import SimulatorServer
from tests.waiting import wait_until

CARD = {"exp_month": 12, "exp_year": 2031, "cvc": "123"}


def pay(service: ServiceServer, number: str) -> dict[str, Any]:
    status, p = service.call("POST", "/payments", {
        "amount": 4200, "currency": "usd", "card": {"number": number, **CARD},
        "customer": {"email": "jenny@example.com"}})
    assert (status, p["provider"], p["status"]) == (201, "stripe", "captured")
    return p


def dispute_of(service: ServiceServer, p: dict[str, Any]) -> dict[str, Any] | None:
    found = list(service.call("GET", f"/payments/{p['id']}")[1]["disputes"].values())
    return found[0] if found else None


def test_the_service_answers_a_dispute_and_books_the_won_outcome(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = pay(service, "4000000000000259")
    simulator.advance_clock("1s")
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("answered"))
    d = dispute_of(service, p)
    assert d is not None
    assert (d["reason"], d["amount"], d["status"]) == ("fraudulent", 4200, "under_review")
    at_stripe = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"][0]
    assert at_stripe["status"] == "under_review" and at_stripe["submissions"] == 1
    assert at_stripe["evidence"]["customer_email_address"] == "jenny@example.com"

    simulator.advance_clock("1h")  # the issuer decides
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "won")
    booked = service.call("GET", f"/payments/{p['id']}")[1]
    assert booked["charged_back"] == 0
    counts = service.call("GET", "/stats")[1]["counts"]
    assert counts["dispute:stripe:fraudulent:opened"] == 1
    assert counts["dispute:stripe:fraudulent:won"] == 1


def test_a_dispute_whose_window_closed_before_the_answer_is_booked_as_expired(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    """The dispute is opened with no time to answer (its window is already over): the
    service's evidence is refused, and the close books it as expired, charged back."""
    p = pay(service, "4242424242424242")
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "product_not_received", "evidence_window": 0})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "expired")
    booked = service.call("GET", f"/payments/{p['id']}")[1]
    assert booked["charged_back"] == 4200
    assert service.call("GET", "/stats")[1]["counts"][
        "dispute:stripe:product_not_received:expired"] == 1
