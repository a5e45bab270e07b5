"""The reference payment service and the disputes of Razorpay, Mollie and Mercado Pago:
it receives each provider's verified dispute webhook (or notification), records the
dispute on its payment, answers it through the provider's API where the API takes an
answer, and books the outcome the simulator decides on its virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.testing.server import SimulatorServer
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer()
    server.start()
    yield server
    server.stop()


def dispute_of(service: ServiceServer, p: dict[str, Any]) -> dict[str, Any] | None:
    found = list(service.call("GET", f"/payments/{p['id']}")[1]["disputes"].values())
    return found[0] if found else None


def captured(service: ServiceServer, simulator: SimulatorServer,
             body: dict[str, Any], provider: str) -> dict[str, Any]:
    """A payment through the service that the customer completes at the provider."""
    status, p = service.call("POST", "/payments", body)
    assert (status, p["provider"]) == (201, provider), p
    if p["status"] != "captured":
        simulator.client.complete(p["provider_reference"], "success")
        assert wait_until(lambda: service.service.payments[p["id"]]["status"] == "captured")
    return p


UPI = {"amount": 49900, "currency": "inr", "method": "upi", "country": "IN",
       "upi": {"vpa": "shopper@okhdfcbank"},
       "customer": {"email": "shopper@example.com", "phone": "9000090000"}}


def test_razorpay_a_dispute_is_contested_and_won(service: ServiceServer,
                                                 simulator: SimulatorServer) -> None:
    p = captured(service, simulator, UPI, "razorpay")
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "product_not_received"})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("answered"))
    d = dispute_of(service, p)
    assert d is not None
    assert (d["reason"], d["amount"], d["status"]) == ("goods_not_received", 49900,
                                                       "under_review")
    at_razorpay = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"][0]
    assert at_razorpay["status"] == "under_review" and at_razorpay["submissions"] == 1
    assert at_razorpay["evidence"]["billing_proof"]

    simulator.advance_clock("1h")
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "won")
    assert service.call("GET", f"/payments/{p['id']}")[1]["charged_back"] == 0
    counts = service.call("GET", "/stats")[1]["counts"]
    assert counts["dispute:razorpay:goods_not_received:opened"] == 1
    assert counts["dispute:razorpay:goods_not_received:won"] == 1


def test_razorpay_a_dispute_past_its_respond_by_is_booked_expired(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = captured(service, simulator, UPI, "razorpay")
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "fraudulent", "ends": "expired"})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "expired")
    assert service.call("GET", f"/payments/{p['id']}")[1]["charged_back"] == 49900
    assert service.call("GET", "/stats")[1]["counts"]["dispute:razorpay:fraud:expired"] == 1


IDEAL = {"amount": 1999, "currency": "eur", "method": "ideal", "country": "NL",
         "ideal": {"issuer": "ideal_INGBNL2A"}}


def test_mollie_a_chargeback_is_recorded_and_its_reversal_booked_won(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = captured(service, simulator, IDEAL, "mollie")
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "fraudulent", "ends": "won"})
    assert wait_until(lambda: dispute_of(service, p) is not None)
    d = dispute_of(service, p)
    assert d is not None and d["id"].startswith("chb_")
    assert (d["amount"], d["status"], d["answered"]) == (1999, "needs_response", False)

    simulator.advance_clock("1h")  # Mollie defended it: reversed
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "won")
    counts = service.call("GET", "/stats")[1]["counts"]
    assert counts["dispute:mollie:chargeback:opened"] == 1
    assert counts["dispute:mollie:chargeback:won"] == 1
    assert service.call("GET", f"/payments/{p['id']}")[1]["status"] == "captured"


PIX = {"amount": 5000, "currency": "brl", "method": "pix", "country": "BR",
       "customer": {"email": "shopper@example.com", "name": "Ana Souza"}}


def test_mercadopago_a_chargeback_is_documented_and_covered(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = captured(service, simulator, PIX, "mercadopago")
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "product_unacceptable"})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("answered"))
    d = dispute_of(service, p)
    assert d is not None
    assert (d["reason"], d["amount"], d["status"]) == ("product_unacceptable", 5000,
                                                       "under_review")
    at_mp = simulator.admin("GET", f"/payments/{p['provider_reference']}")["disputes"][0]
    assert at_mp["status"] == "under_review"
    assert at_mp["evidence"]["documentation"][0]["content_type"] == "application/pdf"

    simulator.advance_clock("1h")
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "won")
    booked = service.call("GET", f"/payments/{p['id']}")[1]
    assert (booked["status"], booked["charged_back"]) == ("captured", 0)
    counts = service.call("GET", "/stats")[1]["counts"]
    assert counts["dispute:mercadopago:product_unacceptable:won"] == 1


def test_mercadopago_a_chargeback_past_its_deadline_is_booked_expired(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    p = captured(service, simulator, PIX, "mercadopago")
    simulator.admin("POST", f"/payments/{p['provider_reference']}/dispute",
                    {"reason": "fraudulent", "ends": "expired"})
    assert wait_until(lambda: (dispute_of(service, p) or {}).get("outcome") == "expired")
    assert service.call("GET", f"/payments/{p['id']}")[1]["charged_back"] == 5000
