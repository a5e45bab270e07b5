"""`GET /metrics`: what a Prometheus scrape of the simulator reads, in the text format.

Request counters run for the whole session (a reset forgets payments, not what was
served), so those tests compare two scrapes; payments and webhook deliveries start again
at a reset, so those are read as they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import stripe
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from paysandbox import metrics
from paysandbox.app import create_app
from paysandbox.core.clock import VirtualClock
from paysandbox.scenarios.runtime import ScenarioSet
from paysandbox.settings import Settings
from paysandbox.testing.receiver import WebhookReceiver
from paysandbox.testing.server import SimulatorServer
from paysandbox.webhooks.dispatcher import Dispatcher

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(sim: SimulatorServer, **headers: str) -> Samples:
    resp = requests.get(sim.base_url + "/metrics", headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(sim: SimulatorServer, act: Callable[[], Any], name: str, **labels: str) -> float:
    before = value(scrape(sim), name, **labels)
    act()
    return value(scrape(sim), name, **labels) - before


@pytest.fixture
def client(payment_simulator: SimulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_metrics", max_network_retries=0,
                               base_addresses={"api": payment_simulator.url("stripe")})


def pay(client: stripe.StripeClient, card: str = "pm_card_visa") -> Any:
    return client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "eur", "confirm": True, "payment_method": card})


def test_requests_are_counted_by_provider_operation_and_status(
        payment_simulator: SimulatorServer, client: stripe.StripeClient) -> None:
    before = scrape(payment_simulator)
    pay(client)
    pay(client)
    with pytest.raises(stripe.CardError):
        pay(client, "pm_card_chargeDeclined")
    after = scrape(payment_simulator)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)
    create = {"provider": "stripe", "operation": "create_payment_intent"}
    assert grew("paysandbox_requests_total", **create, status="200") == 2
    assert grew("paysandbox_requests_total", **create, status="402") == 1
    assert grew("paysandbox_request_duration_seconds_count", **create) == 3
    assert grew("paysandbox_request_duration_seconds_bucket", **create, le="+Inf") == 3
    assert grew("paysandbox_request_duration_seconds_sum", **create) > 0
    # The store's calls behind them, each timed under the store method's name: every
    # payment was written in at least one atomic commit.
    assert grew("paysandbox_store_operation_duration_seconds_count", operation="commit") >= 3


def test_a_route_reached_on_the_real_hostname_counts_under_the_same_operation(
        payment_simulator: SimulatorServer) -> None:
    def on_host() -> None:
        resp = requests.post(payment_simulator.base_url + "/v1/payment_intents",
                             headers={"Host": "api.stripe.com"}, auth=("sk_test_metrics", ""),
                             data={"amount": 100, "currency": "usd"}, timeout=10)
        assert resp.status_code == 200, resp.text
    assert delta(payment_simulator, on_host, "paysandbox_requests_total", provider="stripe",
                 operation="create_payment_intent", status="200") == 1


def test_an_unknown_path_counts_as_unmatched(payment_simulator: SimulatorServer) -> None:
    def lost() -> None:
        resp = requests.get(payment_simulator.url("stripe") + "/v1/nothing_here",
                            auth=("sk_test_metrics", ""), timeout=10)
        assert resp.status_code == 404
    assert delta(payment_simulator, lost, "paysandbox_requests_total", provider="stripe",
                 operation="unmatched", status="404") == 1


def test_injected_faults_and_rule_hits(payment_simulator: SimulatorServer,
                                       client: stripe.StripeClient) -> None:
    payment_simulator.use_scenario("""
name: stripe-down
rules:
  - name: outage
    match: {provider: stripe, operation: authorize}
    fault: {http: 503}
