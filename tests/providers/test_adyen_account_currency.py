"""A pricing file of one's own (`--pricing`) settles one Adyen merchant account in GBP
and another, on the same API key, in EUR a day sooner: payments made with the official
SDK are converted at the rates table and rounded to pence in the GBP account's
settlement details report and in the admin ledger, each merchant account's batch closes
on its own day, and REPORT_AVAILABLE names the report on the `--public-url` address."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import Adyen
import pytest
import requests

from paysandbox.settings import Settings, SettingsError
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import HMAC_KEY, Receiver, card, make_checkout

receiver = adyen_support.receiver

PUBLIC = "http://payments-sandbox.test:8080"
USER = "report@Company.TestCompany"
KEY = "AQE_two_merchant_accounts"
PRICING = """\
adyen:
  model: interchange_plus_plus
  interchange: {credit: 0.3, debit: 0.2}
  scheme_fee_percent: 0.1
  markup_percent: 0.6
  commission: {eur: 13, gbp: 11}
  dispute_fee: 1500
  settlement: {currency: eur, delay_days: 2, country: NL}
  accounts:
    ShopUK_ECOM: {currency: gbp}
    ShopNL_ECOM: {currency: eur, delay_days: 1}
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorServer]:
    pricing = tmp_path_factory.mktemp("pricing") / "pricing.yaml"
    pricing.write_text(PRICING)
    server = SimulatorServer(Settings(pricing=str(pricing), public_url=PUBLIC))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def configured(sim: SimulatorServer, receiver: Receiver) -> Iterator[Receiver]:
    sim.reset()
    sim.admin("PUT", "/webhooks/adyen", {"url": receiver.url, "secret": HMAC_KEY})
    try:
        yield receiver
    finally:
        sim.admin("DELETE", "/webhooks/adyen")


def _announced(rx: Receiver, account: str) -> dict:
    def arrived(got: list) -> bool:
        return any(n.item["eventCode"] == "REPORT_AVAILABLE"
                   and n.item["merchantAccountCode"] == account for n in got)
    assert rx.wait_for(arrived), rx.items()
    (n,) = [n for n in rx.received if n.item["eventCode"] == "REPORT_AVAILABLE"
            and n.item["merchantAccountCode"] == account]
    assert Adyen.util.is_valid_hmac_notification(n.json(), HMAC_KEY)
    return n.item


def _report(sim: SimulatorServer, url: str) -> list[dict[str, str]]:
    assert url.startswith(PUBLIC + "/adyen/reports/download/MerchantAccount/"), url
    got = requests.get(sim.base_url + urlsplit(url).path, auth=(USER, KEY), timeout=10)
    assert got.status_code == 200, got.text
    return list(csv.DictReader(io.StringIO(got.text)))


def _pence(value: str) -> int:
    return int(Decimal(value or "0") * 100)


