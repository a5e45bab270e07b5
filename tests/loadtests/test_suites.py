"""Short headless Locust runs (subprocesses) of both suites against a simulator and the
reference payment service, asserting from Locust's own CSV output."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from paysandbox.cli import main as paysandbox
from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer, simulator_providers
from paysandbox.testing.server import SimulatorServer

ROOT = Path(__file__).resolve().parents[2]

CAPTURES_FAIL = """\
name: captures-fail
start: manual
rules:
  - name: capture-503
    match: {provider: "*", operation: capture}
    fault: {http: 503}
"""


@pytest.fixture
def service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    simulator.reset()
    server = ServiceServer(for_simulator(simulator.base_url,
                                         simulator_providers(simulator.base_url),
                                         backoff_s=0.01)).start()
    yield server
    server.stop()


def stats(report: Path) -> dict[str, dict[str, int]]:
    with (report / "locust_stats.csv").open(newline="") as f:
        return {row["Name"]: {"requests": int(row["Request Count"]),
                              "failures": int(row["Failure Count"])}
                for row in csv.DictReader(f)}


#: Every local method of the checkout suite, and how its tester finishes it (pays, in
#: Mercado Pago's case: 85% of the time).
ASYNC_FLOWS = {"ideal": "finish on the checkout page",
               "bancontact": "finish on the checkout page",
               "pix": "simulate payment (ticket page)", "oxxo": "simulate payment (ticket page)",
               "upi": "complete (simulator admin)", "mpesa": "complete (simulator admin)"}


def test_checkout_suite_fails_only_where_the_scenario_injects_and_the_gate_says_which(
        service: ServiceServer, simulator: SimulatorServer, tmp_path: Path,
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Half the orders pay with a local method, the six in turn (six users start at six
    # different methods), so every asynchronous flow runs in a short test.
    monkeypatch.setenv("LOAD_LOCAL_METHOD_RATIO", "0.5")
    scenario = tmp_path / "captures-fail.yaml"
    scenario.write_text(CAPTURES_FAIL)
    report = tmp_path / "report"
    code = paysandbox(["load", "--suite", "checkout", "--target", service.url,
                       "--simulator", simulator.base_url, "--users", "6", "--spawn-rate", "6",
                       "--run-time", "8s", "--scenario", str(scenario),
                       "--slo", "POST /payments:errors<1%", "--slo", "errors<1%",
                       "--report", str(report)])
    assert code == 1  # the overall gate is breached by the injected capture failures
    rows = stats(report)
    assert rows["POST /payments"]["requests"] > 20
    assert rows["POST /payments"]["failures"] == 0
    capture = rows["POST /payments/{id}/capture"]
    assert capture["requests"] > 0 and capture["failures"] == capture["requests"]
    assert rows["POST /payments/{id}/refund"]["requests"] > 0
    assert rows["3DS challenge (hosted page)"]["requests"] > 0
    for method, how in ASYNC_FLOWS.items():
        # Finished by the tester, then polled until the provider's webhook settled it.
        assert rows[f"{method}: {how}"]["requests"] > 0, method
        assert rows[f"{method}: status until final"]["requests"] > 0, method
    settled = service.service.counts
    for provider in ("mollie", "mercadopago", "razorpay", "daraja"):
        assert settled[f"webhook:{provider}:verified"] > 0, provider
        assert settled[f"webhook:{provider}:bad_signature"] == 0, provider
    for name, row in rows.items():
        if name not in ("POST /payments/{id}/capture", "Aggregated"):
            assert row["failures"] == 0, name
    verdicts = json.loads((report / "slo.json").read_text())
    assert [(v["slo"], v["passed"]) for v in verdicts] == [
        ("POST /payments:errors<1%", True), ("errors<1%", False)]
    out = capfd.readouterr()
    assert "SLO breached: errors<1%" in out.err
    page = (report / "report.html").read_text()
    assert "The simulator&#x27;s view" in page or "The simulator's view" in page
    assert "http" in (report / "summary.md").read_text()  # the injected 503s, per provider
    assert (report / "locust.html").stat().st_size > 0
    started = simulator.client.scenarios()[0]
    assert started["name"] == "captures-fail" and started["started"]


def test_providers_suite_with_a_step_shape_passes_its_gate(
        simulator: SimulatorServer, tmp_path: Path) -> None:
    simulator.reset()
    report = tmp_path / "report"
    code = paysandbox(["load", "--suite", "providers", "--simulator", simulator.base_url,
                       "--users", "6", "--run-time", "6s", "--shape", "step",
                       "--slo", "p95<5s", "--slo", "errors<1%", "--report", str(report)])
    assert code == 0
    rows = stats(report)
    for name in ("stripe: create+confirm", "adyen: payments", "adyen: captures",
                 "checkoutcom: payments", "checkoutcom: captures"):
        assert rows[name]["requests"] > 0, name
    assert rows["Aggregated"]["failures"] == 0
    assert (report / "report.html").exists() and (report / "summary.md").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_master_and_two_workers_on_loopback(simulator: SimulatorServer,
                                              tmp_path: Path) -> None:
    simulator.reset()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    locust = [sys.executable, "-m", "locust", "-f",
              str(ROOT / "paysandbox" / "loadtests" / "providers.py")]
    master = subprocess.Popen(
        [*locust, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
         str(port), "--expect-workers", "2", "--headless", "-u", "4", "-r", "4", "-t", "4s",
         "--host", simulator.base_url, "--csv", str(tmp_path / "locust"), "--only-summary",
         "--slo", "errors<1%", "StripeUser", "CheckoutcomUser"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    workers = [subprocess.Popen([*locust, "--worker", "--master-host", "127.0.0.1",
                                 "--master-port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    try:
        output, _ = master.communicate(timeout=60)
    finally:
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
    assert master.returncode == 0, output[-2000:]
    assert "2 workers connected" in output
    rows = stats(tmp_path)
    assert rows["stripe: create+confirm"]["requests"] > 0
    assert rows["checkoutcom: payments"]["requests"] > 0
    assert rows["Aggregated"]["failures"] == 0


STRIPE_HANGS = """\
name: stripe-hangs
start: manual
phases:
  - name: stripe-hangs
    after: 1s
    for: 1m
    rules:
      - name: hang
        match: {provider: stripe, operation: authorize}
        fault: hang