""")
    before = scrape(payment_simulator)
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            pay(client)
    after = scrape(payment_simulator)
    faults = ("paysandbox_faults_injected_total", {"provider": "stripe", "kind": "http"})
    assert value(after, faults[0], **faults[1]) - value(before, faults[0], **faults[1]) == 2
    assert value(after, "paysandbox_scenario_rule_hits_total", scenario="stripe-down",
                 rule="outage") == 2
    assert value(after, "paysandbox_scenario_rule_matches_total", scenario="stripe-down",
                 rule="outage") == 2
    payment_simulator.client.clear_scenarios()  # an unloaded scenario's rules are gone
    assert ("paysandbox_scenario_rule_hits_total",
            frozenset({("scenario", "stripe-down"), ("rule", "outage")})) \
        not in scrape(payment_simulator)


def test_payments_by_provider_and_state(payment_simulator: SimulatorServer,
                                        client: stripe.StripeClient) -> None:
    pay(client)
    pay(client)
    with pytest.raises(stripe.CardError):
        pay(client, "pm_card_chargeDeclined")
    client.v1.payment_intents.create(params={"amount": 700, "currency": "eur"})
    samples = scrape(payment_simulator)
    assert value(samples, "paysandbox_payments", provider="stripe", state="captured") == 2
    assert value(samples, "paysandbox_payments", provider="stripe", state="failed") == 1
    assert value(samples, "paysandbox_payments", provider="stripe", state="created") == 1

    payment_simulator.reset()
    assert all(v == 0 for (name, _), v in scrape(payment_simulator).items()
               if name == "paysandbox_payments")


def test_webhook_deliveries_their_latency_and_the_owed_queue(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver,
        client: stripe.StripeClient) -> None:
    before = scrape(payment_simulator)
    pay(client)
    webhook_receiver.wait_for("stripe", "payment_intent.succeeded")
    delivered = payment_simulator.wait_for_webhook("payment_intent.succeeded",
                                                   provider="stripe")
    assert delivered["state"] == "delivered"
    after = scrape(payment_simulator)
    assert value(after, "paysandbox_webhook_deliveries_total", state="delivered") >= 1
    assert value(after, "paysandbox_webhook_deliveries_total", state="failed") == 0
    assert value(after, "paysandbox_webhook_owed_limit") == 10_000
    latency = ("paysandbox_webhook_delivery_latency_seconds_count", {"provider": "stripe"})
    assert value(after, latency[0], **latency[1]) > value(before, latency[0], **latency[1])
    attempts = ("paysandbox_webhook_attempt_duration_seconds_count",
                {"provider": "stripe", "outcome": "accepted"})
    assert value(after, attempts[0], **attempts[1]) > value(before, attempts[0], **attempts[1])


def test_a_delivery_nobody_takes_is_owed_until_it_fails(
        payment_simulator: SimulatorServer, client: stripe.StripeClient) -> None:
    """A receiver that refuses: the delivery waits for its retry in the owed queue."""
    with WebhookReceiver({"stripe": "whsec_not_the_signers"}).serving() as receiver:
        payment_simulator.admin("PUT", "/webhooks/stripe", {
            "url": receiver.url("stripe"), "secret": "whsec_another"})
        pay(client)
        receiver.wait_for("stripe", "payment_intent.succeeded")  # answered 401
        samples = scrape(payment_simulator)
        refused = value(samples, "paysandbox_webhook_attempt_duration_seconds_count",
                        provider="stripe", outcome="refused")
        assert refused >= 1
        owed = len(payment_simulator.client.deliveries(state="pending"))
        assert owed >= 1
        assert value(scrape(payment_simulator), "paysandbox_webhook_owed_deliveries") == owed


def test_metrics_follow_the_admin_rules(payment_simulator: SimulatorServer) -> None:
    """A page under another name (DNS rebinding) may not read them."""
    resp = requests.get(payment_simulator.base_url + "/metrics",
                        headers={"Host": "attacker.example"}, timeout=10)
    assert resp.status_code == 403
    assert "is not this simulator's" in resp.text


async def test_each_app_has_a_registry_of_its_own() -> None:
    """Two simulators in one process (a test session) neither collide nor share counts."""
    first, second = create_app(Settings()), create_app(Settings())
    assert first[metrics.METRICS].registry is not second[metrics.METRICS].registry
    async with TestClient(TestServer(first)) as one, TestClient(TestServer(second)) as two:
        created = await one.post("/stripe/v1/payment_intents",
                                 headers={"Authorization": "Bearer sk_test_one"},
                                 data={"amount": "100", "currency": "usd"})
        assert created.status == 200
        counted = 'paysandbox_requests_total{operation="create_payment_intent",' \
                  'provider="stripe",status="200"} 1.0'
        assert counted in await (await one.get("/metrics")).text()
        assert "create_payment_intent" not in await (await two.get("/metrics")).text()


def test_histogram_buckets_count_each_value_at_its_bound_and_above() -> None:
    """`le` is inclusive and cumulative; a value beyond the last bound is in +Inf only."""
    measured = metrics.Metrics(ScenarioSet(), Dispatcher(VirtualClock()), owed_limit=5)
    for seconds in (0.0001, 0.0003, 2.0):
        measured.store_call("get", seconds)
    text = generate_latest(measured.registry).decode()
    got = {(s.name, s.labels.get("le")): s.value
           for family in text_string_to_metric_families(text) for s in family.samples
           if s.name.startswith("paysandbox_store_operation_duration_seconds")}
    name = "paysandbox_store_operation_duration_seconds"
    assert got[(f"{name}_bucket", "5e-05")] == 0
    assert got[(f"{name}_bucket", "0.0001")] == 1
    assert got[(f"{name}_bucket", "0.0005")] == 2
    assert got[(f"{name}_bucket", "1.0")] == 2
    assert got[(f"{name}_bucket", "+Inf")] == 3
    assert got[(f"{name}_count", None)] == 3
    assert got[(f"{name}_sum", None)] == pytest.approx(2.0004)
    assert "paysandbox_webhook_owed_limit 5.0" in text
