"""Scenario files as QA uses them: validate, serve --scenario, --watch, reload under load."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer

CMD = [sys.executable, "-m", "paysandbox"]
GOOD = """name: declines
rules:
  - match: {provider: stripe, operation: authorize}
    outcome: {decline: insufficient_funds}
"""
BAD = """name: declines
rules:
  - match: {provider: stripe, operation: authorize}
    outcome: {decline: insuficient_funds}
    latncy: 5s
"""


def test_validate_prints_every_error_with_its_place(tmp_path: Path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    res = subprocess.run([*CMD, "validate", str(good), str(bad)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert any(re.match(rf"{re.escape(str(bad))}:4:\d+ \$\.rules\[0\]\.outcome\.decline: .*"
                        r"insufficient_funds", line) for line in lines), res.stdout
    assert any(line.startswith(f"{bad}:5:5 ") and "'latency'" in line for line in lines), \
        res.stdout
    assert str(good) not in res.stdout.replace(f"{bad}", "")
    ok = subprocess.run([*CMD, "validate", str(good)], capture_output=True, text=True,
                        timeout=60)
    assert ok.returncode == 0


def test_serve_refuses_a_bad_scenario_and_starts_nothing(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    res = subprocess.run([*CMD, "serve", "--port", "0", "--scenario", str(bad)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert f"{bad}:4:" in res.stderr
    assert "listening" not in res.stdout


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    path = tmp_path / "live.yaml"
    path.write_text(GOOD)
    proc = subprocess.Popen([*CMD, "serve", "--port", "0", "--scenario", str(path), "--watch"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PAYSANDBOX_LOG_LEVEL": "info"})
    banner = ""
    while "Ctrl-C" not in banner:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line, banner
        banner += line
    base = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner).group(1)  # type: ignore[union-attr]
    assert "(watching for changes)" in banner
    try:
        yield base, path, proc
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def _outcome(base: str) -> object:
    with urllib.request.urlopen(f"{base}/__admin/scenarios", timeout=10) as resp:
        return json.loads(resp.read())["scenarios"][0]["document"]["rules"][0]["outcome"]


def test_watch_reloads_good_edits_and_keeps_running_on_bad_ones(served):
    base, path, _proc = served
    client = stripe.StripeClient("sk_test_watch", base_addresses={"api": f"{base}/stripe"},
                                 max_network_retries=0)
    params = {"amount": 100, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"}
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.create(params=params)

    time.sleep(1.1)  # a distinct modification time
    path.write_text(GOOD.replace("{decline: insufficient_funds}", "approve"))
    deadline = time.monotonic() + 10
    while _outcome(base) != "approve":
        assert time.monotonic() < deadline, "the edit was never reloaded"
        time.sleep(0.1)
    assert client.v1.payment_intents.create(params=params).status == "succeeded"

    time.sleep(1.1)
    path.write_text(BAD)
    time.sleep(1.5)  # several watch intervals
    assert _outcome(base) == "approve"
    assert client.v1.payment_intents.create(params=params).status == "succeeded"


def test_reloading_under_load_drops_no_request(payment_simulator: SimulatorServer,
                                               make_stripe):
    client = make_stripe()
    variants = [f"name: flip\nrules: [{{match: {{provider: stripe}}, latency: {ms}ms}}]\n"
                for ms in (0, 1, 2)]
    stop = threading.Event()
    reloads = 0

    def reload_forever() -> None:
        nonlocal reloads
        while not stop.is_set():
            payment_simulator.use_scenario(variants[reloads % 3])
            reloads += 1

    def pay(_: int) -> str:
        return client.v1.payment_intents.create(params={
            "amount": 100, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa"}).status

    reloader = threading.Thread(target=reload_forever)
    reloader.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(pay, range(200)))
    finally:
        stop.set()
        reloader.join(30)
    assert statuses == ["succeeded"] * 200
    assert reloads > 3


def test_scenarios_command_drives_a_running_simulator(payment_simulator: SimulatorServer,
                                                      tmp_path: Path):
    path = tmp_path / "manual.yaml"
    path.write_text("name: later\nstart: manual\nphases:\n  - {name: down, after: 0s, "
                    "for: 1h, rules: [{fault: {http: 503}}]}\n")
    url = ["--url", payment_simulator.base_url]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CMD, "scenarios", *args, *url], capture_output=True,
                              text=True, timeout=60)

    assert run("load", str(path)).stdout.strip() == f"loaded later from {path}"
    assert "later" in run("list").stdout and "not started" in run("list").stdout
    assert run("start", "later").returncode == 0
    assert "active phases: down" in run("list").stdout
    assert run("unload", "later").returncode == 0
    missing = run("start", "later")
    assert missing.returncode == 1 and "No scenario 'later'" in missing.stderr
