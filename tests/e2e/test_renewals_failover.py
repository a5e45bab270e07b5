"""Subscription renewals failing over between acquirers, end to end: the reference
service saves a card on a customer's first payment, subscribes it, and when the
acquirer that saved it cannot charge the renewal (503, or its issuer unavailable), the
renewal goes to the next acquirer for the currency with the raw card and the first
payment's network transaction id, which that acquirer accepts."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.testing.server import SimulatorServer

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
MONTH = 30 * 86400


@pytest.fixture
def make_service(simulator: SimulatorServer) -> Iterator[Callable[[list[str]],
                                                                   ServiceServer]]:
    """The reference service with only the acquirers given, in the router's order."""
    simulator.reset()
    started: list[ServiceServer] = []

    def make(providers: list[str]) -> ServiceServer:
        server = ServiceServer(for_simulator(simulator.base_url, providers, retries=1,
                                             backoff_s=0.01)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def failing(provider: str, effect: dict[str, Any]) -> dict[str, Any]:
    """A scenario that fails the provider's merchant-initiated payments only."""
    return {"name": f"{provider}-renewals-fail", "rules": [{
        "name": "mit-fails", "match": {"provider": provider, "operation": "authorize",
                                       "initiator": "merchant"}, **effect}]}


def subscribe(service: ServiceServer, currency: str) -> tuple[dict[str, Any], dict[str, Any]]:
    status, p = service.call("POST", "/payments", {
        "amount": 1500, "currency": currency, "card": CARD, "save_card": True,
        "customer": {"id": "cust-renew", "email": "renew@example.com"}})
    assert status == 201 and p["saved_card"], p
    status, sub = service.call("POST", "/subscriptions", {
        "card": p["saved_card"], "amount": 1500, "currency": currency, "interval_s": MONTH})
    assert status == 201, sub
    return p, sub


@pytest.mark.parametrize(("currency", "first", "second", "effect"), [
    ("usd", "stripe", "adyen", {"fault": {"http": 503}}),
    ("eur", "adyen", "stripe", {"outcome": {"decline": "issuer_unavailable"}}),
    ("usd", "stripe", "checkoutcom", {"outcome": {"decline": "processing_error"}}),
    ("eur", "adyen", "checkoutcom", {"fault": {"http": 503}}),
])
def test_a_renewal_the_saving_acquirer_cannot_charge_is_approved_at_the_next_with_the_nti(
        make_service: Callable[[list[str]], ServiceServer], simulator: SimulatorServer,
        currency: str, first: str, second: str, effect: dict[str, Any]) -> None:
    service = make_service([first, second])
    p, sub = subscribe(service, currency)
    assert p["provider"] == first
    nti = p["network_transaction_id"]
    assert nti and len(nti) == 15

    # Not due yet: nothing is charged.
    _, out = service.call("POST", "/subscriptions/renew-due", {})
    assert out["renewed"] == 0

    simulator.use_scenario(failing(first, effect))
    simulator.advance_clock(MONTH + 1)
    _, out = service.call("POST", "/subscriptions/renew-due", {})
    assert out["renewed"] == 1
    _, sub = service.call("GET", f"/subscriptions/{sub['id']}")
    [renewal] = sub["renewals"]
    assert (sub["status"], renewal["status"], renewal["provider"]) == \
        ("active", "captured", second)
    assert [a["provider"] for a in renewal["attempts"]] == [first, second]
    assert renewal["attempts"][-1]["with"] == "network_transaction_id"

    # The second acquirer got the first payment's network transaction id, and took the
    # payment as a merchant-initiated one quoting it.
    at_second = simulator.client.payment(renewal["provider_reference"])
    credential = at_second["credential"]
    assert (credential["initiator"], credential["original_network_transaction_id"]) == \
        ("merchant", nti)
    sent = [e for e in simulator.journal(provider=second, mentions=nti)
            if e["method"] == "POST" and nti in json.dumps(e["request"])]
    assert [e["status"] for e in sent] in ([200], [201], [202]), sent

    # Renewal day is over: the next renewal goes back to the acquirer that saved the card.
    simulator.client.call("DELETE", f"/scenarios/{first}-renewals-fail")
    simulator.advance_clock(MONTH)
    service.call("POST", "/subscriptions/renew-due", {})
    _, sub = service.call("GET", f"/subscriptions/{sub['id']}")
    assert (sub["renewals"][-1]["provider"], sub["renewals"][-1]["status"]) == \
        (first, "captured")
    assert sub["renewals"][-1]["attempts"][0]["with"] == "token"


def test_a_renewal_that_needs_the_customer_is_neither_retried_nor_failed_over(
        service: ServiceServer, simulator: SimulatorServer) -> None:
    _, sub = subscribe(service, "usd")
    simulator.use_scenario(failing("stripe", {"outcome": {
        "decline": "authentication_required"}}))
    simulator.advance_clock(MONTH + 1)
    service.call("POST", "/subscriptions/renew-due", {})
    _, sub = service.call("GET", f"/subscriptions/{sub['id']}")
    assert sub["status"] == "needs_customer_action"
    assert [a["provider"] for a in sub["renewals"][-1]["attempts"]] == ["stripe"]
    assert sub["renewals"][-1]["decline_code"] == "authentication_required"
