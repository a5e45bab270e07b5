"""A Redis that stalls (SIGSTOP) and dies (SIGKILL, then restarted) under load: requests
get Stripe's retryable error, not a traceback; the log says so once each way; the health
endpoint says so; no idempotency key stays "in progress"; and a client that retries
with the same key converges on one stored result."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer

LEASE = 2.0
WAIT = 60.0  # a safety net for each phase, never an assertion on time


@dataclass
class Redis:
    """A private redis-server this test may pause, kill and start again on one port."""

    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "the Redis tests need redis-server (apt-get install redis-server)"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Redis]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Redis(port, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Load:
    """Threads creating and confirming Stripe payments, each with its own idempotency
    key, and what each key was answered first."""

    base: str
    stop: threading.Event = field(default_factory=threading.Event)
    first: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        with requests.Session() as http:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                try:
                    status = _create(http, self.base, key).status_code
                except requests.RequestException:
                    status = 0  # no answer: the outcome is unknown to the client
                with self.lock:
                    self.first[key] = status


BODY = {"amount": "1000", "currency": "usd", "confirm": "true",
        "payment_method": "pm_card_visa"}


def _create(http: requests.Session, base: str, key: str) -> requests.Response:
    return http.post(f"{base}/stripe/v1/payment_intents", data=BODY, timeout=15,
                     headers={"Authorization": "Bearer sk_test_redis_faults",
                              "Idempotency-Key": key})


def _until(predicate: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"not within {WAIT:.0f} s: {what}")


def _health(base: str) -> int:
    return requests.get(f"{base}/__admin/health", timeout=15).status_code


def test_a_stalled_then_killed_redis_under_load(private_redis: Redis,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    server = SimulatorServer(Settings(store=private_redis.url, idempotency_lease=LEASE))
    server.start()
    load = Load(server.base_url)
    threads = [threading.Thread(target=load.run, daemon=True) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        _until(lambda: len(load.first) > 50, "load under way")

        private_redis.signal(signal.SIGSTOP)  # stalled: connections open, no answers
        _until(lambda: _health(server.base_url) == 503, "health says the store is unreachable")
        health = requests.get(f"{server.base_url}/__admin/health", timeout=15).json()
        assert health["status"] == "store unreachable"
        assert health["store"]["reachable"] is False and health["store"]["error"]
        listed = requests.get(f"{server.base_url}/__admin/payments", timeout=15)
        assert listed.status_code == 503, listed.text  # the admin API says so too
        assert "unreachable" in listed.json()["error"]["message"]
        stalled = len(load.first)
        _until(lambda: len(load.first) > stalled + 4, "requests answered while stalled")
        private_redis.signal(signal.SIGCONT)
        _until(lambda: _health(server.base_url) == 200, "health says the store is back")
        resumed = len(load.first)
        _until(lambda: len(load.first) > resumed + 50, "load served again")

        private_redis.signal(signal.SIGKILL)  # gone, and its data with it (no persistence)
        _until(lambda: _health(server.base_url) == 503, "health says the store is unreachable")
        private_redis.start()
        _until(lambda: _health(server.base_url) == 200, "health says the store is back")
        restarted = len(load.first)
        _until(lambda: len(load.first) > restarted + 50, "load served again")
    finally:
        load.stop.set()
        for t in threads:
            t.join(30)

    try:
        answers = dict(load.first)
        failed = [k for k, status in answers.items() if status != 200]
        assert failed, "neither fault failed a request: the test proved nothing"
        assert {s for s in answers.values() if s not in (0, 200)} <= {500}
        # Every key a client retries ends at one stored result: never stuck in progress,
        # never a second payment for the same key.
        with requests.Session() as http:
            for key in failed:
                deadline = time.monotonic() + LEASE + WAIT
                while True:
                    resp = _create(http, server.base_url, key)
                    if resp.status_code == 200 or time.monotonic() > deadline:
                        break
                    assert resp.status_code in (409, 500), resp.text  # in progress, or down
                    time.sleep(0.1)
                assert resp.status_code == 200, f"key {key} stuck: {resp.text}"
                again = _create(http, server.base_url, key)
                assert again.status_code == 200
                assert again.json()["id"] == resp.json()["id"]
                assert again.headers.get("Idempotent-Replayed") == "true"
    finally:
        server.stop()

    store_lines = [r for r in caplog.records if r.name == "paysandbox.store"]
    assert [r.getMessage().split(":")[0] for r in store_lines] == [
        "store unreachable", "store back", "store unreachable", "store back"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR
              and r.name != "paysandbox.store"]
    assert not errors, [r.getMessage() for r in errors][:5]
