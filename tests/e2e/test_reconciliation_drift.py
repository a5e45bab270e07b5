"""Reconciliation against the ready-made reconciliation-drift scenario, after a load: a
short headless Locust run of the checkout suite pays through the reference service over
a few virtual days (Stripe takes the dollars and the other currencies it converts, Adyen
the European ones), with the scenario loaded; the clock is moved past the payouts, then
the service's `POST /reconcile` finds exactly the discrepancies the simulator says it
injected (`GET /__admin/ledger`, accounts[].injected): the same kinds and the same lines
and payouts, named by the provider's ids, no more and no fewer.

First with the scenario's own shares (a tenth of a percent of lines: a load this short
may get none, and then none must be found), then with shares raised so that the load's
payments hit several kinds, read in two passes over the same payments (the drift is
applied when the books are read, so another scenario reports the same payments
otherwise): money that moves differently (fees, conversions, failed payouts) in one,
lines left out and payouts paid in part in the other. In one pass a line both missing
and charged a fee off the pricing would be invisible to any reconciliation (the line is
not there to show its fee).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.loadtests import run as load_run
from paysandbox.scenarios.loader import locate
from paysandbox.testing.server import SimulatorServer

STRIPE_KEY = "sk_test_reference_service"
ADYEN_KEY = "AQE_reference_service"
#: Virtual days of load, one short Locust run each, the clock moved a day after each.
DAYS = 3
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


@pytest.fixture(scope="module")
def service(simulator: SimulatorServer) -> Any:
    simulator.reset()
    server = ServiceServer(for_simulator(simulator.base_url, ("stripe", "adyen"),
                                         retries=1, backoff_s=0.01)).start()
    yield server
    server.stop()


def _requests(report: Path) -> dict[str, tuple[int, int]]:
    with (report / "locust_stats.csv").open(newline="") as f:
        return {row["Name"]: (int(row["Request Count"]), int(row["Failure Count"]))
                for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def loaded(simulator: SimulatorServer, service: ServiceServer,
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, int]]:
    """The checkout suite for a few seconds on each of DAYS virtual days, with the
    ready-made scenario loaded; then the clock moved until every day's payout arrived.
    Locust's request counts of the last day."""
    requests: dict[str, tuple[int, int]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOAD_LOCAL_METHOD_RATIO", "0")  # cards: the acquirers that settle
        for day in range(DAYS):
            report = tmp_path_factory.mktemp(f"drift-day-{day}")
            code = load_run.main([
                "--suite", "checkout", "--target", service.url,
                "--simulator", simulator.base_url, "--users", "4", "--spawn-rate", "4",
                "--run-time", "4s", "--scenario", str(locate("reconciliation-drift")),
                "--report", str(report), "--quiet", "--slo", "errors<1%",
                f"--locust-arg=--seed={day + 1}"])
            assert code == 0, (report / "locust.log").read_text()[-3000:]
            requests = _requests(report)
            simulator.advance_clock("1d")
    simulator.advance_clock("5d")  # every day's charges available, paid out, arrived
    return requests


READY = yaml.safe_load(locate("reconciliation-drift").read_text(encoding="utf-8"))


def drift(settlement: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """The ready-made scenario, with other shares when `settlement` is given."""
    return {**READY, "name": name,
            "settlement": dict(READY["settlement"] if settlement is None else settlement)}


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


def reconcile(service: ServiceServer, provider: str) -> dict[str, Any]:
    status, result = service.call("POST", "/reconcile", {})
    assert status == 200, result
    assert sorted(a["provider"] for a in result["acquirers"]) == ["adyen", "stripe"], result
    (found,) = [a for a in result["acquirers"] if a["provider"] == provider]
    assert "error" not in found and not found["truncated"], found
    assert service.call("GET", "/reconciliation")[1] == result
    return found


def passes(simulator: SimulatorServer, service: ServiceServer, provider: str, key: str,
           scenarios: Mapping[str, Mapping[str, Any] | None], *, by_payment: set[str],
           payout_name: Any) -> set[str]:
    """Each scenario loaded in turn (None: the ready-made one as it is): what the
    service finds is what was injected. The kinds in `by_payment` are named by the
    payment's or refund's id at the provider, other line kinds by the entry's, payouts
    by `payout_name`. Any scenario loaded before (the load's) is unloaded first."""
    simulator.client.clear_scenarios()
    seen: set[str] = set()
    for name, settlement in scenarios.items():
        simulator.use_scenario(drift(settlement, name))
        truth, named, payouts = injected(simulator, provider, key)
        expected = sorted(
            (i["kind"], named[i["id"]] if i["kind"] in by_payment
             else payout_name(i["id"], payouts) if i["kind"] in PAYOUT_KINDS else i["id"])
            for i in truth)
        found = reconcile(service, provider)
        assert sorted((d["kind"], d["id"]) for d in found["discrepancies"]) == expected, \
            (name, truth, found["discrepancies"])
        seen |= {kind for kind, _ in expected}
        simulator.admin("DELETE", f"/scenarios/{name}")
    return seen


def test_the_load_paid_at_both_acquirers_with_the_drift_scenario_loaded(
        simulator: SimulatorServer, loaded: dict[str, tuple[int, int]]) -> None:
    requests, failures = loaded["POST /payments"]
    assert requests > 0 and failures == 0, loaded
    ledger = simulator.admin("GET", "/ledger?limit=1")
    charged = {a["provider"]: a["entries"] for a in ledger["accounts"]}
    assert charged.get("stripe", 0) > 10 and charged.get("adyen", 0) > 10, charged
    status = simulator.admin("GET", f"/scenarios/{READY['name']}")
    assert status["name"] == READY["name"], status


def test_reconcile_finds_exactly_what_reconciliation_drift_injected_at_stripe(
        simulator: SimulatorServer, service: ServiceServer,
        loaded: dict[str, tuple[int, int]]) -> None:
    # a balance transaction's id is the ledger entry's, a payout's the ledger's payout's
    seen = passes(simulator, service, "stripe", STRIPE_KEY,
                  {"ready": None, "drift-money": MONEY, "drift-lines": LINES},
                  by_payment={"missing_line"},
                  payout_name=lambda payout_id, _: payout_id)
    # several kinds, each found as injected (the shares make missing all of them
    # in one run improbable; the equality in `passes` is what the test proves)
    assert len(seen) >= 4, seen


def test_reconcile_finds_exactly_what_reconciliation_drift_injected_at_adyen(
        simulator: SimulatorServer, service: ServiceServer,
        loaded: dict[str, tuple[int, int]]) -> None:
    # a line is named by its pspReference (a refund's, or the payment's), a payout by
    # its settlement batch: the account's Nth payout is batch N
    seen = passes(simulator, service, "adyen", ADYEN_KEY,
                  {"ready": None, "adyen-money": ADYEN_MONEY, "adyen-lines": ADYEN_LINES},
                  by_payment={"missing_line", "duplicated_line", "fee_mismatch",
                              "fx_rounding"},
                  payout_name=lambda payout_id, payouts: f"batch_{payouts.index(payout_id) + 1}")
    assert len(seen) >= 4, seen
