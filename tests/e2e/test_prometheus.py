"""A real Prometheus (Debian's `prometheus`), configured as deploy/prometheus/prometheus.yml
configures it (the admin token from a file), scrapes the simulator's /metrics; PromQL over
its HTTP API counts what a short run of Stripe payments did, and every query of the
Grafana dashboard (deploy/grafana/paysandbox.json) runs and finds its series."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
import yaml

from paysandbox.settings import Settings
from paysandbox.testing.receiver import WebhookReceiver
from paysandbox.testing.server import SimulatorServer

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TOKEN = "prometheus-test-admin-token"
PROMETHEUS_WAIT = 60.0  # seconds for it to start, and for a scrape to bring the samples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    """A simulator of its own (its counters start at zero), with an admin token, as it
    runs in the compose file."""
    server = SimulatorServer(Settings(admin_token=TOKEN))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def prometheus(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[str]:
    """Prometheus on a free loopback port with the repository's configuration, pointed at
    the simulator and scraping every 500 ms; its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("The metrics test needs Prometheus: apt-get install prometheus "
                    "(`make test` installs it when run as root).", pytrace=False)
    port = _free_port()
    tmp_path = tmp_path_factory.mktemp("prometheus")
    (tmp_path / "admin-token").write_text(TOKEN)
    settings = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    settings["global"].update(scrape_interval="500ms", scrape_timeout="400ms")
    (job,) = settings["scrape_configs"]
    job["authorization"]["credentials_file"] = str(tmp_path / "admin-token")
    job["static_configs"] = [{"targets": [f"127.0.0.1:{simulator.port}"]}]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(settings))
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + PROMETHEUS_WAIT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prometheus did not start on {url}:\n{log.read_text()}",
                            pytrace=False)
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _poll(prometheus: str, query: str, done: Callable[[dict[str, float]], bool]
          ) -> dict[str, float]:
    """The query's result ({label values: value}) once `done` holds of it; fails, showing
    the last result, if no scrape brings it within PROMETHEUS_WAIT."""
    deadline = time.monotonic() + PROMETHEUS_WAIT
    while True:
        answer = _get(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
        assert answer["status"] == "success", answer
        found = {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items())):
                 float(r["value"][1]) for r in answer["data"]["result"]}
        if done(found):
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{query} gave {found} after {PROMETHEUS_WAIT:.0f} s", pytrace=False)
        time.sleep(0.25)


def test_prometheus_scrapes_the_counts_of_a_short_run(simulator: SimulatorServer,
                                                       prometheus: str) -> None:
    client = stripe.StripeClient("sk_test_prometheus",
                                 base_addresses={"api": simulator.url("stripe")},
                                 max_network_retries=0)
    for _ in range(5):
        client.v1.payment_intents.create(params={
            "amount": 1500, "currency": "eur", "confirm": True, "payment_method": "pm_card_visa"})
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(params={
                "amount": 1500, "currency": "eur", "confirm": True,
                "payment_method": "pm_card_chargeDeclined"})

    # The target is up, and the scrape brings every request of the run.
    _poll(prometheus, 'up{job="paysandbox"}', lambda r: list(r.values()) == [1.0])
    expected = {"status=200": 5.0, "status=402": 2.0}
    requests = _poll(
        prometheus, 'sum by (status) (paysandbox_requests_total{provider="stripe",'
                    'operation="create_payment_intent"})', lambda r: r == expected)
    assert requests == expected
    payments = _poll(prometheus, 'sum by (state) (paysandbox_payments{provider="stripe"} > 0)',
                     lambda r: r == {"state=captured": 5.0, "state=failed": 2.0})
    assert payments == {"state=captured": 5.0, "state=failed": 2.0}
    latency = _poll(prometheus, 'sum(paysandbox_request_duration_seconds_count'
                                '{provider="stripe",operation="create_payment_intent"})',
                    lambda r: r == {"": 7.0})
    assert latency == {"": 7.0}


def test_every_query_of_the_grafana_dashboard_finds_its_series(simulator: SimulatorServer,
                                                                prometheus: str) -> None:
    """What the dashboard draws exists: after a run that injects a fault and delivers
    webhooks, each of its queries is valid PromQL and each metric it names has series."""
    simulator.use_scenario("""
name: one-outage
rules:
  - name: first-authorize-fails
    match: {provider: stripe, operation: authorize}
    first: 1
    fault: {http: 503}
""")
    client = stripe.StripeClient("sk_test_dashboard", max_network_retries=0,
                                 base_addresses={"api": simulator.url("stripe")})
    with WebhookReceiver().serving() as receiver:
        simulator.admin("PUT", "/webhooks/stripe", {"url": receiver.url("stripe"),
                                                    "secret": receiver.secret("stripe")})
        with pytest.raises(stripe.APIError):
            client.v1.payment_intents.create(params={
                "amount": 900, "currency": "eur", "confirm": True,
                "payment_method": "pm_card_visa"})
        client.v1.payment_intents.create(params={
            "amount": 900, "currency": "eur", "confirm": True, "payment_method": "pm_card_visa"})
        simulator.wait_for_webhook("payment_intent.succeeded", provider="stripe")

    dashboard = json.loads((DEPLOY / "grafana" / "paysandbox.json").read_text())
    queries = [t["expr"].replace("$__rate_interval", "1m")
               for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 14
    names = sorted({n for q in queries for n in re.findall(r"\b(?:paysandbox|process)_\w+", q)})
    for name in names:
        _poll(prometheus, f"count({name})", lambda r: bool(r) and all(v > 0 for v in r.values()))
    for query in queries:
        answer = _get(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
        assert answer["status"] == "success", (query, answer)
