"""The reference payment service and Adyen's disputes: it receives Adyen's HMAC-signed
dispute notifications, records the dispute on its payment, defends it through the
Disputes API (a defense document, then defendDispute) and books the outcome the
simulator decides on its virtual clock."""

from __future__ import annotations

from typing import Any

from paysandbox.examples.payment_service.adapters.adyen import disputes_base
from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.testing.server import SimulatorServer
from tests.waiting import wait_until

CARD = {"number": "4111111111111111", "exp_month": 3, "exp_year": 2030, "cvc": "737"}


def pay(service: ServiceServer, holder: str = "Test Shopper") -> dict[str, Any]:
    status, p = service.call("POST", "/payments", {
        "amount": 4200, "currency": "eur", "card": {**CARD, "holder": holder},
        "customer": {"email": "jenny@example.com"}})
    assert (status, p["provider"], p["status"]) == (201, "adyen", "captured")
    return p


def dispute_of(service: ServiceServer, p: dict[str, Any]) -> dict[str, Any] | None:
    found = list(service.call("GET", f"/payments/{p['id']}")[1]["disputes"].values())
    return found[0] if found else None


def test_the_service_defends_an_adyen_chargeback_and_books_the_reversal(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = pay(service, "Chargeback")
    simulator.advance_clock("1s")
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("answered"))
    d = dispute_of(service, p)
    assert d is not None
    at_adyen = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"][0]
    assert d["id"] == at_adyen["id"] != p["provider_reference"]
    assert (d["reason"], d["amount"]) == ("10.4", 4200)
    assert wait_until(lambda: simulator.admin(
        "GET", f"/payments/{p['provider_reference']}")["disputes"][0]["status"]
        == "under_review")
    at_adyen = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"][0]
    assert at_adyen["evidence"]["defenseReasonCode"] == "SupplyDefenseMaterial"
    assert at_adyen["evidence"]["documents"]["DefenseMaterial"]["size"] > 0

    simulator.advance_clock("1h")  # the issuer decides: reversed
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "won")
    booked = service.call("GET", f"/payments/{p['id']}")[1]
    assert booked["charged_back"] == 0
    counts = service.call("GET", "/stats")[1]["counts"]
    assert counts["dispute:adyen:10.4:opened"] == 1
    assert counts["dispute:adyen:10.4:won"] == 1


def test_an_adyen_dispute_past_its_defense_period_is_booked_as_expired(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    """Opened with no time left to answer: DISPUTE_DEFENSE_PERIOD_ENDED books it as
    expired, charged back (whether the service's defense, refused by the dispute
    service, was tried before that notification arrived or not)."""
    p = pay(service)
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "product_not_received", "evidence_window": 0})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "expired")
    d = dispute_of(service, p)
    assert d is not None and "can no longer" in d.get("refused", "can no longer")
    booked = service.call("GET", f"/payments/{p['id']}")[1]
    assert booked["charged_back"] == 4200
    assert service.call("GET", "/stats")[1]["counts"]["dispute:adyen:13.1:expired"] == 1


def test_the_disputes_api_is_found_beside_the_checkout_api() -> None:
    assert disputes_base("http://127.0.0.1:8080/adyen/checkout") == \
        "http://127.0.0.1:8080/adyen/ca/services/DisputeService/v30"
    assert disputes_base("https://checkout-test.adyen.com") == \
        "https://ca-test.adyen.com/ca/services/DisputeService/v30"
