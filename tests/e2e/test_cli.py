"""`paysandbox` as a user runs it: help, providers, serve, and a clean shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import stripe

CMD = [sys.executable, "-m", "paysandbox"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_help_teaches():
    out = run("--help").stdout
    assert "serve" in out and "providers" in out
    serve_help = run("serve", "--help").stdout
    for flag in ("--port", "--webhook PROVIDER=URL", "--clock-scale", "PAYSANDBOX_WEBHOOK_"):
        assert flag in serve_help
    assert 'base_addresses={"api": "http://127.0.0.1:12111/stripe"}' in serve_help


def test_providers_lists_base_urls():
    out = run("providers", env={"PAYSANDBOX_PORT": "13000"}).stdout
    assert re.search(r"stripe\s+Stripe\s+http://127\.0\.0\.1:13000/stripe", out)


def test_bad_settings_are_clear_errors():
    res = run("serve", "--webhook", "stripe")
    assert res.returncode == 2
    assert "PROVIDER=VALUE" in res.stderr
    res = run("serve", "--port", "0", "--admin-token", "   ")
    assert res.returncode == 2
    assert "admin token" in res.stderr  # a blank token is refused, not accepted
    res = run("serve", "--port", "0", "--webhook", "stripe=http://169.254.169.254/latest")
    assert res.returncode == 2
    assert "destination not allowed: 169.254.169.254" in res.stderr


class _Hook(BaseHTTPRequestHandler):
    got: list[bytes] = []

    def do_POST(self) -> None:
        _Hook.got.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.got = []
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_urls_serves_the_sdk_and_stops_cleanly(receiver: str, sig: signal.Signals):
    proc = subprocess.Popen(
        [*CMD, "serve", "--port", "0", "--webhook", f"stripe={receiver}",
         "--webhook-secret", "stripe=whsec_cli_test"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        banner = "".join(lines)
        base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner).group(1)
        assert f"{base}/stripe" in banner
        assert f"{base}/__admin/" in banner
        assert f"stripe         -> {receiver}  (secret whsec_cli_test)" in banner

        client = stripe.StripeClient("sk_test_cli", base_addresses={"api": f"{base}/stripe"},
                                     max_network_retries=0)
        pi = client.v1.payment_intents.create(params={
            "amount": 1000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
        assert pi.status == "succeeded"
        assert requests.get(f"{base}/__admin/health", timeout=10).json()["status"] == "ok"
        deadline = time.monotonic() + 10
        while len(_Hook.got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_Hook.got) == 3
    finally:
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "shutting down" in out
    assert "webhooks: 3 delivered, 0 failed, 0 still owed" in out
    assert "Traceback" not in out


def test_shutdown_reports_deliveries_still_owed():
    """A receiver that is down: the retry is scheduled hours ahead, so it is reported."""
    proc = subprocess.Popen([*CMD, "serve", "--port", "0", "--drain-timeout", "1",
                             "--webhook", "stripe=http://127.0.0.1:9/unreachable"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = ""
        while not banner.endswith("first.\n"):
            banner += proc.stdout.readline()  # type: ignore[union-attr]
        base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner).group(1)
        client = stripe.StripeClient("sk_test_cli", base_addresses={"api": f"{base}/stripe"},
                                     max_network_retries=0)
        client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            d = requests.get(f"{base}/__admin/webhooks/deliveries", timeout=10).json()
            if d["deliveries"] and d["deliveries"][0]["attempts"]:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "webhooks: 0 delivered, 0 failed, 1 still owed" in out


def test_a_busy_port_is_one_line_naming_the_flag():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"paysandbox: port {port} on 127.0.0.1 is in use; choose another with --port "
        "(or PAYSANDBOX_PORT; 0 picks a free one)"]


@pytest.mark.parametrize("argv", [
    ["scenarios", "load", "--url", "http://127.0.0.1:1", "happy-path"],
    ["scenarios", "--url", "http://127.0.0.1:1", "load", "happy-path"]],
    ids=["options-after-the-action", "options-before-it"])
def test_scenarios_options_work_where_users_put_them(argv):
    done = run(*argv)  # nothing listens on port 1: the URL given is the one tried
    assert done.returncode == 1
    assert "cannot reach the simulator at http://127.0.0.1:1" in done.stderr


def test_scenarios_ready_lists_the_shipped_scenarios():
    names = run("scenarios", "ready").stdout.split()
    assert "acquirer-brownout" in names and "happy-path" in names
    assert names == sorted(names)


def test_an_unknown_scenario_name_says_what_is_shipped():
    done = run("validate", "acquirer-brownot")
    assert done.returncode == 1
    assert "did you mean acquirer-brownout?" in done.stdout
