"""The sandbox's own books through the admin API: payments made with the official SDKs
appear as priced entries; their funds become available on the virtual clock; a pricing
file of one's own changes the fees; a bad one stops `serve` with every problem named."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import stripe

from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import card


def _ledger(sim: SimulatorServer, key: str) -> dict:  # type: ignore[type-arg]
    return sim.admin("GET", f"/ledger?namespace={key}")


def test_stripe_payments_refunds_and_their_balance_on_the_clock(
        client: stripe.StripeClient, stripe_key: str, payment_simulator: SimulatorServer):
    made = [client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "confirm": True,
        "payment_method": "pm_card_visa"}) for amount in (10_000, 5_000)]
    client.v1.refunds.create(params={"payment_intent": made[1].id, "amount": 1_000})

    ledger = _ledger(payment_simulator, stripe_key)
    assert sorted((e["type"], e["amount"], e["fee"]) for e in ledger["entries"]) == [
        ("charge", 5_000, 145 + 30), ("charge", 10_000, 290 + 30), ("refund", -1_000, 0)]
    (account,) = ledger["accounts"]
    assert account["pending"] == {"usd": 9_680 + 4_825}
    assert account["available"] == {"usd": -1_000}  # a refund leaves at once

    payment_simulator.advance_clock("3d")  # available after two days, paid out that day
    (account,) = _ledger(payment_simulator, stripe_key)["accounts"]
    assert account["pending"] == {} and account["available"] == {"usd": 0}
    (payout,) = account["payouts"]
    assert payout["amount"] == 13_505 and payout["entries"] == 3

    # the same books as CSV, for a reconciliation job
    res = subprocess.run([sys.executable, "-m", "paysandbox", "ledger", "export", "--url",
                          payment_simulator.base_url, "--namespace", stripe_key],
                         capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert sorted((r["type"], int(r["net"])) for r in rows) == [
        ("charge", 4_825), ("charge", 9_680), ("refund", -1_000)]
    charge = next(r for r in rows if r["net"] == "9680")
    assert charge["fee_details"] == "processing:320" and charge["payment"] == made[0].id


TRIGGERS = """\
name: drift-triggers
settlement:
  missing_line: {amount: 1313}
  failed_payout: {payout: 1}
"""


def test_a_scenarios_triggers_drop_the_line_of_an_amount_and_fail_the_first_payout(
        client: stripe.StripeClient, stripe_key: str, payment_simulator: SimulatorServer):
    made = {amount: client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "confirm": True,
        "payment_method": "pm_card_visa"}) for amount in (1_313, 2_000)}
    payment_simulator.advance_clock("3d")
    payment_simulator.use_scenario(TRIGGERS)
    listed = client.v1.balance_transactions.list(params={"type": "charge"})
    assert [t.amount for t in listed.data] == [2_000]  # 13.13's line is missing
    (payout,) = client.v1.payouts.list().data
    assert payout.status == "failed"
    (account,) = _ledger(payment_simulator, stripe_key)["accounts"]
    truth = {e["payment"]: e["id"] for e in _ledger(payment_simulator, stripe_key)["entries"]}
    assert sorted((i["kind"], i["id"]) for i in account["injected"]) == sorted(
        [("failed_payout", payout.id), ("missing_line", truth[made[1_313].id])])


def test_an_adyen_charge_in_dollars_settles_in_euros_with_interchange_plus_plus(
        payment_simulator: SimulatorServer):
    adyen = adyen_support.make_checkout(payment_simulator)
    adyen.pay(card("4111111111111111"), value=10_800, currency="USD")
    (entry,) = _ledger(payment_simulator, adyen.key)["entries"]
    assert (entry["currency"], entry["amount"]) == ("eur", 10_000)
    assert (entry["original_currency"], entry["original_amount"]) == ("usd", 10_800)
    assert [f["type"] for f in entry["fee_details"]] == [
        "interchange", "scheme_fee", "markup", "commission"]
    assert entry["fee"] == sum(f["amount"] for f in entry["fee_details"])


def test_a_pricing_file_of_ones_own_prices_the_ledger(tmp_path: Path):
    mine = tmp_path / "pricing.yaml"
    mine.write_text("stripe:\n  model: blended\n  percent: 1.2\n  fixed: {eur: 10}\n"
                    "  settlement: {currency: eur, delay_days: 7, country: DE}\n")
    sim = SimulatorServer(Settings(pricing=str(mine)))
    sim.start()
    try:
        key = "sk_test_own_pricing"
        client = stripe.StripeClient(key, base_addresses={"api": sim.url("stripe")})
        client.v1.payment_intents.create(params={
            "amount": 10_000, "currency": "eur", "confirm": True,
            "payment_method": "pm_card_visa"})
        (entry,) = _ledger(sim, key)["entries"]
        assert (entry["currency"], entry["amount"], entry["fee"]) == ("eur", 10_000, 130)
        assert entry["available_on"] - entry["created"] > 6 * 86400
    finally:
        sim.stop()


def test_serve_refuses_a_bad_pricing_file_naming_each_problem(tmp_path: Path):
    bad = tmp_path / "pricing.yaml"
    bad.write_text("stripe: {model: blended, percent: 2.9}\n")
    res = subprocess.run([sys.executable, "-m", "paysandbox", "serve", "--port", "0",
                          "--pricing", str(bad)], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ))
    assert res.returncode == 2
    assert "pricing" in res.stderr and "$.stripe" in res.stderr
