"""Adyen's Settlement details report: payments made with the official SDK (a capture, a
refund, a chargeback by its test holder name) close into settlement batch 1 when the
virtual clock reaches their payout; the batch's CSV, downloaded as a report user does
(requests, HTTP Basic) and read with the csv module, has Adyen's columns in their order,
a line per entry the batch paid, with the interchange++ costs of the pricing file, and
a MerchantPayout line that balances it; a settlement scenario's discrepancies show in it.
A batch not yet closed, another merchant account, another file and the wrong
credentials are refused in Adyen's envelope."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pytest
import requests
import yaml

from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import Checkout, card

adyen = adyen_support.adyen

COLUMNS = [
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
    "Payment Method", "Creation Date", "TimeZone", "Type", "Modification Reference",
    "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Exchange Rate",
    "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)",
    "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant",
    "Modification Merchant Reference", "Batch Number", "Reserved4", "Reserved5",
    "Reserved6", "Reserved7", "Reserved8", "Reserved9", "Reserved10"]
PRICING = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))["adyen"]
USER = "report@Company.TestCompany"


def _cents(amount: int, percent: Any) -> Decimal:
    """`percent` of `amount` cents, rounded half up to a cent, in euros."""
    cents = (Decimal(amount) * Decimal(str(percent)) / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP)
    return cents / 100


def costs(amount: int, funding: str) -> dict[str, Decimal]:
    """Interchange++ of a domestic card payment of `amount` euro cents, from the
    pricing file's numbers."""
    return {"Interchange (NC)": _cents(amount, PRICING["interchange"][funding]),
            "Scheme Fees (NC)": _cents(amount, PRICING["scheme_fee_percent"]),
            "Markup (NC)": _cents(amount, PRICING["markup_percent"]),
            "Commission (NC)": Decimal(PRICING["commission"]["eur"]) / 100}


def report_url(sim: SimulatorServer, account: str, batch: int | str) -> str:
    return (sim.url("adyen") + f"/reports/download/MerchantAccount/{account}/"
            f"settlement_detail_report_batch_{batch}.csv")


def download(sim: SimulatorServer, checkout: Checkout, batch: int | str = 1, *,
             account: str | None = None, user: str = USER,
             password: str | None = None) -> requests.Response:
    return requests.get(report_url(sim, account or checkout.merchant, batch),
                        auth=(user, checkout.key if password is None else password),
                        timeout=10)


def rows(response: requests.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text))
    return list(reader.fieldnames or []), list(reader)


def money(value: str) -> Decimal:
    return Decimal(value) if value else Decimal(0)


