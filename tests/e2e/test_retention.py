"""Limits and retention as a user meets them: every bound of a long run, set small, and
what happens at it, through the official SDKs and the admin API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import stripe

from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer

WAIT = 30.0  # a safety net for polling the admin API, never an assertion on time


@pytest.fixture(scope="module")
def small() -> Iterator[SimulatorServer]:
    """A simulator with every bound set tiny; a dead webhook receiver (port 9)."""
    server = SimulatorServer(Settings(
        retain_payments=3, retain_idempotency_keys=50, journal_body_bytes=1024,
        journal_bytes=64 * 1024, contract_groups=4, contracts="report", delivery_queue=3,
        webhooks={}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim(small: SimulatorServer) -> SimulatorServer:
    small.reset()
    return small


def sdk(server: SimulatorServer, key: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(key or f"sk_test_{uuid.uuid4().hex}",
                               base_addresses={"api": server.url("stripe")},
                               max_network_retries=0)


def test_the_newest_payments_are_kept_and_an_evicted_one_says_why(
        sim: SimulatorServer) -> None:
    client = sdk(sim)
    made = [client.v1.payment_intents.create(params={
        "amount": 1000 + n, "currency": "usd", "confirm": True,
        "payment_method": "pm_card_visa"}) for n in range(5)]
    listed = client.v1.payment_intents.list(params={"limit": 10})
    assert [pi.id for pi in listed.data] == [pi.id for pi in made[:1:-1]]
    assert client.v1.payment_intents.retrieve(made[4].id).amount == 1004

    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve(made[0].id)
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert f"No such payment_intent: '{made[0].id}'" in str(missing.value.user_message)
    assert "evicted by retention" in str(missing.value.user_message)
    assert "--retain-payments" in str(missing.value.user_message)

    with pytest.raises(stripe.InvalidRequestError) as charge:  # its charge went with it
        client.v1.charges.retrieve(made[0].latest_charge)  # type: ignore[arg-type]
    assert "evicted by retention" in str(charge.value.user_message)

    with pytest.raises(stripe.InvalidRequestError) as never:
        client.v1.payment_intents.retrieve("pi_" + "x" * 24)
    assert "evicted" not in str(never.value.user_message)


def test_an_evicted_mollie_payment_answers_mollies_404_saying_why(
        sim: SimulatorServer) -> None:
    headers = {"Authorization": f"Bearer test_{uuid.uuid4().hex}"}
    ids = []
    for n in range(4):
        resp = requests.post(sim.url("mollie") + "/v2/payments", headers=headers, timeout=10,
                             json={"amount": {"currency": "EUR", "value": f"1{n}.00"},
                                   "description": f"Order {n}", "method": "ideal",
                                   "redirectUrl": "http://127.0.0.1:9/back"})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    gone = requests.get(f"{sim.url('mollie')}/v2/payments/{ids[0]}", headers=headers,
                        timeout=10)
    assert gone.status_code == 404
    assert gone.json()["status"] == 404
    assert "evicted by retention" in gone.json()["detail"]


def test_idempotency_keys_expire_after_24_hours_of_virtual_time(
        sim: SimulatorServer) -> None:
    client = sdk(sim)
    params = {"amount": 1000, "currency": "usd"}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
    replay = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
    assert replay.id == first.id
    sim.advance_clock("23h")
    assert client.v1.payment_intents.create(
        params=params, options={"idempotency_key": "k1"}).id == first.id
    sim.advance_clock("1h")
    after = client.v1.payment_intents.create(params=params, options={"idempotency_key": "k1"})
    assert after.id != first.id  # a day later the key is new again, as on Stripe


def test_a_full_delivery_queue_drops_the_oldest_and_says_so(sim: SimulatorServer) -> None:
    """A dead receiver: every delivery fails its first attempt and waits an hour for its
    retry, so the queue (3 here) fills; the oldest owed delivery fails as dropped."""
    sim.admin("PUT", "/webhooks/stripe", {"url": "http://127.0.0.1:9/dead"})
    client = sdk(sim)
    for _ in range(4):
        client.v1.payment_intents.create(params={
            "amount": 1000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa"})
    deadline = time.monotonic() + WAIT
    while True:
        counts = sim.admin("GET", "/webhooks")["deliveries"]
        if counts["delivering"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert counts["pending"] == 3
    assert counts["dropped"] >= 5  # 4 payments x 2 events, at most 3 owed
    assert counts["failed"] >= counts["dropped"]
    failed = sim.admin("GET", "/webhooks/deliveries?state=failed")["deliveries"]
    dropped = [d for d in failed if d["failure"] == "dropped: queue full"]
    assert len(dropped) == counts["dropped"]
    assert all(d["next_attempt_at"] is None for d in dropped)
    health = sim.admin("GET", "/health")
    assert health["webhooks"]["dropped"] == counts["dropped"]


def test_journal_bodies_are_cut_with_a_marker_and_bytes_bounded(
        sim: SimulatorServer) -> None:
    key = f"sk_test_{uuid.uuid4().hex}"
    big = "amount=1000&currency=usd&description=" + "x" * 20_000
    for _ in range(10):
        resp = requests.post(sim.url("stripe") + "/v1/payment_intents", data=big, timeout=10,
                             headers={"Authorization": f"Bearer {key}",
                                      "Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status_code < 500
    entries = sim.admin("GET", "/journal?limit=100")["entries"]
    assert entries[0]["request"].startswith("amount=1000&currency=usd&description=xxx")
    assert entries[0]["request"].endswith(
        f"…[truncated by the journal: {len(big)} bytes, the first 1024 kept]")
    # each entry holds at most 2 KiB of bodies plus its overhead: 64 KiB hold about 25
    assert len(entries) == 10
    health = sim.admin("GET", "/health")
    assert health["journal_bytes"] <= 64 * 1024
    for _ in range(40):
        requests.post(sim.url("stripe") + "/v1/payment_intents", data=big, timeout=10,
                      headers={"Authorization": f"Bearer {key}",
                               "Content-Type": "application/x-www-form-urlencoded"})
    assert len(sim.admin("GET", "/journal?limit=1000")["entries"]) < 50
    assert sim.admin("GET", "/health")["journal_bytes"] <= 64 * 1024


def test_the_contract_report_keeps_at_most_its_groups_and_counts_the_rest(
        sim: SimulatorServer) -> None:
    headers = {"Authorization": f"Bearer sk_test_{uuid.uuid4().hex}"}
    for n in range(20):
        requests.post(sim.url("stripe") + "/v1/payment_intents", headers=headers, timeout=10,
                      data={"amount": 1000, "currency": "usd", f"unknown_{n}": "1"})
    report = sim.admin("GET", "/contracts")
    assert len(report["groups"]) == 5  # 4 distinct, then one overflow group
    overflow = [g for g in report["groups"] if g["kind"] == "overflow"]
    assert len(overflow) == 1 and overflow[0]["count"] == 16
    assert report["total"] == 20
