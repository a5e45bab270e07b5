"""Mollie's balance and settlements through the official SDK: payments paid at the test
checkout and a refund show on the primary balance and its transactions, priced by
pricing.yaml's per-method prices; once the virtual clock has passed the day the funds
became available, they are one settlement with its payments and refunds, paid out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from mollie.api.client import Client
from mollie.api.error import NotFoundError

from paysandbox.testing.server import SimulatorServer
from tests.providers import mollie_support as support
from tests.providers.mollie_support import create

DAY = 86_400


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


def _pricing() -> dict[str, Any]:
    """Mollie's part of the packaged pricing.yaml."""
    doc = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))
    mollie: dict[str, Any] = doc["mollie"]
    return mollie


def _fee(method: str, cents: int) -> int:
    """Mollie's fee for a payment, from the pricing's own numbers."""
    methods = _pricing()["methods"]
    price = methods.get(method, methods["default"])
    percent = Decimal(str(price.get("percent", 0))) * cents / 100
    return int(percent.quantize(Decimal(1), rounding=ROUND_HALF_UP)) + \
        price.get("fixed", {}).get("eur", 0)


def _eur(cents: int) -> dict[str, str]:
    return {"value": f"{Decimal(cents).scaleb(-2):.2f}", "currency": "EUR"}