def test_one_merchant_account_settles_in_gbp_another_in_eur(
        sim: SimulatorServer, configured: Receiver):
    uk = make_checkout(sim, KEY, merchant="ShopUK_ECOM")
    nl = make_checkout(sim, KEY, merchant="ShopNL_ECOM")
    in_euros = uk.pay(card(), value=10_000)["pspReference"]
    in_dollars = uk.pay(card(), value=1_001, currency="USD")["pspReference"]
    at_home = nl.pay(card(), value=10_000)["pspReference"]

    sim.advance_clock("1d")  # ShopNL_ECOM's delay: one day; ShopUK_ECOM's: the default two
    nl_item = _announced(configured, "ShopNL_ECOM")
    assert nl_item["amount"] == {"currency": "EUR", "value": 0}
    (settled, payout) = _report(sim, nl_item["reason"])
    assert settled["Psp Reference"] == at_home and payout["Type"] == "MerchantPayout"
    assert payout["Net Debit (NC)"] == settled["Net Credit (NC)"]
    assert (settled["Gross Currency"], settled["Net Currency"], settled["Exchange Rate"]) \
        == ("EUR", "EUR", "1")
    assert settled["Commission (NC)"] == "0.13"
    assert not any(n.item["merchantAccountCode"] == "ShopUK_ECOM"
                   for n in configured.received if n.item["eventCode"] == "REPORT_AVAILABLE")

    sim.advance_clock("1d")
    uk_item = _announced(configured, "ShopUK_ECOM")
    assert uk_item["pspReference"] == "settlement_detail_report_batch_1.csv"
    assert uk_item["amount"] == {"currency": "GBP", "value": 0}
    lines = {r["Psp Reference"]: r for r in _report(sim, uk_item["reason"])}
    # rates.yaml: 0.85 GBP and 1.08 USD per EUR
    euros = lines[in_euros]
    assert (euros["Gross Currency"], euros["Gross Credit (GC)"]) == ("EUR", "100.00")
    assert (euros["Net Currency"], euros["Exchange Rate"]) == ("GBP", "0.85")
    fees = {c: _pence(euros[c]) for c in ("Interchange (NC)", "Scheme Fees (NC)",
                                          "Markup (NC)", "Commission (NC)")}
    # on 85.00 GBP: 0.3% 25.5p -> 26p, 0.1% 8.5p -> 9p, 0.6% 51p, and the GBP commission
    assert fees == {"Interchange (NC)": 26, "Scheme Fees (NC)": 9, "Markup (NC)": 51,
                    "Commission (NC)": 11}
    assert _pence(euros["Net Credit (NC)"]) == 8_500 - sum(fees.values())
    dollars = lines[in_dollars]
    assert (dollars["Gross Currency"], dollars["Gross Credit (GC)"]) == ("USD", "10.01")
    gross = 788  # 1001 cents * 0.85 / 1.08 = 787.8 pence, rounded
    assert _pence(dollars["Net Credit (NC)"]) + sum(
        _pence(dollars[c]) for c in fees) == gross
    assert _pence(lines[""]["Net Debit (NC)"]) == \
        _pence(euros["Net Credit (NC)"]) + _pence(dollars["Net Credit (NC)"])

    # The sandbox's truth says the same: one account per merchant account, each in its
    # own currency
    ledger = sim.admin("GET", f"/ledger?namespace={KEY}")
    accounts = {a["sub_account"]: a for a in ledger["accounts"]}
    assert sorted(accounts) == ["ShopNL_ECOM", "ShopUK_ECOM"]
    assert [(p["currency"], p["amount"]) for p in accounts["ShopUK_ECOM"]["payouts"]] == \
        [("gbp", _pence(lines[""]["Net Debit (NC)"]))]
    assert [p["currency"] for p in accounts["ShopNL_ECOM"]["payouts"]] == ["eur"]
    by_payment = {e["payment"]: e for e in ledger["entries"]}
    assert (by_payment[in_dollars]["currency"], by_payment[in_dollars]["amount"],
            by_payment[in_dollars]["original_amount"]) == ("gbp", gross, 1_001)
    assert by_payment[at_home]["currency"] == "eur"

    # and as CSV, for a reconciliation job per merchant account
    res = subprocess.run([sys.executable, "-m", "paysandbox", "ledger", "export", "--url",
                          sim.base_url, "--namespace", KEY], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    exported = {r["payment"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert {(r["sub_account"], r["currency"]) for r in exported.values()} == {
        ("ShopUK_ECOM", "gbp"), ("ShopNL_ECOM", "eur")}
    assert (exported[in_dollars]["amount"], exported[in_dollars]["exchange_rate"]) == \
        (str(gross), "0.787037")


def test_settings_refuse_an_account_whose_currency_has_no_commission(tmp_path: Path):
    bad = tmp_path / "pricing.yaml"
    bad.write_text(PRICING.replace("{eur: 13, gbp: 11}", "{eur: 13}"))
    with pytest.raises(SettingsError, match=r"ShopUK_ECOM\.currency: gbp has no commission"):
        Settings(pricing=str(bad))
