"""The Redis store as a user runs it: simulators on one Redis share payments, a restarted
simulator still has them, and an unreachable Redis stops `paysandbox serve` with one line."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis
import stripe

from paysandbox.settings import Settings, SettingsError
from paysandbox.testing.server import SimulatorServer

CMD = [sys.executable, "-m", "paysandbox"]


@pytest.fixture(params=["redis", "redis-cluster"])
def empty_redis(request: pytest.FixtureRequest) -> Iterator[str]:
    """The session's redis-server, or its 3-node Redis Cluster, emptied: these simulators
    use the default key prefix."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        client: redis.Redis | redis.RedisCluster = redis.Redis.from_url(url)
        empty = client.flushdb
    else:
        url = request.getfixturevalue("redis_cluster_url")
        client = redis.RedisCluster.from_url(url.replace("redis+cluster://", "redis://"))
        empty = functools.partial(client.flushdb, target_nodes=redis.RedisCluster.PRIMARIES)
    empty()
    yield url
    empty()
    client.close()


def sdk(server: SimulatorServer, key: str) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": server.url("stripe")},
                               max_network_retries=0)


def test_a_restarted_simulator_keeps_payments_and_their_history(empty_redis: str) -> None:
    key = "sk_test_redis_restart"
    first = SimulatorServer(Settings(store=empty_redis))
    first.start()
    try:
        client = sdk(first, key)
        pi = client.v1.payment_intents.create(params={
            "amount": 4200, "currency": "eur", "capture_method": "manual",
            "payment_method": "pm_card_visa", "metadata": {"order": "o-1"}})
        pi = client.v1.payment_intents.confirm(pi.id)
        assert pi.status == "requires_capture"
        pi = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 4000})
        refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1500})
        assert (pi.status, refund.status) == ("succeeded", "succeeded")
        before = first.admin("GET", f"/payments/{pi.id}")
    finally:
        first.stop()

    second = SimulatorServer(Settings(store=empty_redis))
    second.start()
    try:
        client = sdk(second, key)
        again = client.v1.payment_intents.retrieve(pi.id)
        assert (again.status, again.amount, again.amount_received) == ("succeeded", 4200, 4000)
        assert again.metadata["order"] == "o-1"
        assert again.latest_charge == pi.latest_charge
        charge = client.v1.charges.retrieve(pi.latest_charge)  # an alias, also shared
        assert charge.amount_refunded == 1500
        assert client.v1.refunds.retrieve(refund.id).amount == 1500
        after = second.admin("GET", f"/payments/{pi.id}")
        assert after == before
        assert [h["action"] for h in after["history"]][-3:] == [
            "authorize", "capture", "refund"]
        with pytest.raises(stripe.InvalidRequestError):  # namespaces still apply
            sdk(second, "sk_test_someone_else").v1.payment_intents.retrieve(pi.id)
    finally:
        second.stop()


def test_two_simulators_on_one_redis_serve_the_same_payments(empty_redis: str) -> None:
    a, b = SimulatorServer(Settings(store=empty_redis)), SimulatorServer(
        Settings(store=empty_redis))
    a.start()
    b.start()
    try:
        key = "sk_test_redis_shared"
        pi = sdk(a, key).v1.payment_intents.create(params={
            "amount": 900, "currency": "usd", "capture_method": "manual", "confirm": True,
            "payment_method": "pm_card_visa"})
        captured = sdk(b, key).v1.payment_intents.capture(pi.id)
        assert captured.status == "succeeded"
        with pytest.raises(stripe.InvalidRequestError):  # already captured, seen through a
            sdk(a, key).v1.payment_intents.capture(pi.id)
        assert [p["id"] for p in a.admin("GET", "/payments")["payments"]] == [pi.id]
    finally:
        a.stop()
        b.stop()