def test_batch_one_lists_what_its_payout_paid_with_interchange_plus_plus(
        payment_simulator: SimulatorServer, adyen: Checkout):
    sold = adyen.pay(card("4111111111111111"), value=10_000, reference="order-credit")
    refund = adyen.modifications.refund_captured_payment(
        {"amount": {"currency": "EUR", "value": 2_000}, "merchantAccount": adyen.merchant},
        sold["pspReference"]).message
    disputed = adyen.pay(card("4400000000000008", holder="CHARGEBACK"), value=5_000,
                         reference="order-debit")
    payment_simulator.advance_clock("1h")  # the chargeback opens
    closed = download(payment_simulator, adyen)
    assert closed.status_code == 404  # the batch has not closed: no payout yet
    assert closed.json()["status"] == 404

    payment_simulator.advance_clock("3d")  # available after two days, paid out that day
    header, lines = rows(download(payment_simulator, adyen))
    assert header == COLUMNS
    by_type: dict[tuple[str, str], dict[str, str]] = {
        (r["Type"], r["Psp Reference"]): r for r in lines}
    assert sorted(by_type) == sorted([
        ("Settled", sold["pspReference"]), ("Settled", disputed["pspReference"]),
        ("Refunded", sold["pspReference"]), ("Chargeback", disputed["pspReference"]),
        ("MerchantPayout", "")])
    assert lines[-1]["Type"] == "MerchantPayout"
    assert {r["Company Account"] for r in lines} == {"TestCompany"}
    assert {r["Merchant Account"] for r in lines} == {adyen.merchant}
    assert {r["Batch Number"] for r in lines} == {"1"}

    for psp, amount, funding, ref in ((sold["pspReference"], 10_000, "credit",
                                       "order-credit"),
                                      (disputed["pspReference"], 5_000, "debit",
                                       "order-debit")):
        settled = by_type[("Settled", psp)]
        expected = costs(amount, funding)
        assert {c: money(settled[c]) for c in expected} == expected
        gross = Decimal(amount) / 100
        assert (settled["Gross Currency"], money(settled["Gross Credit (GC)"]),
                settled["Gross Debit (GC)"], settled["Exchange Rate"]) == \
            ("EUR", gross, "", "1")
        assert money(settled["Net Credit (NC)"]) == gross - sum(expected.values())
        assert settled["Net Currency"] == "EUR" and settled["Merchant Reference"] == ref
        assert settled["Payment Method"] == "visa"
        assert settled["Payment Method Variant"] == f"visa{funding}"
        assert settled["TimeZone"] == "UTC" and len(settled["Modification Reference"]) == 16

    refunded = by_type[("Refunded", sold["pspReference"])]
    assert refunded["Modification Reference"] == refund["pspReference"]
    assert (money(refunded["Gross Debit (GC)"]), money(refunded["Net Debit (NC)"]),
            refunded["Gross Credit (GC)"]) == (Decimal("20.00"), Decimal("20.00"), "")

    chargeback = by_type[("Chargeback", disputed["pspReference"])]
    fee = Decimal(PRICING["dispute_fee"]) / 100  # Adyen books it as the line's Commission
    assert chargeback["Modification Reference"] not in ("", disputed["pspReference"])
    assert (money(chargeback["Gross Debit (GC)"]), money(chargeback["Commission (NC)"]),
            money(chargeback["Net Debit (NC)"])) == (Decimal("50.00"), fee,
                                                      Decimal("50.00") + fee)

    # The payout line pays out the batch: its net credits less its net debits
    payout = lines[-1]
    paid = sum(money(r["Net Credit (NC)"]) - money(r["Net Debit (NC)"]) for r in lines[:-1])
    assert paid > 0 and money(payout["Net Debit (NC)"]) == paid
    assert payout["Net Currency"] == "EUR" and payout["Psp Reference"] == ""

    # the same report again: nothing in it moves
    assert download(payment_simulator, adyen).text == download(payment_simulator, adyen).text
    nxt = download(payment_simulator, adyen, 2)
    assert nxt.status_code == 404 and "has not closed" in nxt.json()["message"]


def test_a_charge_in_dollars_shows_both_currencies_and_the_rate(
        payment_simulator: SimulatorServer, adyen: Checkout):
    paid = adyen.pay(card("4111111111111111"), value=10_800, currency="USD")
    payment_simulator.advance_clock("3d")
    _, (settled, payout) = rows(download(payment_simulator, adyen))
    assert settled["Psp Reference"] == paid["pspReference"]
    assert (settled["Gross Currency"], settled["Gross Credit (GC)"]) == ("USD", "108.00")
    rate = Decimal(settled["Exchange Rate"])
    gross_eur = (Decimal("108.00") * rate).quantize(Decimal("0.01"))
    fees = sum(money(settled[c]) for c in COLUMNS[16:20])
    assert settled["Net Currency"] == "EUR"
    assert money(settled["Net Credit (NC)"]) == gross_eur - fees
    assert money(payout["Net Debit (NC)"]) == money(settled["Net Credit (NC)"])


