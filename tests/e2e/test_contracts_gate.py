"""Contracts as a payment service's CI uses them: strict and report modes over HTTP, the
journal's record of each violation, and `paysandbox contracts report|verify`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
import stripe

from paysandbox.testing.server import SimulatorServer

KEY = "sk_test_contracts"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def fresh(lenient: SimulatorServer) -> SimulatorServer:
    return lenient


def create(server: SimulatorServer, body: str) -> requests.Response:
    return requests.post(f"{server.url('stripe')}/v1/payment_intents", data=body,
                         headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
                         timeout=10)


def paysandbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paysandbox", "contracts", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_strict_mode_refuses_and_still_records(payment_simulator: SimulatorServer) -> None:
    resp = create(payment_simulator, "amount=100&currency=usd&colour=red")
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "colour"
    (entry,) = payment_simulator.journal(path="/payment_intents")
    assert entry["operation"] == "create_payment_intent"
    assert [v["field"] for v in entry["contract_violations"]] == ["colour"]
    report = payment_simulator.admin("GET", "/contracts")
    assert report["mode"] == "strict" and report["total"] == 1


def test_report_mode_serves_the_request_and_records_the_violation(
        fresh: SimulatorServer) -> None:
    resp = create(fresh, "amount=100&currency=usd&colour=red&capture_method=later")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "requires_payment_method"
    (entry,) = fresh.journal(path="/payment_intents")
    asked = [v for v in entry["contract_violations"] if v["source"] == "request"]
    assert sorted(v["field"] for v in asked) == ["capture_method", "colour"]
    # served as given: the bad value shows in the answer, and test mode says so
    assert [v["field"] for v in entry["contract_violations"] if v["source"] == "response"] \
        == ["capture_method"]
    # what cannot be served is still refused, in Stripe's envelope
    missing = create(fresh, "amount=100")
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "currency"
    report = fresh.admin("GET", "/contracts")
    assert report["mode"] == "report"
    assert {(g["field"], g["count"]) for g in report["groups"] if g["source"] == "request"} \
        == {("capture_method", 1), ("colour", 1), ("currency", 1)}


@pytest.mark.parametrize(("body", "field", "kind"), [
    ("amount=100", "currency", "missing"),
    ("amount=ten&currency=usd", "amount", "type"),
    ("amount=100&currency=usd&capture_method=whenever", "capture_method", "enum"),
    ("amount=10.50&currency=usd", "amount", "type"),  # an amount as a decimal string
    ("amount=100&currency=usd&metadata[note]=" + "x" * 501, "metadata.note", "range"),
])
def test_wrong_requests_are_caught_naming_the_parameter(
        payment_simulator: SimulatorServer, body: str, field: str, kind: str) -> None:
    assert create(payment_simulator, body).status_code == 400
    groups = payment_simulator.admin("GET", "/contracts")["groups"]
    assert [(g["field"], g["kind"]) for g in groups] == [(field, kind)]


def test_the_sdk_produces_no_violations(payment_simulator: SimulatorServer) -> None:
    client = stripe.StripeClient(KEY, base_addresses={"api": payment_simulator.url("stripe")},
                                 max_network_retries=0)
    pi = client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "eur", "capture_method": "manual",
        "metadata": {"order": "42"}, "description": "contracts"})
    client.v1.payment_intents.update(pi.id, params={"metadata": {"more": "yes"}})
    client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 2000})
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 500})
    client.v1.refunds.list(params={"payment_intent": pi.id})
    client.v1.payment_intents.list(params={"limit": 3})
    client.v1.payment_intents.retrieve(pi.id, params={"expand": ["latest_charge"]})
    client.v1.events.list()
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": "http://127.0.0.1:9/hooks", "enabled_events": ["charge.refunded"]})
    client.v1.webhook_endpoints.delete(endpoint.id)
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


def test_verify_fails_the_pipeline_and_writes_json_and_junit(
        fresh: SimulatorServer, tmp_path: Path) -> None:
    create(fresh, "amount=100&currency=usd&colour=red")
    create(fresh, "amount=200&currency=usd&colour=blue")
    out_json, out_xml = tmp_path / "c.json", tmp_path / "c.xml"
    done = paysandbox("verify", "--url", fresh.base_url, "--json", str(out_json),
                      "--junit", str(out_xml))
    assert done.returncode == 1, done.stderr
    assert "2 contract violation(s) in 1 group(s)" in done.stdout
    assert "create_payment_intent" in done.stdout and "colour" in done.stdout
    saved: dict[str, Any] = json.loads(out_json.read_text())
    assert saved["total"] == 2 and saved["groups"][0]["first"]["value"] == "colour"
    suite = ElementTree.parse(out_xml).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert paysandbox("report", "--url", fresh.base_url).returncode == 0


def test_verify_passes_a_clean_run(fresh: SimulatorServer) -> None:
    assert create(fresh, "amount=100&currency=usd").status_code == 200
    done = paysandbox("verify", "--url", fresh.base_url)
    assert (done.returncode, done.stdout.strip()) == (0, "No contract violations.")


def test_verify_reads_a_saved_journal(fresh: SimulatorServer, tmp_path: Path) -> None:
    create(fresh, "amount=100&currency=usd&colour=red")
    saved = tmp_path / "journal.json"
    saved.write_text(json.dumps(fresh.admin("GET", "/journal?limit=1000")))
    done = paysandbox("verify", "--journal", str(saved))
    assert done.returncode == 1 and "colour" in done.stdout


def test_an_unreachable_simulator_is_a_clear_error() -> None:
    done = paysandbox("report", "--url", "http://127.0.0.1:9")
    assert done.returncode == 2
    assert "paysandbox contracts: http://127.0.0.1:9" in done.stderr
