"""SIGTERM under load, with webhooks owed: `paysandbox serve` exits within
`--drain-timeout` plus a second, with its delivery report and no traceback, on every
Python from 3.11 up that the machine has (pyenv's, as CI has them).

Python 3.11's `asyncio.wait_for` can swallow a cancellation, which once left the
dispatcher's stop() waiting forever under webhook traffic; hence every interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
MINORS = ("3.11", "3.12", "3.13")
DRAIN = 2.0
MARGIN = 1.0  # the promise: --drain-timeout plus a second
SETUP_TIMEOUT = 300  # creating a throwaway venv and installing the dependencies


def _pyenv_root() -> Path | None:
    found = shutil.which("pyenv")
    if found:
        try:
            out = subprocess.run([found, "root"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    return root if root.is_dir() else None


def _interpreter(minor: str) -> Path | None:
    """The current interpreter when it is that version, else pyenv's newest of it."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == minor:
        return Path(sys.executable)
    root = _pyenv_root()
    if root is None:
        return None
    versions = sorted((p for p in (root / "versions").glob(f"{minor}.*")
                       if re.fullmatch(rf"{re.escape(minor)}\.\d+", p.name)
                       and (p / "bin" / "python").exists()),
                      key=lambda p: int(p.name.rsplit(".", 1)[1]))
    return versions[-1] / "bin" / "python" if versions else None


def _imports(python: Path) -> bool:
    probe = subprocess.run([str(python), "-c", "import paysandbox.app"], capture_output=True,
                           timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    return probe.returncode == 0


@pytest.fixture(scope="session", params=MINORS)
def python(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter of that version that imports the simulator from this checkout: as
    it is, or a throwaway venv with the runtime dependencies from pyproject.toml."""
    minor = request.param
    found = _interpreter(minor)
    if found is None:
        reason = f"Python {minor} not found (pyenv root: {_pyenv_root()})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must test shutdown on every Python it has.",
                        pytrace=False)
        pytest.skip(reason)
    if _imports(found):
        return found
    venv = tmp_path_factory.mktemp(f"py{minor}")
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    subprocess.run([str(found), "-m", "venv", str(venv)], check=True, timeout=SETUP_TIMEOUT)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *deps],
                   check=True, timeout=SETUP_TIMEOUT)
    python = venv / "bin" / "python"
    assert _imports(python), f"the simulator does not import on {python}"
    return python


class _SlowReceiver(BaseHTTPRequestHandler):
    """Accepts every webhook, a quarter of a second later: deliveries pile up."""

    protocol_version = "HTTP/1.1"
    got = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(0.25)
        _SlowReceiver.got += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowReceiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def _load(base: str, stop: threading.Event, statuses: list[int]) -> None:
    """create+confirm on one keep-alive connection until told to stop or refused."""
    with requests.Session() as http:
        http.headers["Authorization"] = "Bearer sk_test_shutdown"
        while not stop.is_set():
            try:
                resp = http.post(f"{base}/stripe/v1/payment_intents", timeout=10, data={
                    "amount": 1000, "currency": "usd", "confirm": "true",
                    "payment_method": "pm_card_visa"})
            except requests.RequestException:
                return  # the server closed the connection: it is shutting down
            statuses.append(resp.status_code)


def test_sigterm_under_webhook_load_exits_in_time(python: Path, receiver: str) -> None:
    proc = subprocess.Popen(
        [str(python), "-m", "paysandbox", "serve", "--port", "0", "--log-level", "warning",
         "--drain-timeout", str(DRAIN), "--webhook", f"stripe={receiver}",
         "--delivery-concurrency", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    stop = threading.Event()
    statuses: list[int] = []
    loaders: list[threading.Thread] = []
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in banner and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            banner += line
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner)
        assert found, banner
        base = found.group(1)
        loaders = [threading.Thread(target=_load, args=(base, stop, statuses), daemon=True)
                   for _ in range(4)]
        for t in loaders:
            t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until deliveries are owed and in flight
            hooks = requests.get(f"{base}/__admin/webhooks", timeout=10).json()["deliveries"]
            if hooks["pending"] > 50 and hooks["delivering"] > 0:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no webhook backlog built up: {hooks}")
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=DRAIN + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            pytest.fail(f"still running {DRAIN + 30:.0f} s after SIGTERM:\n{banner}{out}")
        took = time.monotonic() - sent
    finally:
        stop.set()
        for t in loaders:
            t.join(15)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    report = re.search(r"webhooks: (\d+) delivered, (\d+) failed, (\d+) still owed", out)
    assert report, out
    assert int(report.group(3)) > 0, out  # the backlog was reported, not lost silently
    assert statuses and not [s for s in statuses if s >= 500], statuses[-20:]
    assert took <= DRAIN + MARGIN, f"exit took {took:.2f} s:\n{out}"
