"""Razorpay settlements on the official SDK (`client.settlement.all`, `fetch`, `report`):
captured UPI payments, a refund and a chargeback settle as one settlement on the
virtual clock, its fees and GST priced by pricing.yaml's `razorpay` numbers, announced
with a signed `settlement.processed`, and the combined recon lists what it paid; bad
filters and unknown ids get Razorpay's own 400."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pytest
import razorpay
import yaml
from razorpay.errors import BadRequestError

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.razorpay_helpers import collect, order, wait_status

pytest_plugins = ["tests.providers.razorpay_fixtures"]

PRICING = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))["razorpay"]


def half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def tax(amount: int) -> int:
    """The GST pricing.yaml puts on Razorpay's fee for a domestic payment of `amount`."""
    base = half_up(amount * Decimal(str(PRICING["percent"])) / 100) + PRICING["fixed"]["inr"]
    return half_up(base * Decimal(str(PRICING["tax_percent"])) / 100)


def fee(amount: int) -> int:
    """What pricing.yaml says Razorpay charges for a domestic payment of `amount`, its
    tax included (as Razorpay's `fee` includes it)."""
    base = half_up(amount * Decimal(str(PRICING["percent"])) / 100) + PRICING["fixed"]["inr"]
    return base + tax(amount)


def paid(rzp: razorpay.Client, sim: SimulatorServer, amount: int) -> str:
    pid = collect(rzp, order(rzp, amount))
    sim.advance_clock(5)
    assert wait_status(rzp, pid, "captured")["status"] == "captured"
    return pid


def day_of(ts: int) -> dict[str, int]:
    t = time.gmtime(ts)
    return {"year": t.tm_year, "month": t.tm_mon, "day": t.tm_mday}


@pytest.fixture
def settled(rzp: razorpay.Client, payment_simulator: SimulatorServer) -> dict[str, Any]:
    """Two payments, a refund of one and a chargeback on the other, then the days until
    the payments are available (pricing.yaml's delay_days) and one more."""
    big, small = paid(rzp, payment_simulator, 50_000), paid(rzp, payment_simulator, 20_000)
    refund = rzp.payment.refund(big, {"amount": 5_000})
    state = payment_simulator.admin("POST", f"/payments/{small}/dispute",
                                    {"reason": "fraudulent"})
    assert rzp.settlement.all()["items"] == []  # nothing is available yet
    payment_simulator.advance_clock(f"{PRICING['settlement']['delay_days'] + 1}d")
    return {"big": big, "small": small, "refund": refund["id"],
            "dispute": state["disputes"][-1]["id"]}


def test_one_settlement_pays_what_became_available_less_the_pricings_fees(
        rzp: razorpay.Client, settled: dict[str, Any], payment_simulator: SimulatorServer):
    (s,) = rzp.settlement.all({"count": 10})["items"]
    fees = fee(50_000) + fee(20_000)
    net = 50_000 + 20_000 - fees - 5_000 - 20_000
    assert (s["entity"], s["status"], s["amount"], s["fees"], s["tax"]) == (
        "settlement", "processed", net, fees, tax(50_000) + tax(20_000))
    assert s["tax"] > 0
    assert s["id"].startswith("setl_") and len(s["id"]) == 19 and s["utr"]
    assert rzp.settlement.fetch(s["id"]) == s
    # the sandbox's own books agree
    (account,) = payment_simulator.admin("GET", f"/ledger?namespace={rzp.auth[0]}")[
        "accounts"]
    assert [p["amount"] for p in account["payouts"]] == [net]
    # from/to filter on created_at
    assert rzp.settlement.all({"from": s["created_at"] + 1})["items"] == []
    assert rzp.settlement.all({"to": s["created_at"]})["items"] == [s]
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]  # every answer kept its contract


