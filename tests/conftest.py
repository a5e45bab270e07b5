"""Shared fixtures: the simulator comes from the package's own pytest plugin
(`payment_simulator`); here are SDK clients and a webhook receiver."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
import stripe

from paysandbox.contract_report import groups_from_report, render_text
from paysandbox.examples.payment_service.config import for_simulator
from paysandbox.examples.payment_service.server import ServiceServer, simulator_providers
from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer
from tests import spec_check

# The whole suite runs the simulator in test mode: every response and webhook it emits
# is checked against its contract, and a test that saw a mismatch fails (below).
os.environ.setdefault("PAYSANDBOX_CHECK_RESPONSES", "1")


@pytest.fixture(autouse=True)
def _responses_keep_their_contracts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "payment_simulator" not in request.fixturenames:
        return
    server: SimulatorServer = request.getfixturevalue("payment_simulator_server")
    report = server.admin("GET", "/contracts")
    ours = [g for g in groups_from_report(report) if g.source != "request"]
    if ours:
        pytest.fail("The simulator emitted bodies that break their contracts:\n"
                    + render_text(ours), pytrace=False)
    _bodies_keep_the_published_specs(server)


def _bodies_keep_the_published_specs(server: SimulatorServer) -> None:
    """Every response and webhook body of a provider that publishes an OpenAPI document,
    against that document (tests/spec_check.py); tests/providers/test_published_specs.py
    says so when the documents are absent."""
    absent = spec_check.missing()
    if absent is not None:
        if spec_check.required_in_ci():
            pytest.fail(f"{absent}; CI must check the wire formats against them.",
                        pytrace=False)
        return
    found: list[str] = []
    for provider in spec_check.DOCUMENTS:
        entries = server.admin("GET", f"/journal?provider={provider}&limit=10000")["entries"]
        found += spec_check.journal_problems(provider, entries)
        listed = server.admin("GET", f"/webhooks/deliveries?provider={provider}&limit=10000")
        for d in listed["deliveries"]:
            body = server.admin("GET", f"/webhooks/deliveries/{d['id']}")["body"]
            found += spec_check.webhook_problems(provider, body, f"webhook {d['event_type']}")
    if found:
        shown = "\n".join(sorted(set(found))[:40])
        pytest.fail(f"The simulator emitted bodies that break the providers' published "
                    f"OpenAPI documents ({len(set(found))}):\n{shown}", pytrace=False)


@pytest.fixture(scope="session")
def report_mode_server() -> Iterator[SimulatorServer]:
    server = SimulatorServer(Settings(contracts="report", check_responses=True))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lenient(report_mode_server: SimulatorServer) -> SimulatorServer:
    """A second simulator, every provider, in `--contracts report` mode: requests that
    break their contract are served where they can be and recorded. Reset per test."""
    report_mode_server.reset()
    return report_mode_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (never 6379), without persistence;
    its URL. Each test uses its own key prefix (or FLUSHDB) on it."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("The Redis store tests need redis-server: apt-get install redis-server "
                    "(`make test` installs it when run as root).", pytrace=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = workdir / "redis.log"
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}:\n"
                            f"{log.read_text() if log.exists() else ''}", pytrace=False)
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def stripe_key() -> str:
    """A fresh key per test: its own namespace in the simulator."""
    return f"sk_test_{uuid.uuid4().hex}"


@pytest.fixture
def make_stripe(payment_simulator: SimulatorServer) -> Callable[..., stripe.StripeClient]:
    def make(key: str | None = None, **options: Any) -> stripe.StripeClient:
        options.setdefault("max_network_retries", 0)
        return stripe.StripeClient(key or f"sk_test_{uuid.uuid4().hex}",
                                   base_addresses={"api": payment_simulator.url("stripe")},
                                   **options)
    return make


@pytest.fixture
def client(make_stripe: Callable[..., stripe.StripeClient], stripe_key: str) -> stripe.StripeClient:
    return make_stripe(stripe_key)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A local HTTP receiver. It answers `reply`; `fail_first` answers 500 to that many
    requests first, and when `password` is set it asks for Basic auth (401 otherwise)."""

    url: str
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    fail_first: int = 0
    reply: bytes = b"ok"
    user: str | None = None
    password: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    #: What one received request is kept as (a provider's receiver may say more of it).
    record: ClassVar[type[Received]] = Received

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self.received), timeout)

    def types(self) -> list[str]:
        return [r.json()["type"] for r in self.received]


R = TypeVar("R", bound=WebhookReceiver)


@contextlib.contextmanager
def receiving(make: Callable[[str], R]) -> Iterator[R]:
    """Serve the receiver `make(base_url)` builds on 127.0.0.1, in a thread, until the
    block ends."""
    state: dict[str, R] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            rx = state["rx"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rx.lock:
                rx.attempts += 1
                failing = rx.attempts <= rx.fail_first
            if rx.password is not None:
                expected = "Basic " + base64.b64encode(
                    f"{rx.user}:{rx.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
            if failing:
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"receiver down")
                return
            with rx.arrived:
                rx.received.append(rx.record(self.path, dict(self.headers.items()), body))
                rx.arrived.notify_all()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(rx.reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["rx"] = make(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["rx"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hook_server() -> Iterator[WebhookReceiver]:
    """A bare receiver the test configures itself (failing first, Basic auth, odd
    replies); the plugin's own `webhook_receiver` is the one users get."""
    with receiving(lambda base: WebhookReceiver(base + "/hooks")) as rx:
        yield rx


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    """A simulator of the test module's own, with default settings, on a free port (a
    module whose tests need other settings defines its own)."""
    server = SimulatorServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def service(simulator: SimulatorServer) -> Iterator[ServiceServer]:
    """The reference payment service on the module's simulator (reset first), with quick
    retries (a module that needs other settings defines its own)."""
    simulator.reset()
    config = for_simulator(simulator.base_url, simulator_providers(simulator.base_url),
                           retries=1, backoff_s=0.01)
    server = ServiceServer(config).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway 3-node Redis Cluster on loopback (tests/fleet/cluster.py); its
    redis+cluster:// URL. Each test uses its own key prefix on it."""
    from tests.fleet.cluster import ClusterError, local_cluster

    try:
        with local_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
            yield url
    except ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)
