"""`paysandbox serve --workers 2`: two processes on one port share one state (a private
redis-server, or the Redis Cluster given), the Stripe SDK cannot tell them apart, a
worker that dies is started again, and SIGTERM stops everything the fleet started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import requests
import stripe

from tests.fleet.conftest import RunningFleet, gone
from tests.waiting import wait_until

MAX_PAYMENTS = 60  # the kernel spreads connections at random: enough to reach both


def fresh(fleet: RunningFleet, key: str) -> stripe.StripeClient:
    """A client of its own, so a connection of its own: the kernel picks the worker."""
    return stripe.StripeClient(key, base_addresses={"api": fleet.url("stripe")},
                               max_network_retries=0)


def worker(obj: stripe.StripeObject) -> str:
    response = obj.last_response
    assert response is not None
    return str(response.headers["X-Paysandbox-Worker"])


def served_by_each(fleet: RunningFleet, path: str) -> dict[str, requests.Response]:
    """GET the admin `path` over fresh connections until both workers have answered."""
    answers: dict[str, requests.Response] = {}
    for _ in range(200):
        got = requests.get(fleet.base_url + path, timeout=10)
        answers.setdefault(got.headers["X-Paysandbox-Worker"], got)
        if len(answers) == 2:
            break
    assert len(answers) == 2, f"only {set(answers)} answered 200 connections"
    return answers


def pay_capture_refund(fleet: RunningFleet, key: str) -> tuple[list[str], dict[str, set[str]]]:
    """Payments until captures and refunds have each landed on both workers; their ids
    and, per operation, the workers that served it."""
    served: dict[str, set[str]] = defaultdict(set)
    ids: list[str] = []
    while len(served["capture"]) < 2 or len(served["refund"]) < 2:
        assert len(ids) < MAX_PAYMENTS, f"after {len(ids)} payments: {dict(served)}"
        pi = fresh(fleet, key).v1.payment_intents.create(params={
            "amount": 2000, "currency": "eur", "payment_method": "pm_card_visa",
            "confirm": True, "capture_method": "manual"})
        served["create"].add(worker(pi))
        captured = fresh(fleet, key).v1.payment_intents.capture(pi.id)
        assert captured.status == "succeeded"
        served["capture"].add(worker(captured))
        refund = fresh(fleet, key).v1.refunds.create(params={"payment_intent": pi.id,
                                                             "amount": 500})
        assert refund.status == "succeeded"
        served["refund"].add(worker(refund))
        ids.append(pi.id)
    return ids, served


def test_two_workers_serve_one_api_keys_payments_and_each_sees_them_all(
        fleet_factory: Callable[..., RunningFleet]) -> None:
    fleet = fleet_factory("--workers", "2")
    assert len(fleet.pids) == 2 and fleet.redis_pid is not None
    key = f"sk_test_{uuid.uuid4().hex}"
    ids, served = pay_capture_refund(fleet, key)
    assert {w.split(":")[1] for w in served["capture"] | served["refund"]} == {
        str(p) for p in fleet.pids}
    for answer in served_by_each(fleet, f"/__admin/payments?namespace={key}&limit=1000"
                                 ).values():
        listed = {p["id"]: p for p in answer.json()["payments"]}
        assert set(listed) == set(ids)
        assert all(p["amount_captured"] == 2000 and p["amount_refunded"] == 500
                   for p in listed.values())
    for pid in ids[:3]:  # and a retrieve through the SDK finds it whoever answers
        assert fresh(fleet, key).v1.payment_intents.retrieve(pid).amount_received == 2000


def test_a_worker_that_dies_is_started_again(
        fleet_factory: Callable[..., RunningFleet]) -> None:
    fleet = fleet_factory("--workers", "2")
    victim = fleet.pids[0]
    os.kill(victim, signal.SIGKILL)
    seen: set[str] = set()

    def replaced() -> bool:
        for _ in range(20):
            try:
                got = requests.get(fleet.base_url + "/__admin/health", timeout=10)
            except requests.ConnectionError:  # queued on the killed worker: reset
                continue
            seen.add(got.headers["X-Paysandbox-Worker"])
        return any(w.startswith("1:") and w != f"1:{victim}" for w in seen)

    assert wait_until(replaced, timeout=60), f"answers came from {seen}"
    assert fleet.proc.poll() is None
    assert any(f"worker 1 (pid {victim}) exited" in line for line in fleet.lines)


def test_sigterm_stops_the_workers_and_the_private_redis_server(
        fleet_factory: Callable[..., RunningFleet]) -> None:
    fleet = fleet_factory("--workers", "2")
    assert fleet.redis_pid is not None and fleet.redis_socket is not None
    assert requests.get(fleet.base_url + "/__admin/health", timeout=10).ok
    assert fleet.stop(signal.SIGTERM) == 0
    assert all(gone(pid) for pid in [*fleet.pids, fleet.redis_pid])
    assert not Path(fleet.redis_socket).parent.exists()  # its folder is removed too


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paysandbox", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_without_redis_server_on_path_it_says_in_one_line_how_to_get_one(
        tmp_path: Path) -> None:
    assert shutil.which("redis-server", path=str(tmp_path)) is None
    done = _serve("--workers", "2", env={"PATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "no redis-server is on PATH" in done.stderr
    assert "apt-get install redis-server" in done.stderr and "--store redis://" in done.stderr


def test_several_workers_refuse_an_explicit_memory_store() -> None:
    for done in (_serve("--workers", "2", "--store", "memory"),
                 _serve(env={"PAYSANDBOX_WORKERS": "3", "PAYSANDBOX_STORE": "memory"})):
        assert done.returncode == 2
        assert done.stderr.strip().count("\n") == 0
        assert "cannot share --store memory" in done.stderr


def test_a_fleet_on_a_redis_cluster_serves_one_state(
        fleet_factory: Callable[..., RunningFleet], redis_cluster_url: str) -> None:
    fleet = fleet_factory("--workers", "2", "--store", redis_cluster_url)
    assert fleet.redis_pid is None  # the cluster given, no private Redis
    key = f"sk_test_{uuid.uuid4().hex}"
    ids, _ = pay_capture_refund(fleet, key)
    for answer in served_by_each(fleet, f"/__admin/payments?namespace={key}&limit=1000"
                                 ).values():
        assert {p["id"] for p in answer.json()["payments"]} == set(ids)


def test_bad_fleet_settings_are_refused_in_one_line() -> None:
    for args, says in ((("--workers", "0"), "workers must be 1..64, got 0"),
                       (("--store", "redis+cluster://127.0.0.1:7000/2"),
                        "a Redis Cluster has one database")):
        done = _serve(*args)
        assert done.returncode == 2
        assert done.stderr.strip().count("\n") == 0 and says in done.stderr


def test_workers_that_keep_dying_stop_the_fleet_with_one_line(
        fleet_factory: Callable[..., RunningFleet], tmp_path: Path) -> None:
    """The restart budget (2 workers x 5 a minute): once a worker cannot start any more
    (here its scenario file broke after the fleet started), the fleet gives up."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nrules:\n  - match: {provider: stripe}\n"
                        "    outcome: approve\n")
    fleet = fleet_factory("--workers", "2", "--scenario", str(scenario))
    scenario.write_text("name: s\nrules: [{match: {provider: nobody}}]\n")
    os.kill(fleet.pids[0], signal.SIGKILL)
    assert fleet.proc.wait(120) == 1
    assert fleet.redis_pid is not None
    assert all(gone(pid) for pid in [*fleet.pids, fleet.redis_pid])
    assert wait_until(lambda: "workers died 11 times within a minute" in fleet.lines[-1])


def test_a_fleet_whose_redis_cannot_be_reached_says_so_once() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _serve("--workers", "2", "--store", f"redis://127.0.0.1:{port}/0")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in done.stderr
