"""Stripe's Reporting API on the official SDK: a payout reconciliation report run for a
payout, its file retrieved and downloaded from the file's own url with the API key, and
its rows checked against the balance transactions that payout paid; the run announced by
`reporting.report_run.succeeded`; a scenario's missing lines missing from the report as
they are from the API; Stripe's errors for what a report cannot be run on."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
import requests
import stripe
import yaml

from paysandbox.testing.server import SimulatorServer
from tests.providers.test_stripe_balance import PRICING, lost_dispute, pay, transactions

ITEMIZED = "payout_reconciliation.itemized.5"
SETTLED = f"{PRICING['settlement']['delay_days'] + PRICING['settlement'].get('arrival_days', 1)}d"


def download(url: str, key: str) -> tuple[str, list[dict[str, str]]]:
    """A report file's text and rows, fetched as Stripe's docs say: the API key as the
    user name of Basic auth."""
    got = requests.get(url, auth=(key, ""), timeout=30)
    assert got.status_code == 200, got.text
    assert got.headers["Content-Type"].startswith("text/csv")
    return got.text, list(csv.DictReader(io.StringIO(got.text)))


def major(minor: int) -> Decimal:
    return Decimal(minor) / 100


def paid_payout(client: stripe.StripeClient) -> stripe.Payout:
    (payout,) = client.v1.payouts.list().data
    assert payout.status == "paid"
    return payout


def run_report(client: stripe.StripeClient, **parameters: Any) -> stripe.reporting.ReportRun:
    run = client.v1.reporting.report_runs.create(params={
        "report_type": ITEMIZED, "parameters": parameters})
    assert (run.status, run.result) == ("pending", None)
    done = client.v1.reporting.report_runs.retrieve(run.id)
    assert done.status == "succeeded" and done.succeeded_at is not None
    return done


def test_a_payout_reconciliation_report_lists_what_the_payout_paid(
        client: stripe.StripeClient, payment_simulator: SimulatorServer, stripe_key: str,
        webhook_receiver: Any) -> None:
    big, small = pay(client, 10_000), pay(client, 5_055)
    refund = client.v1.refunds.create(params={"payment_intent": small.id, "amount": 1_000})
    lost_dispute(client, payment_simulator)
    payment_simulator.advance_clock(SETTLED)
    payout = paid_payout(client)
    paid = [t for t in transactions(client, payout=payout.id) if t.type != "payout"]
    assert len(paid) == 5  # three charges, a refund, a chargeback

    run = run_report(client, payout=payout.id)
    assert run.report_type == ITEMIZED and run.parameters.payout == payout.id
    assert run.result is not None and run.result.purpose == "finance_report_run"
    file = client.v1.files.retrieve(run.result.id)
    assert (file.id, file.type, file.size) == (run.result.id, "csv", run.result.size)
    assert file.url is not None
    text, rows = download(file.url, stripe_key)
    assert len(text.encode()) == file.size

    by_id = {t.id: t for t in paid}
    assert sorted(r["balance_transaction_id"] for r in rows) == sorted(by_id)
    for row in rows:
        t = by_id[row["balance_transaction_id"]]
        assert (row["automatic_payout_id"], row["currency"]) == (payout.id, "usd")
        assert (Decimal(row["gross"]), Decimal(row["fee"]), Decimal(row["net"])) == (
            major(t.amount), major(t.fee), major(t.net))
        assert row["reporting_category"] == t.reporting_category
        assert row["source_id"] == t.source
    assert sum(Decimal(r["net"]) for r in rows) == major(payout.amount)
    categories = {r["source_id"]: r["reporting_category"] for r in rows}
    assert categories[str(big.latest_charge)] == "charge"
    assert categories[refund.id] == "refund"
    assert "dispute" in categories.values()
    assert next(r for r in rows if r["source_id"] == refund.id)["gross"] == "-10.00"

    event = webhook_receiver.wait_for("stripe", "reporting.report_run.succeeded")
    announced = stripe.Webhook.construct_event(event.body.decode(),
                                               event.headers["stripe-signature"],
                                               webhook_receiver.secret("stripe"))
    assert announced.data.object["id"] == run.id
    assert announced.data.object["result"]["url"] == file.url
    assert [r.id for r in client.v1.reporting.report_runs.list().data] == [run.id]


def test_columns_and_the_summary_report(client: stripe.StripeClient,
                                        payment_simulator: SimulatorServer,
                                        stripe_key: str) -> None:
    pay(client, 10_000)
    pay(client, 2_000)
    payment_simulator.advance_clock(SETTLED)
    payout = paid_payout(client)
    run = run_report(client, payout=payout.id, columns=["balance_transaction_id", "net"])
    assert run.result is not None and run.result.url is not None
    text, rows = download(run.result.url, stripe_key)
    assert text.splitlines()[0] == "balance_transaction_id,net"
    assert sum(Decimal(r["net"]) for r in rows) == major(payout.amount)

    summary = client.v1.reporting.report_runs.create(params={
        "report_type": "payout_reconciliation.summary.1"})
    summary = client.v1.reporting.report_runs.retrieve(summary.id)
    assert summary.result is not None and summary.result.url is not None
    _, (charges,) = download(summary.result.url, stripe_key)
    assert (charges["reporting_category"], charges["count"]) == ("charge", "2")
    assert Decimal(charges["net"]) == major(payout.amount)


def test_a_scenarios_missing_lines_are_missing_from_the_report_as_from_the_api(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        stripe_key: str) -> None:
    drift = yaml.safe_load(resources.files("paysandbox.scenarios.ready").joinpath(
        "reconciliation-drift.yaml").read_text("utf-8"))
    drift["settlement"] = {"missing_line": 1}
    payment_simulator.use_scenario(drift)
    pay(client, 10_000)
    pay(client, 3_000)
    payment_simulator.advance_clock(SETTLED)
    payout = paid_payout(client)
    assert payout.amount > 0
    assert [t.type for t in transactions(client, payout=payout.id)] == ["payout"]
    run = run_report(client, payout=payout.id)
    assert run.result is not None and run.result.url is not None
    text, rows = download(run.result.url, stripe_key)
    assert rows == [] and text.startswith("automatic_payout_id,")


def test_report_types_say_when_their_data_is_available(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    pay(client, 1_000)
    listed = {t.id: t for t in client.v1.reporting.report_types.list().data}
    assert ITEMIZED in listed
    itemized = client.v1.reporting.report_types.retrieve(ITEMIZED)
    assert itemized.to_dict() == listed[ITEMIZED].to_dict()
    assert itemized.default_columns is not None
    assert itemized.default_columns[:3] == [
        "automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id"]
    assert itemized.data_available_start < itemized.data_available_end
    with pytest.raises(stripe.InvalidRequestError) as late:
        client.v1.reporting.report_runs.create(params={
            "report_type": ITEMIZED,
            "parameters": {"interval_end": itemized.data_available_end + 3600}})
    assert (late.value.http_status, late.value.param) == (400, "parameters[interval_end]")
    assert "only available through" in str(late.value.user_message)


@pytest.mark.parametrize(("call", "status", "param"), [
    (lambda c: c.v1.reporting.report_runs.create(params={"report_type": "nope.1"}), 400,
     "report_type"),
    (lambda c: c.v1.reporting.report_runs.create(params={
        "report_type": ITEMIZED, "parameters": {"columns": ["bogus"]}}), 400,
     "parameters[columns]"),
    (lambda c: c.v1.reporting.report_runs.create(params={
        "report_type": ITEMIZED, "parameters": {"payout": "po_nope"}}), 400,
     "parameters[payout]"),
    (lambda c: c.v1.reporting.report_runs.create(params={
        "report_type": ITEMIZED, "parameters": {"interval_start": 10}}), 400,
     "parameters[interval_start]"),
    (lambda c: c.v1.reporting.report_types.retrieve("nope.1"), 404, "id"),
    (lambda c: c.v1.reporting.report_runs.retrieve("frr_nope"), 404, "id"),
    (lambda c: c.v1.files.retrieve("file_nope"), 404, "id"),
])
def test_what_a_report_cannot_be_run_on_gets_stripes_errors(
        client: stripe.StripeClient, call: Any, status: int, param: str) -> None:
    pay(client, 1_000)
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(client)
    assert (info.value.http_status, info.value.param) == (status, param)
    assert info.value.error is not None and info.value.error.type == "invalid_request_error"


def test_an_unknown_file_cannot_be_downloaded(payment_simulator: SimulatorServer,
                                              stripe_key: str) -> None:
    got = requests.get(payment_simulator.url("stripe") + "/v1/files/file_nope/contents",
                       auth=(stripe_key, ""), timeout=30)
    assert got.status_code == 404
    assert got.json()["error"]["code"] == "resource_missing"


def test_a_charges_and_a_refunds_balance_transactions_are_the_ones_listed(
        client: stripe.StripeClient) -> None:
    pi = pay(client, 4_000)
    refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    charge = client.v1.charges.retrieve(str(pi.latest_charge))
    by_source = {t.source: t for t in transactions(client)}
    assert charge.balance_transaction == by_source[charge.id].id
    assert refund.balance_transaction == by_source[refund.id].id
    assert client.v1.balance_transactions.retrieve(str(charge.balance_transaction)).amount \
        == 4_000
    assert client.v1.refunds.retrieve(refund.id).balance_transaction == \
        refund.balance_transaction


def test_paging_one_at_a_time_shows_a_duplicated_line_as_often_as_the_list_does(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    drift = yaml.safe_load(resources.files("paysandbox.scenarios.ready").joinpath(
        "reconciliation-drift.yaml").read_text("utf-8"))
    drift["settlement"] = {"duplicated_line": 1}
    payment_simulator.use_scenario(drift)
    for amount in (1_000, 2_000, 3_000):
        pay(client, amount)
    every = [t.id for t in transactions(client)]
    assert len(every) == 6 and len(set(every)) == 3  # each line listed twice

    walked: list[str] = []
    params: dict[str, Any] = {"limit": 1}
    for _ in range(len(every) + 1):  # a cursor that stalls would page forever
        got = client.v1.balance_transactions.list(params=params)
        walked += [t.id for t in got.data]
        if not got.has_more:
            break
        params = {"limit": 1, "starting_after": got.data[-1].id}
    assert walked == every

    back: list[str] = []
    params = {"limit": 1, "ending_before": every[-1]}
    for _ in range(len(every) + 1):
        got = client.v1.balance_transactions.list(params=params)
        back = [t.id for t in got.data] + back
        if not got.has_more:
            break
        params = {"limit": 1, "ending_before": got.data[0].id}
    assert back == [i for i in every if i != every[-1]]
