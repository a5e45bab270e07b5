"""Two `paysandbox serve` processes on one real redis-server share one webhook outbox: one
is killed with SIGKILL mid-load while deliveries and retries are owed, and the survivor
still delivers every listed event at least once, signed as Stripe signs it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
import stripe

from tests.outbox.receiver import Receiver, free_port
from tests.waiting import wait_until

PAYMENTS = 60


class Serve:
    """One `paysandbox serve` process on the shared Redis."""

    def __init__(self, redis_url: str, receiver: Receiver, logs: Path, name: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = logs / f"{name}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "paysandbox", "serve", "--port", str(self.port),
                 "--store", redis_url, "--webhook",
                 f"stripe=http://127.0.0.1:{receiver.port}/hook",
                 # a retry 300 virtual seconds later is 3 s away; a silent process's
                 # deliveries go to the other after 2 s
                 "--clock-scale", "100", "--delivery-lease", "2"],
                stdout=out, stderr=subprocess.STDOUT)

    def admin(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base}/__admin{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def up(self) -> bool:
        try:
            return bool(self.admin("/health")["status"] == "ok")
        except (OSError, urllib.error.URLError):
            return False

    def stripe(self, key: str) -> stripe.StripeClient:
        return stripe.StripeClient(key, base_addresses={"api": f"{self.base}/stripe"},
                                   max_network_retries=0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fleet(redis_url: str, tmp_path: Path,
          receiver: Receiver) -> Iterator[tuple[Serve, Serve, Receiver]]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    doomed = Serve(redis_url, receiver, tmp_path, "doomed")
    survivor = Serve(redis_url, receiver, tmp_path, "survivor")
    try:
        for s in (doomed, survivor):
            assert wait_until(s.up, timeout=60), s.log.read_text()
        yield doomed, survivor, receiver
    finally:
        for s in (doomed, survivor):
            s.stop()
        client.flushdb()
        client.close()


def test_a_killed_process_owes_no_webhook_the_survivor_does_not_send(
        fleet: tuple[Serve, Serve, Receiver]) -> None:
    doomed, survivor, receiver = fleet
    key = f"sk_test_{uuid.uuid4().hex}"
    done: list[str] = []
    refused: list[int] = []  # payments whose process was gone: sent again to the other
    server_errors: list[str] = []

    def pay(n: int) -> None:
        first = doomed if n % 2 else survivor
        for s in (first, survivor):
            try:
                pi = s.stripe(key).v1.payment_intents.create(params={
                    "amount": 1000 + n, "currency": "eur", "payment_method": "pm_card_visa",
                    "confirm": True})
            except stripe.APIConnectionError:
                refused.append(n)  # the process was killed: a load balancer moves on
                continue
            except stripe.StripeError as exc:
                if (exc.http_status or 0) >= 500:
                    server_errors.append(f"{n}: {exc.http_status} {exc}")
                    return
                raise
            assert pi.status == "succeeded"
            done.append(pi.id)
            return

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(pay, n) for n in range(PAYMENTS)]
        # Kill one process half-way through the load, once it has made attempts (so it
        # owes retries, and holds deliveries while the receiver thinks).
        dead = f":{doomed.proc.pid}:"

        def attempted() -> bool:
            log = survivor.admin("/webhooks/deliveries?limit=1000")["deliveries"]
            return any(dead in a["process"] for d in log for a in d["attempts"])

        assert wait_until(lambda: len(done) >= PAYMENTS // 2 and attempted(), timeout=60)
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(10)
        for f in futures:
            f.result(timeout=60)

    assert server_errors == []
    assert len(done) == PAYMENTS  # every payment answered, by one process or the other
    events = [e.id for e in survivor.stripe(key).v1.events.list(
        params={"limit": 100}).auto_paging_iter()]
    assert len(events) >= PAYMENTS  # at least one event per payment

    # Every event the fleet listed is delivered at least once; the survivor sends the
    # retries that were owed when the other died, and what it held, after its lease.
    assert wait_until(lambda: set(events) <= receiver.delivered_ids(), timeout=90), (
        f"{len(set(events) - receiver.delivered_ids())} of {len(events)} events never "
        f"delivered; survivor log:\n{survivor.log.read_text()[-3000:]}")
    assert receiver.bad_signatures == 0  # signed with Stripe's scheme, found by name
    assert wait_until(lambda: survivor.admin("/webhooks")["deliveries"]["pending"] == 0
                      and survivor.admin("/webhooks")["deliveries"]["delivering"] == 0,
                      timeout=60)

    # The survivor's delivery log is the fleet's: it lists the deliveries of both
    # processes, including attempts made by the one that died.
    log = survivor.admin("/webhooks/deliveries?limit=10000")["deliveries"]
    by_event = {d["event_id"]: d for d in log if d["state"] == "delivered"}
    assert set(events) <= set(by_event)
    alive = f":{survivor.proc.pid}:"
    processes = {a["process"] for d in log for a in d["attempts"]}
    assert any(dead in p for p in processes), processes
    assert any(alive in p for p in processes), processes
    # … and deliveries the dead one began (a first attempt) that the survivor finished.
    taken_over = [d for d in by_event.values()
                  if dead in d["attempts"][0]["process"]
                  and alive in d["attempts"][-1]["process"]]
    assert taken_over, "no delivery begun by the killed process was finished by the other"
    assert all(d["attempts"][-1]["status"] == 200 for d in by_event.values())