def _serving(store: str) -> tuple[subprocess.Popen[str], str]:
    """`paysandbox serve` on `store`, and its banner once printed (within 30 s)."""
    proc = subprocess.Popen([*CMD, "serve", "--port", "0", "--store", store],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    banner = ""
    deadline = time.monotonic() + 30
    while not banner.endswith("first.\n") and time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        banner += line
    return proc, banner


def test_serve_names_its_store_in_the_banner(empty_redis: str) -> None:
    proc, banner = _serving(empty_redis)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert re.search(rf"store\s+{re.escape(empty_redis)} \(shared", banner), banner + out
    assert proc.returncode == 0, out


def test_serve_on_redis_stops_on_sigterm_right_after_it_starts(empty_redis: str) -> None:
    """Its loops on Redis (the fleet's clock, schedule, journal, outbox) end when told,
    even when the cancellation lands inside a Redis command: five starts, five stops."""
    for _ in range(5):
        proc, banner = _serving(empty_redis)
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("serve did not stop within 30 s of SIGTERM:\n" + banner)
        assert proc.returncode == 0, banner + out


def test_an_unreachable_redis_is_a_one_line_error_at_start_up() -> None:
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{held.getsockname()[1]}/0"
        res = subprocess.run([*CMD, "serve", "--port", "0", "--store", url],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PAYSANDBOX_STORE": ""})
        with pytest.raises(RuntimeError) as info:
            SimulatorServer(Settings(store=url)).start()
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"paysandbox: cannot reach Redis at {url}")
    assert "--store memory" in lines[0]
    assert "cannot reach Redis" in str(info.value.__cause__)


def test_a_store_that_is_neither_memory_nor_redis_is_refused() -> None:
    with pytest.raises(SettingsError, match=re.escape("redis://127.0.0.1:6379/0")):
        Settings(store="postgres://localhost/db")
    res = subprocess.run([*CMD, "serve", "--store", "mem"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2
    assert "store must be `memory` or a Redis URL" in res.stderr
    assert Settings.from_env({"PAYSANDBOX_STORE": "rediss://cache:6380/1"}).store == (
        "rediss://cache:6380/1")


def test_a_dispute_is_kept_in_redis_and_found_by_its_id_after_a_restart(
        empty_redis: str) -> None:
    """A dispute is written with its payment (and its id linked to it) in one Redis
    call: another simulator on the same Redis serves it, evidence and all."""
    key = "sk_test_redis_dispute"
    first = SimulatorServer(Settings(store=empty_redis))
    first.start()
    try:
        client = sdk(first, key)
        pi = client.v1.payment_intents.create(params={
            "amount": 3100, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa"})
        opened = first.admin("POST", f"/payments/{pi.id}/dispute", {
            "reason": "duplicate", "amount": 1100})["disputes"][0]
        client.v1.disputes.update(opened["id"], params={
            "evidence": {"duplicate_charge_id": "ch_other"}, "submit": False})
    finally:
        first.stop()

    second = SimulatorServer(Settings(store=empty_redis))
    second.start()
    try:
        dispute = sdk(second, key).v1.disputes.retrieve(opened["id"])
        assert (dispute.reason, dispute.amount, dispute.status) == (
            "duplicate", 1100, "needs_response")
        assert dispute.evidence.duplicate_charge_id == "ch_other"
        with pytest.raises(stripe.InvalidRequestError) as refused:
            sdk(second, key).v1.refunds.create(params={"payment_intent": pi.id})
        assert refused.value.code == "charge_disputed"
    finally:
        second.stop()


def test_events_are_listed_by_any_process_as_they_happened(empty_redis: str) -> None:
    """Stripe's payment events are kept as what renders them (the payment as each change
    left it), not as bodies: another process lists the same events, each showing the
    payment as it was when the event happened."""
    key = "sk_test_redis_events"
    first, second = SimulatorServer(Settings(store=empty_redis)), \
        SimulatorServer(Settings(store=empty_redis))
    first.start()
    second.start()
    try:
        client = sdk(first, key)
        pi = client.v1.payment_intents.create(params={
            "amount": 4200, "currency": "eur", "capture_method": "manual",
            "payment_method": "pm_card_visa", "confirm": True})
        pi = client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 4000})
        refund = client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1500})
        listed = [e.to_dict() for e in client.v1.events.list(params={"limit": 100}).data]
        assert [e.to_dict() for e in
                sdk(second, key).v1.events.list(params={"limit": 100}).data] == listed
        shown = {e["type"]: e["data"]["object"] for e in listed}
        assert shown["payment_intent.created"]["status"] == "requires_capture"
        assert shown["payment_intent.amount_capturable_updated"]["amount_capturable"] == 4200
        assert shown["payment_intent.succeeded"]["amount_received"] == 4000
        assert shown["charge.captured"]["amount_refunded"] == 0
        assert (shown["refund.created"]["id"], shown["refund.created"]["amount"]) == (
            refund.id, 1500)
        assert shown["charge.refunded"]["amount_refunded"] == 1500
    finally:
        first.stop()
        second.stop()