"""


def test_a_hung_provider_times_requests_out_and_the_users_go_on(
        simulator: SimulatorServer, tmp_path: Path) -> None:
    """Stripe stops answering a second into the run; with a 1 s request timeout its user
    keeps paying (each attempt failing as 'no response: timed out') instead of freezing
    for the whole run, and the report says so in words, with the phase marked."""
    simulator.reset()
    scenario = tmp_path / "stripe-hangs.yaml"
    scenario.write_text(STRIPE_HANGS)
    report = tmp_path / "report"
    code = paysandbox(["load", "--suite", "providers", "--simulator", simulator.base_url,
                       "--users", "3", "--spawn-rate", "3", "--run-time", "6s",
                       "--scenario", str(scenario), "--request-timeout", "1",
                       "--report", str(report)])
    assert code == 0  # no gates: failed requests alone do not fail the run
    rows = stats(report)
    stripe = rows["stripe: create+confirm"]
    # One Stripe user, hung from 1 s on: frozen, it would have made one hung request.
    assert stripe["failures"] >= 3, stripe
    assert rows["adyen: payments"]["requests"] > 20
    with (report / "locust_failures.csv").open(newline="") as f:
        errors = {row["Error"] for row in csv.DictReader(f)
                  if row["Name"] == "stripe: create+confirm"}
    assert errors and all("no response: timed out" in e for e in errors), errors
    kinds = {k for per_second in json.loads((report / "errors.json").read_text()).values()
             for k in per_second}
    assert kinds == {"no response: timed out"}
    page = (report / "report.html").read_text()
    assert "stripe-hangs 1 to 6 s" in page
    assert "stripe: no answer: hung by an injected fault" in page
    assert "HTTP 0" not in page