def _early_in_a_day(sim: SimulatorServer) -> None:
    """Move the clock to 01:00 UTC of the next day, so that what a test does falls on one
    day, however long it runs."""
    now = sim.admin("GET", "/clock")["now"]
    sim.advance_clock((now // DAY + 1) * DAY + 3600 - now)


def _paid(mollie: Client, sim: SimulatorServer, method: str, value: str) -> Any:
    p = create(mollie, method=method, amount={"currency": "EUR", "value": value})
    sim.client.complete(p.id, "success")
    return mollie.payments.get(p.id)


def test_paid_payments_and_a_refund_on_the_balance_then_one_settlement(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    _early_in_a_day(payment_simulator)
    ideal = _paid(mollie, payment_simulator, "ideal", "10.00")
    card = _paid(mollie, payment_simulator, "creditcard", "20.00")
    refund = card.refunds.create({"amount": {"currency": "EUR", "value": "5.00"}})
    ideal_fee, card_fee = _fee("ideal", 1000), _fee("creditcard", 2000)
    pending = 1000 - ideal_fee + 2000 - card_fee

    balance = mollie.balances.get("primary")
    assert balance.resource == "balance" and balance.id.startswith("bal_")
    assert (balance.currency, balance.status, balance.transfer_frequency) == \
        ("EUR", "active", "daily")
    assert balance.pending_amount == _eur(pending)  # available the next day
    assert balance.available_amount == _eur(-500)  # a refund leaves at once
    assert mollie.balances.get(balance.id).id == balance.id
    assert [b.id for b in mollie.balances.list()] == [balance.id]

    txs = list(balance.get_transactions())
    assert [(t.type, t.initial_amount, t.deductions, t.result_amount, t.context)
            for t in txs] == [
        ("refund", _eur(-500), None, _eur(-500),
         {"paymentId": card.id, "refundId": refund.id}),
        ("payment", _eur(2000), _eur(-card_fee), _eur(2000 - card_fee),
         {"paymentId": card.id}),
        ("payment", _eur(1000), _eur(-ideal_fee), _eur(1000 - ideal_fee),
         {"paymentId": ideal.id})]
    assert all(t.id.startswith("baltr_") for t in txs)
    first = balance.get_transactions(limit=2)
    assert [t.id for t in first] == [t.id for t in txs[:2]] and first.has_next()
    assert [t.id for t in first.get_next()] == [txs[2].id]

    assert list(mollie.settlements.list()) == []
    upcoming = mollie.settlements.get("next")
    assert (upcoming.id, upcoming.status, upcoming.reference) == ("next", "open", None)
    assert upcoming.amount == _eur(pending - 500)
    assert mollie.settlements.get("open").amount == _eur(pending - 500)

    payment_simulator.advance_clock("2d")  # available the next day, arrived the day after

    (settlement,) = mollie.settlements.list()
    assert settlement.id.startswith("stl_")
    assert re.fullmatch(r"\d{7}\.\d{4}\.01", settlement.reference)
    assert settlement.status == "paidout" and settlement.settled_at is not None
    assert settlement.amount == _eur(pending - 500)
    months = [m for year in settlement.periods.values() for m in year.values()]
    revenue = sorted((r["description"], r["method"], r["count"], r["amountGross"]["value"])
                     for m in months for r in m["revenue"])
    assert revenue == [("Card", "creditcard", 1, "20.00"), ("Refunds Card", "refund", 1,
                                                            "-5.00"),
                       ("iDEAL", "ideal", 1, "10.00")]
    costs = sorted((c["method"], c["count"], c["amountGross"]) for m in months
                   for c in m["costs"])
    assert costs == [("creditcard", 1, _eur(card_fee)), ("ideal", 1, _eur(ideal_fee))]
    assert {p.id for p in settlement.payments.list()} == {ideal.id, card.id}
    assert [r.id for r in settlement.refunds.list()] == [refund.id]
    assert list(settlement.chargebacks.list()) == []
    assert mollie.settlements.get(settlement.reference).id == settlement.id

    after = mollie.balances.get("primary")
    assert after.available_amount == _eur(0) and after.pending_amount == _eur(0)
    transfer = next(iter(after.get_transactions()))
    assert transfer.type == "outgoing-transfer"
    assert transfer.result_amount == _eur(-(pending - 500))
    assert transfer.context["settlementId"] == settlement.id
    with pytest.raises(NotFoundError):  # nothing is waiting to be paid out
        mollie.settlements.get("next")


def test_a_settlement_is_pending_until_it_arrives(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    _early_in_a_day(payment_simulator)
    _paid(mollie, payment_simulator, "bancontact", "12.34")
    payment_simulator.advance_clock("1d")  # 01:00 the next day: paid out, not arrived
    (settlement,) = mollie.settlements.list()
    assert (settlement.status, settlement.settled_at) == ("pending", None)
    assert settlement.amount == _eur(1234 - _fee("bancontact", 1234))


def test_another_key_sees_none_of_it(mollie: Client,
                                     payment_simulator: SimulatorServer) -> None:
    _paid(mollie, payment_simulator, "ideal", "10.00")
    other = support.client(payment_simulator)
    assert other.balances.get("primary").pending_amount == _eur(0)
    assert other.balances.get("primary").id != mollie.balances.get("primary").id
    payment_simulator.advance_clock("2d")
    assert list(other.settlements.list()) == []


def test_unknown_ids_are_mollie_s_404(mollie: Client) -> None:
    with pytest.raises(NotFoundError, match="No balance exists with token bal_nope"):
        mollie.balances.get("bal_nope")
    with pytest.raises(NotFoundError, match="No settlement exists"):
        mollie.settlements.get("stl_nope")
    with pytest.raises(NotFoundError):
        mollie.settlements.get("open")


@pytest.mark.parametrize(("path", "field"), [
    ("/balances/primary/transactions?limit=251", "limit"),
    ("/balances/primary/transactions?from=baltr_nope", "from"),
    ("/settlements?limit=0", "limit"),
    ("/settlements?expand=payments", "expand"),
    ("/balances?currency=euro", "currency"),
])
def test_bad_filters_are_mollie_s_400(payment_simulator: SimulatorServer, path: str,
                                      field: str) -> None:
    res = requests.get(f"{payment_simulator.url('mollie')}/v2{path}", timeout=10,
                       headers={"Authorization": f"Bearer {support.new_key()}"})
    assert res.status_code == 400, res.text
    body = res.json()
    assert (body["status"], body["title"], body["field"]) == (400, "Bad Request", field)
    assert body["_links"]["documentation"]["href"].startswith("https://docs.mollie.com/")


def test_a_payout_the_bank_refuses_is_a_failed_settlement_and_back_on_the_balance(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    # (a scenario needs rules, phases or webhooks besides its `settlement:`)
    payment_simulator.client.use_scenario({"name": "refused-payouts",
                                           "settlement": {"failed_payout": 1},
                                           "webhooks": {"duplicate": 0}})
    _early_in_a_day(payment_simulator)
    _paid(mollie, payment_simulator, "ideal", "10.00")
    payment_simulator.advance_clock("2d")

    (settlement,) = mollie.settlements.list()
    net = 1000 - _fee("ideal", 1000)
    assert (settlement.status, settlement.amount) == ("failed", _eur(net))
    assert mollie.balances.get("primary").available_amount == _eur(net)
    returned, sent = list(mollie.balances.get("primary").get_transactions())[:2]
    assert (returned.type, returned.result_amount) == ("returned-transfer", _eur(net))
    assert (sent.type, sent.result_amount) == ("outgoing-transfer", _eur(-net))
    assert returned.context["settlementId"] == settlement.id


def test_lines_left_out_or_listed_twice_show_in_the_transactions_and_settlements(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    _early_in_a_day(payment_simulator)
    left_out = _paid(mollie, payment_simulator, "ideal", "10.00")
    payment_simulator.client.use_scenario({"name": "drift",
                                           "settlement": {"missing_line": 1},
                                           "webhooks": {"duplicate": 0}})
    payment_simulator.advance_clock("2d")

    (settlement,) = mollie.settlements.list()  # paid out, its payment not listed
    assert settlement.amount == _eur(1000 - _fee("ideal", 1000))
    assert list(settlement.payments.list()) == []
    assert [t.type for t in mollie.balances.get("primary").get_transactions()] == \
        ["outgoing-transfer"]
    assert left_out.id not in {t.context.get("paymentId")
                               for t in mollie.balances.get("primary").get_transactions()}

    payment_simulator.client.use_scenario({"name": "drift",
                                           "settlement": {"duplicated_line": 1},
                                           "webhooks": {"duplicate": 0}})
    listed = [t for t in mollie.balances.get("primary").get_transactions()
              if t.type == "payment"]
    assert [t.context["paymentId"] for t in listed] == [left_out.id, left_out.id]


def test_a_chargeback_and_its_fee_are_in_the_balance_and_the_settlement(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    _early_in_a_day(payment_simulator)
    kept = _paid(mollie, payment_simulator, "creditcard", "50.00")
    disputed = _paid(mollie, payment_simulator, "creditcard", "10.00")
    state = payment_simulator.admin("POST", f"/payments/{disputed.id}/dispute",
                                    {"reason": "fraudulent"})
    chargeback_id = state["disputes"][-1]["id"]
    dispute_fee = _pricing()["dispute_fee"]

    (chargeback,) = [t for t in mollie.balances.get("primary").get_transactions()
                     if t.type == "chargeback"]
    assert chargeback.context == {"paymentId": disputed.id, "chargebackId": chargeback_id}
    assert (chargeback.initial_amount, chargeback.deductions, chargeback.result_amount) == \
        (_eur(-1000), _eur(-dispute_fee), _eur(-1000 - dispute_fee))

    payment_simulator.advance_clock("2d")
    (settlement,) = mollie.settlements.list()
    assert settlement.amount == _eur(5000 - _fee("creditcard", 5000) + 1000
                                     - _fee("creditcard", 1000) - 1000 - dispute_fee)
    assert [c.id for c in settlement.chargebacks.list()] == [chargeback_id]
    assert {p.id for p in settlement.payments.list()} == {kept.id, disputed.id}
    costs = {c["method"]: c["amountGross"] for year in settlement.periods.values()
             for m in year.values() for c in m["costs"]}
    assert costs["chargeback"] == _eur(dispute_fee)


def _amsterdam_day(stamp: str, days: int = 0) -> str:
    at = datetime.fromisoformat(stamp).astimezone(ZoneInfo("Europe/Amsterdam"))
    return (at.date() + timedelta(days=days)).isoformat()


def test_the_balance_report_by_status_and_by_category(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    _early_in_a_day(payment_simulator)
    paid = _paid(mollie, payment_simulator, "ideal", "10.00")
    paid.refunds.create({"amount": {"currency": "EUR", "value": "2.00"}})
    fee = _fee("ideal", 1000)
    day = _amsterdam_day(paid.created_at)
    balance = mollie.balances.get("primary")

    report = balance.get_report(**{"from": day, "until": _amsterdam_day(paid.created_at, 1)})
    assert (report.resource, report.balance_id, report.time_zone, report.grouping) == \
        ("balance-report", balance.id, "Europe/Amsterdam", "status-balances")
    pending, available = (report.totals["pendingBalance"],
                          report.totals["availableBalance"])
    assert pending["open"]["amount"] == _eur(0)
    assert pending["pending"]["amount"] == pending["close"]["amount"] == _eur(1000 - fee)
    assert sorted((t["transactionType"], t["amount"]["value"], t["subtotals"])
                  for t in pending["pending"]["subtotals"]) == [
        ("fee-prepayment", _eur(-fee)["value"],
         [{"method": "ideal", "count": 1, "amount": _eur(-fee)}]),
        ("payment", "10.00", [{"method": "ideal", "count": 1, "amount": _eur(1000)}])]
    assert available["immediatelyAvailable"]["amount"] == available["close"]["amount"] \
        == _eur(-200)

    payment_simulator.advance_clock("2d")
    report = balance.get_report(**{"from": day, "until": _amsterdam_day(paid.created_at, 3),
                                   "grouping": "transaction-categories"})
    t = report.totals
    assert t["payments"]["pending"]["amount"] == t["payments"]["movedToAvailable"]["amount"] \
        == _eur(1000)
    assert t["fee-prepayments"]["movedToAvailable"]["amount"] == _eur(-fee)
    assert t["refunds"]["immediatelyAvailable"]["amount"] == _eur(-200)
    assert t["transfers"]["immediatelyAvailable"]["amount"] == _eur(-(1000 - fee - 200))
    assert t["close"] == {"pending": {"amount": _eur(0)}, "available": {"amount": _eur(0)}}


@pytest.mark.parametrize(("query", "field"), [
    ("until=2026-01-01", "from"), ("from=2026-01-02&until=2026-01-01", "until"),
    ("from=2026-02-30&until=2026-03-01", "from"),
    ("from=2026-01-01&until=2026-02-01&grouping=daily", "grouping")])
def test_a_report_s_bad_dates_are_mollie_s_400(payment_simulator: SimulatorServer,
                                               query: str, field: str) -> None:
    res = requests.get(f"{payment_simulator.url('mollie')}/v2/balances/primary/report?"
                       + query, timeout=10,
                       headers={"Authorization": f"Bearer {support.new_key()}"})
    assert (res.status_code, res.json()["field"]) == (400, field), res.text
