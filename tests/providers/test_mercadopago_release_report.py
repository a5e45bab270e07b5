"""Mercado Pago's Released money report, called as its documentation shows (the
official Python SDK has no reports client): a card payment and a partial refund, the
clock past pricing.yaml's `mercadopago` settlement delay, a report asked for with POST,
found in the list and downloaded by its file name as CSV, its rows parsed with the
documented columns and checked against the pricing's numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pytest
import requests
import yaml

from paysandbox.testing.server import SimulatorServer
from tests.providers.mercadopago_sdk import new_token, ok, sdk

PRICING = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))["mercadopago"]
CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123", "cardholder": {
            "name": "APRO", "identification": {"type": "CPF", "number": "12345678909"}}}
PAYER = {"email": "buyer@testuser.com",
         "identification": {"type": "CPF", "number": "19119119100"}}
COLUMNS = ["DATE", "SOURCE_ID", "EXTERNAL_REFERENCE", "RECORD_TYPE", "DESCRIPTION",
           "NET_CREDIT_AMOUNT", "NET_DEBIT_AMOUNT", "GROSS_AMOUNT", "MP_FEE_AMOUNT",
           "FINANCING_FEE_AMOUNT", "SHIPPING_FEE_AMOUNT", "TAXES_AMOUNT", "COUPON_AMOUNT",
           "INSTALLMENTS", "PAYMENT_METHOD"]


def fee(cents: int) -> int:
    return int((Decimal(cents) * Decimal(str(PRICING["percent"])) / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP)) + PRICING["fixed"]["brl"]


def reais(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


class Reports:
    """The report endpoints as Mercado Pago's docs call them: a bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base + "/v1/account/release_report"
        self.headers = {"Authorization": f"Bearer {token}"}

    def create(self, body: dict[str, Any]) -> requests.Response:
        return requests.post(self.base, json=body, headers=self.headers, timeout=10)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, headers=self.headers, timeout=10)


@pytest.fixture
def token() -> str:
    return new_token()


@pytest.fixture
def reports(payment_simulator: SimulatorServer, token: str) -> Reports:
    return Reports(payment_simulator.url("mercadopago"), token)


def test_a_report_lists_the_release_the_refund_and_the_payout(
        payment_simulator: SimulatorServer, token: str, reports: Reports):
    mp = sdk(payment_simulator.url("mercadopago"), token)
    card = ok(mp.card_token().create(CARD), 201)
    paid = ok(mp.payment().create({
        "transaction_amount": 200, "token": card["id"], "installments": 1,
        "payment_method_id": "master", "payer": PAYER, "external_reference": "order-7"}), 201)
    ok(mp.refund().create(paid["id"], {"amount": 50}), 201)
    created = datetime.fromisoformat(paid["date_created"])
    payment_simulator.advance_clock(f"{PRICING['settlement']['delay_days'] + 1}d")

    begin = (created - timedelta(hours=1)).astimezone(UTC)
    end = created.astimezone(UTC) + timedelta(days=PRICING["settlement"]["delay_days"] + 1)
    answer = reports.create({"begin_date": begin.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "end_date": end.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert answer.status_code == 202, answer.text
    made = answer.json()
    assert made["file_name"].startswith("release-report-") and made["created_from"] == "manual"
    listed = reports.get("/list").json()
    assert [r["file_name"] for r in listed] == [made["file_name"]]

    download = reports.get("/" + made["file_name"])
    assert download.status_code == 200 and download.headers["Content-Type"].startswith(
        "text/csv")
    reader = csv.DictReader(io.StringIO(download.text))
    assert reader.fieldnames == COLUMNS
    rows = [(r["DESCRIPTION"], r["SOURCE_ID"], r["NET_CREDIT_AMOUNT"], r["NET_DEBIT_AMOUNT"],
             r["GROSS_AMOUNT"], r["MP_FEE_AMOUNT"]) for r in reader]
    pid = str(paid["id"])
    net = 20_000 - fee(20_000)
    assert rows[:2] == [
        ("refund", pid, "0.00", "50.00", "50.00", "0.00"),
        ("payment", pid, reais(net), "0.00", "200.00", reais(fee(20_000)))]
    (payout,) = rows[2:]
    assert (payout[0], payout[3]) == ("payout", reais(net - 5_000))
    # the sandbox's own books agree
    (account,) = payment_simulator.admin("GET", f"/ledger?namespace={token}")["accounts"]
    assert [p["amount"] for p in account["payouts"]] == [net - 5_000]
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]


@pytest.mark.parametrize(("body", "field"), [
    ({"begin_date": "2026-01-01T00:00:00Z"}, "end_date"),
    ({"begin_date": "yesterday", "end_date": "2026-01-02T00:00:00Z"}, "begin_date"),
    ({"begin_date": "2026-01-02T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
     "end_date"),
    ({"begin_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-02T00:00:00Z",
      "colour": "red"}, "colour"),
])
def test_a_bad_period_is_mercado_pagos_400(reports: Reports, body: dict[str, Any],
                                            field: str):
    answer = reports.create(body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == 400 and field in answer.text


def test_an_unknown_file_is_mercado_pagos_404(reports: Reports):
    answer = reports.get("/release-report-1-2026-01-01-000000.csv")
    assert answer.status_code == 404 and answer.json()["status"] == 404