def test_the_combined_recon_lists_each_transaction_of_the_settlement(
        rzp: razorpay.Client, settled: dict[str, Any], payment_simulator: SimulatorServer):
    (s,) = rzp.settlement.all()["items"]
    recon = rzp.settlement.report({**day_of(s["created_at"]), "count": 100})
    assert recon["entity"] == "collection" and recon["count"] == 4
    rows = {r["entity_id"] if r["type"] != "adjustment" else "adj": r
            for r in recon["items"]}
    big, small = rows[settled["big"]], rows[settled["small"]]
    assert (big["type"], big["amount"], big["fee"], big["tax"], big["credit"],
            big["debit"]) == ("payment", 50_000, fee(50_000), tax(50_000), 50_000 - fee(50_000),
                              0)
    assert small["credit"] == 20_000 - fee(20_000) and small["payment_id"] is None
    refund = rows[settled["refund"]]
    assert (refund["type"], refund["debit"], refund["credit"], refund["payment_id"]) == (
        "refund", 5_000, 0, settled["big"])
    adj = rows["adj"]
    assert (adj["debit"], adj["dispute_id"], adj["payment_id"]) == (
        20_000 + PRICING["dispute_fee"], settled["dispute"], settled["small"])
    assert adj["entity_id"].startswith("adj_")
    for r in recon["items"]:
        assert (r["settlement_id"], r["settlement_utr"], r["settled_at"], r["settled"],
                r["currency"]) == (s["id"], s["utr"], s["created_at"], True, "INR")
        assert r["order_id"].startswith("order_") and r["method"] == "upi"
    assert sum(r["credit"] - r["debit"] for r in recon["items"]) == s["amount"]
    # the whole month holds the same rows; another day holds none; paging is bounded
    month = day_of(s["created_at"])
    del month["day"]
    assert rzp.settlement.report({**month, "count": 100})["items"] == recon["items"]
    assert rzp.settlement.report({**day_of(s["created_at"] - 86400)})["items"] == []
    assert len(rzp.settlement.report({**day_of(s["created_at"]), "count": 2,
                                      "skip": 3})["items"]) == 1
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]


@pytest.mark.parametrize(("query", "field"), [
    ({"month": 1}, "year"),
    ({"year": 2026}, "month"),
    ({"year": 2026, "month": 13}, "month"),
    ({"year": 2026, "month": 2, "day": 30}, "day"),
    ({"year": 2026, "month": 1, "count": 1001}, "count"),
    ({"year": "soon", "month": 1}, "year"),
    ({"year": 2026, "month": 1, "status": "processed"}, "status"),
])
def test_a_bad_recon_filter_is_razorpays_400_naming_it(
        rzp: razorpay.Client, query: dict[str, Any], field: str):
    with pytest.raises(BadRequestError) as err:
        rzp.settlement.report(query)
    assert field in str(err.value)


def test_an_unknown_settlement_and_a_bad_list_filter_are_razorpays_400(
        rzp: razorpay.Client):
    with pytest.raises(BadRequestError, match="The id provided does not exist"):
        rzp.settlement.fetch("setl_00000000000000")
    for bad in ({"count": 101}, {"count": 0}, {"skip": -1}, {"from": "yesterday"}):
        with pytest.raises(BadRequestError):
            rzp.settlement.all(bad)


SECRET = "whsec-razorpay-settlements"


def test_settlement_processed_is_sent_signed_once_when_the_settlement_is_made(
        rzp: razorpay.Client, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    payment_simulator.admin("PUT", "/webhooks/razorpay",
                            {"url": hook_server.url, "secret": SECRET})
    paid(rzp, payment_simulator, 30_000)

    def announced(got: list[Any]) -> list[Any]:
        return [r for r in got if r.json()["event"] == "settlement.processed"]

    payment_simulator.advance_clock(f"{PRICING['settlement']['delay_days'] - 1}d")
    assert rzp.settlement.all()["items"] == []  # not yet made: nothing was announced
    assert announced(hook_server.received) == []
    payment_simulator.advance_clock("1d")
    assert hook_server.wait_for(lambda got: len(announced(got)) >= 1)
    payment_simulator.advance_clock("3d")  # its arrival at the bank sends nothing more
    (sent,) = announced(hook_server.received)
    body = sent.body.decode()
    assert rzp.utility.verify_webhook_signature(body, sent.headers["X-Razorpay-Signature"],
                                                SECRET)
    (s,) = rzp.settlement.all()["items"]
    event = sent.json()
    assert (event["contains"], event["payload"]["settlement"]["entity"]) == (
        ["settlement"], s)
    assert (s["amount"], s["fees"], s["tax"]) == (30_000 - fee(30_000), fee(30_000),
                                                  tax(30_000))
    assert sent.headers["X-Razorpay-Event-Id"].startswith("evt_")
    deliveries = payment_simulator.client.deliveries(provider="razorpay")
    assert [d["event_type"] for d in deliveries].count("settlement.processed") == 1
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]