@pytest.mark.parametrize(("user", "password"), [
    (USER, "AQE_some_other_key"),  # another API key: its books have no such account
    ("ws@Company.TestCompany", None),  # a web-service user is not a report user
    (USER, ""),
])
def test_only_the_report_user_of_the_api_key_gets_the_report(
        payment_simulator: SimulatorServer, adyen: Checkout, user: str,
        password: str | None):
    adyen.pay(card("4111111111111111"))
    payment_simulator.advance_clock("3d")
    assert download(payment_simulator, adyen).status_code == 200
    refused = download(payment_simulator, adyen, user=user, password=password)
    assert refused.status_code == (404 if password else 401)
    assert refused.json()["errorType"] == ("validation" if password else "security")


def test_what_is_not_a_report_is_adyens_404_never_a_500(
        payment_simulator: SimulatorServer, adyen: Checkout):
    adyen.pay(card("4111111111111111"))
    payment_simulator.advance_clock("3d")
    base = payment_simulator.url("adyen") + "/reports/download/MerchantAccount/"
    for path in ("OtherMerchant/settlement_detail_report_batch_1.csv",
                 f"{adyen.merchant}/settlement_detail_report_batch_0.csv",
                 f"{adyen.merchant}/settlement_detail_report_batch_x.csv",
                 f"{adyen.merchant}/received_payments_report_2026_01_01.csv",
                 f"{adyen.merchant}/settlement_detail_report_batch_99999999999999.csv",
                 "%C3%A9t%C3%A9/settlement_detail_report_batch_1.csv",
                 f"{'x' * 300}/settlement_detail_report_batch_1.csv",
                 f"{adyen.merchant}/..%2F..%2Fsettlement_detail_report_batch_1.csv"):
        res = requests.get(base + path, auth=(USER, adyen.key), timeout=10)
        assert res.status_code == 404, path
        assert set(res.json()) == {"status", "errorCode", "message", "errorType",
                                   "pspReference"}
    odd = requests.get(report_url(payment_simulator, adyen.merchant, 1) + "?from=2026-01-01",
                       auth=(USER, adyen.key), timeout=10)
    assert 400 <= odd.status_code < 500 and odd.json()["status"] == odd.status_code
    none = requests.get(report_url(payment_simulator, adyen.merchant, 1), timeout=10)
    assert none.status_code == 401


def test_the_report_downloads_from_its_real_host(payment_simulator: SimulatorServer,
                                                 adyen: Checkout):
    adyen.pay(card("4111111111111111"))
    payment_simulator.advance_clock("3d")
    path = (f"/reports/download/MerchantAccount/{adyen.merchant}/"
            "settlement_detail_report_batch_1.csv")
    res = requests.get(payment_simulator.base_url + path, auth=(USER, adyen.key),
                       headers={"Host": "ca-test.adyen.com"}, timeout=10)
    header, lines = rows(res)
    assert header == COLUMNS and [r["Type"] for r in lines] == ["Settled", "MerchantPayout"]
    assert res.text == download(payment_simulator, adyen).text


def test_a_settlement_scenario_puts_its_discrepancies_in_the_report(
        payment_simulator: SimulatorServer, adyen: Checkout):
    by = 7
    drift = yaml.safe_load(resources.files("paysandbox.scenarios.ready").joinpath(
        "reconciliation-drift.yaml").read_text("utf-8"))
    drift["settlement"] = {"duplicated_line": 1, "fee_mismatch": {"share": 1, "by": by}}
    payment_simulator.use_scenario(drift)
    paid = adyen.pay(card("4111111111111111"), value=10_000)
    payment_simulator.advance_clock("3d")
    _, lines = rows(download(payment_simulator, adyen))
    assert [(r["Type"], r["Psp Reference"]) for r in lines] == [
        ("Settled", paid["pspReference"]), ("Settled", paid["pspReference"]),
        ("MerchantPayout", "")]
    expected = costs(10_000, "credit")
    expected["Interchange (NC)"] += Decimal(by) / 100  # over the pricing
    assert {c: money(lines[0][c]) for c in expected} == expected
    # the money moved once: the payout pays one line, so the batch does not balance
    assert money(lines[-1]["Net Debit (NC)"]) == money(lines[0]["Net Credit (NC)"])
