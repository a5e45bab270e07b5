"""Reconciliation against the ready-made reconciliation-drift scenario: payments made
through the reference service over a few virtual days, the clock moved past their
payouts, then the service's `POST /reconcile` finds exactly the discrepancies the
simulator says it injected (`GET /__admin/ledger`, accounts[].injected): the same kinds
and the same lines and payouts, named by the provider's ids, no more and no fewer.

The shares are raised so that a run of a few dozen payments hits several kinds, and the
kinds are read in two passes over the same payments (the drift is applied when the books
are read, so another scenario reports the same payments otherwise): money that moves
differently (fees, conversions, failed payouts) in one, lines left out and payouts paid
in part in the other. In one pass a line both missing and charged a fee off the pricing
would be invisible to any reconciliation (the line is not there to show its fee).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.scenarios.loader import locate
from paysandbox.testing.server import SimulatorServer

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
STRIPE_KEY = "sk_test_reference_service"
DAYS, PER_DAY = 6, 8

#: Two passes over the same payments: the kinds each can see apart.
MONEY = {"fee_mismatch": {"share": 0.2, "by": 7}, "fx_rounding": {"share": 0.3, "by": 1},
         "duplicated_line": 0.1, "late_payout": {"share": 0.3, "by": "1d"},
         "failed_payout": 0.4}
LINES = {"missing_line": 0.12, "duplicated_line": 0.1,
         "partial_payout": {"share": 0.35, "paid": 0.5},
         "late_payout": {"share": 0.3, "by": "1d"}}


def drift(settlement: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ready-made scenario with other shares."""
    doc = yaml.safe_load(locate("reconciliation-drift").read_text(encoding="utf-8"))
    return {**doc, "name": name, "settlement": dict(settlement)}


@pytest.fixture
def stripe_service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    simulator.reset()
    try:
        urllib.request.urlopen(urllib.request.Request(
            f"{simulator.base_url}/stripe/v1/payouts?limit=1",
            headers={"Authorization": f"Bearer {STRIPE_KEY}"}), timeout=10)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            pytest.skip("this simulator has no Stripe payouts (GET /v1/payouts) yet")
        raise
    server = ServiceServer(for_simulator(simulator.base_url, ("stripe",), retries=1,
                                         backoff_s=0.01)).start()
    yield server
    server.stop()


def injected(simulator: SimulatorServer) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The discrepancies injected in the Stripe account, and each ledger entry's id at
    Stripe when its line is missing (a charge's PaymentIntent, a refund's id)."""
    ledger = simulator.admin("GET", f"/ledger?namespace={STRIPE_KEY}&limit=10000")
    (account,) = [a for a in ledger["accounts"] if a["provider"] == "stripe"]
    assert ledger["total_entries"] <= 10000
    named = {e["id"]: e["payment"] if e["type"] == "charge" else e["source"]
             for e in ledger["entries"]}
    return account["injected"], named


def reconcile(service: ServiceServer) -> list[tuple[str, str]]:
    status, result = service.call("POST", "/reconcile", {})
    assert status == 200, result
    (stripe,) = result["acquirers"]
    assert "error" not in stripe and not stripe["truncated"], stripe
    assert service.call("GET", "/reconciliation")[1] == result
    return sorted((d["kind"], d["id"]) for d in stripe["discrepancies"])


def test_reconcile_finds_exactly_what_reconciliation_drift_injected_at_stripe(
        simulator: SimulatorServer, stripe_service: ServiceServer) -> None:
    made = 0
    for day in range(DAYS):
        for n in range(PER_DAY):
            currency = "eur" if n % 2 else "usd"  # euros are converted to dollars
            status, p = stripe_service.call("POST", "/payments", {
                "amount": 1000 + 137 * (day * PER_DAY + n), "currency": currency,
                "card": CARD})
            assert (status, p["provider"], p["status"]) == (201, "stripe", "captured"), p
            made += 1
            if n == 3:
                status, p = stripe_service.call("POST", f"/payments/{p['id']}/refund",
                                                {"amount": 250})
                assert status == 200, p
        simulator.advance_clock("1d")
    simulator.advance_clock("5d")  # every day's charges available, paid out, arrived

    seen: set[str] = set()
    for name, settlement in (("drift-money", MONEY), ("drift-lines", LINES)):
        simulator.use_scenario(drift(settlement, name))
        truth, named = injected(simulator)
        expected = sorted((i["kind"], named[i["id"]] if i["kind"] == "missing_line"
                           else i["id"]) for i in truth)
        assert reconcile(stripe_service) == expected, name
        seen |= {kind for kind, _ in expected}
        simulator.admin("DELETE", f"/scenarios/{name}")
    assert made == DAYS * PER_DAY
    # several kinds, each found as injected (the shares make missing all of them
    # in one run improbable; the equality above is what the test proves)
    assert len(seen) >= 4, seen
