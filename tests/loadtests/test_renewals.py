"""The `renewals` suite: a short headless Locust run (subprocess) of customers saving
cards and renewing subscriptions through the reference service, against a simulator;
asserted from Locust's CSV and the service's own renewal counts."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from paysandbox.cli import main as paysandbox
from paysandbox.examples.payment_service.server import ServiceServer
from paysandbox.loadtests.run import SUITES
from paysandbox.testing.server import SimulatorServer


def stats(report: Path) -> dict[str, dict[str, int]]:
    with (report / "locust_stats.csv").open(newline="") as f:
        return {row["Name"]: {"requests": int(row["Request Count"]),
                              "failures": int(row["Failure Count"])}
                for row in csv.DictReader(f)}


def test_the_renewals_suite_is_a_suite_of_the_runner() -> None:
    assert SUITES["renewals"].name == "renewals.py" and SUITES["renewals"].exists()


def test_customers_save_cards_and_their_subscriptions_renew_under_load(
        service: ServiceServer, simulator: SimulatorServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD_RENEWAL_INTERVAL", "1")  # virtual seconds: due within the run
    report = tmp_path / "report"
    code = paysandbox(["load", "--suite", "renewals", "--target", service.url,
                       "--simulator", simulator.base_url, "--users", "4", "--spawn-rate", "4",
                       "--run-time", "6s", "--slo", "errors<1%", "--report", str(report)])
    assert code == 0
    rows = stats(report)
    for name in ("POST /payments (save card)", "POST /subscriptions",
                 "POST /subscriptions/renew-due", "GET /subscriptions/{id}"):
        assert rows[name]["requests"] > 0, name
        assert rows[name]["failures"] == 0, name
    renewed = Counter({k: n for k, n in service.service.counts.items()
                       if k.startswith("renewal:")})
    approved = sum(n for k, n in renewed.items() if k.endswith((":captured", ":authorized")))
    assert approved >= rows["POST /subscriptions"]["requests"], renewed
    # No scenario: every renewal of every subscription is approved at its own acquirer.
    subs = list(service.service.wallet.subscriptions.values())
    assert len(subs) == rows["POST /subscriptions"]["requests"]
    assert all(s.status == "active" and s.renewals_total >= 1 for s in subs)
    assert {a["with"] for s in subs for r in s.renewals for a in r["attempts"]} == {"token"}


RENEWAL_DAY = """\
name: stripe-renewal-day
rules:
  - name: stripe-mit-503
    match: {provider: stripe, operation: authorize, initiator: merchant}
    fault: {http: 503}
"""


def test_under_load_renewals_stripe_cannot_charge_are_approved_elsewhere(
        service: ServiceServer, simulator: SimulatorServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe refuses every renewal (503) while its customers' own payments go through:
    the dollar renewals fail over to Checkout.com with the network transaction id, and
    none is lost."""
    monkeypatch.setenv("LOAD_RENEWAL_INTERVAL", "1")
    scenario = tmp_path / "renewal-day.yaml"
    scenario.write_text(RENEWAL_DAY)
    report = tmp_path / "report"
    code = paysandbox(["load", "--suite", "renewals", "--target", service.url,
                       "--simulator", simulator.base_url, "--users", "4", "--spawn-rate", "4",
                       "--run-time", "6s", "--scenario", str(scenario),
                       "--slo", "errors<1%", "--report", str(report)])
    assert code == 0
    assert stats(report)["POST /payments (save card)"]["failures"] == 0
    renewals = [r for s in service.service.wallet.subscriptions.values() for r in s.renewals]
    dollars = [r for r in renewals if r["attempts"][0]["provider"] == "stripe"]
    assert dollars, renewals
    for r in dollars:
        assert (r["status"], r["provider"]) == ("captured", "checkoutcom"), r
        assert r["attempts"][-1]["with"] == "network_transaction_id"
    assert all(r["status"] == "captured" for r in renewals)
