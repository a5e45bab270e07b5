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

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.scenarios.loader import locate
from paysandbox.testing.server import SimulatorServer

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
ADYEN_CARD = {"number": "4111111111111111", "exp_month": 3, "exp_year": 2030, "cvc": "737"}
STRIPE_KEY = "sk_test_reference_service"
ADYEN_KEY = "AQE_reference_service"
DAYS, PER_DAY = 6, 8
PAYOUT_KINDS = {"late_payout", "failed_payout", "partial_payout"}

#: Two passes over the same payments: the kinds each can see apart.
MONEY = {"fee_mismatch": {"share": 0.2, "by": 7}, "fx_rounding": {"share": 0.3, "by": 1},
         "duplicated_line": 0.1, "late_payout": {"share": 0.3, "by": "1d"},
         "failed_payout": 0.4}
LINES = {"missing_line": 0.12, "duplicated_line": 0.1,
         "partial_payout": {"share": 0.35, "paid": 0.5},
         "late_payout": {"share": 0.3, "by": "1d"}}
#: Adyen's settlement details report has no payout status or arrival date: its passes
#: leave late and failed payouts out.
ADYEN_MONEY = {k: v for k, v in MONEY.items() if k not in ("late_payout", "failed_payout")}
ADYEN_LINES = {k: v for k, v in LINES.items() if k != "late_payout"}


def drift(settlement: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The ready-made scenario with other shares."""
    doc = yaml.safe_load(locate("reconciliation-drift").read_text(encoding="utf-8"))
    return {**doc, "name": name, "settlement": dict(settlement)}


def service_for(simulator: SimulatorServer, provider: str) -> Iterator[ServiceServer]:
    simulator.reset()
    server = ServiceServer(for_simulator(simulator.base_url, (provider,), retries=1,
                                         backoff_s=0.01)).start()
    yield server
    server.stop()


@pytest.fixture
def stripe_service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    yield from service_for(simulator, "stripe")


@pytest.fixture
def adyen_service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    yield from service_for(simulator, "adyen")


def injected(simulator: SimulatorServer, provider: str, key: str
             ) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """The discrepancies injected in the account, each ledger entry's id at the
    provider when its line is missing (a charge's payment, a refund's id), and the
    account's payouts, oldest first."""
    ledger = simulator.admin("GET", f"/ledger?namespace={key}&limit=10000")
    (account,) = [a for a in ledger["accounts"] if a["provider"] == provider]
    assert ledger["total_entries"] <= 10000
    named = {e["id"]: e["payment"] if e["type"] == "charge" else e["source"]
             for e in ledger["entries"]}
    return account["injected"], named, [p["id"] for p in account["payouts"]]


def reconcile(service: ServiceServer) -> dict[str, Any]:
    status, result = service.call("POST", "/reconcile", {})
    assert status == 200, result
    found: dict[str, Any] = result["acquirers"][0]
    assert len(result["acquirers"]) == 1, result
    assert "error" not in found and not found["truncated"], found
    assert service.call("GET", "/reconciliation")[1] == result
    return found


def passes(simulator: SimulatorServer, service: ServiceServer, provider: str, key: str,
           scenarios: Mapping[str, Mapping[str, Any]], *, by_payment: set[str],
           payout_name: Any) -> set[str]:
    """Each scenario loaded in turn: what the service finds is what was injected. The
    kinds in `by_payment` are named by the payment's or refund's id at the provider,
    other line kinds by the entry's, payouts by `payout_name`."""
    seen: set[str] = set()
    for name, settlement in scenarios.items():
        simulator.use_scenario(drift(settlement, name))
        truth, named, payouts = injected(simulator, provider, key)
        expected = sorted(
            (i["kind"], named[i["id"]] if i["kind"] in by_payment
             else payout_name(i["id"], payouts) if i["kind"] in PAYOUT_KINDS else i["id"])
            for i in truth)
        found = reconcile(service)
        assert sorted((d["kind"], d["id"]) for d in found["discrepancies"]) == expected, \
            (name, truth, found["discrepancies"])
        seen |= {kind for kind, _ in expected}
        simulator.admin("DELETE", f"/scenarios/{name}")
    return seen


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

    # a balance transaction's id is the ledger entry's, a payout's the ledger's payout's
    seen = passes(simulator, stripe_service, "stripe", STRIPE_KEY,
                  {"drift-money": MONEY, "drift-lines": LINES},
                  by_payment={"missing_line"},
                  payout_name=lambda payout_id, _: payout_id)
    assert made == DAYS * PER_DAY
    # several kinds, each found as injected (the shares make missing all of them
    # in one run improbable; the equality above is what the test proves)
    assert len(seen) >= 4, seen


def test_reconcile_finds_exactly_what_reconciliation_drift_injected_at_adyen(
        simulator: SimulatorServer, adyen_service: ServiceServer) -> None:
    for day in range(DAYS):
        for n in range(PER_DAY):
            currency = "usd" if n % 2 else "eur"  # dollars are converted to euros
            status, p = adyen_service.call("POST", "/payments", {
                "amount": 1000 + 137 * (day * PER_DAY + n), "currency": currency,
                "card": ADYEN_CARD})
            assert (status, p["provider"], p["status"]) == (201, "adyen", "captured"), p
            if n == 3:
                status, p = adyen_service.call("POST", f"/payments/{p['id']}/refund",
                                               {"amount": 250})
                assert status == 200, p
        simulator.advance_clock("1d")
    simulator.advance_clock("5d")

    # a line is named by its pspReference (a refund's, or the payment's), a payout by
    # its settlement batch: the account's Nth payout is batch N
    seen = passes(simulator, adyen_service, "adyen", ADYEN_KEY,
                  {"adyen-money": ADYEN_MONEY, "adyen-lines": ADYEN_LINES},
                  by_payment={"missing_line", "duplicated_line", "fee_mismatch",
                              "fx_rounding"},
                  payout_name=lambda payout_id, payouts: f"batch_{payouts.index(payout_id) + 1}")
    assert len(seen) >= 4, seen
