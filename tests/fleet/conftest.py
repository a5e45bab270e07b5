"""`paysandbox serve --workers N` as a user runs it: a real parent process, its workers
and its private redis-server, read through the banner it prints. Every wait is bounded,
and every fleet started here is stopped (then killed, if it must be) at the end."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

START_TIMEOUT = 90.0  # seconds for a fleet to print its banner, on a busy machine
STOP_TIMEOUT = 60.0  # seconds for SIGTERM to end it (its drain timeout is shorter)


@dataclass
class RunningFleet:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    port: int = 0
    pids: list[int] = field(default_factory=list)
    redis_pid: int | None = None
    redis_socket: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def _read(stream: object, into: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line.rstrip("\n"))
    into.put(None)


def start_fleet(*args: str, env: dict[str, str] | None = None) -> RunningFleet:
    """`python -m paysandbox serve ARGS` with its banner read; fails the test with what
    it printed if the banner does not come."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paysandbox", "serve", "--port", "0", "--drain-timeout", "1",
         *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})})
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read, args=(proc.stdout, lines), daemon=True).start()
    fleet = RunningFleet(proc)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            if proc.poll() is None:
                fleet.stop(signal.SIGKILL)
            pytest.fail("the fleet did not print its banner:\n" + "\n".join(fleet.lines),
                        pytrace=False)
        fleet.lines.append(line)
        if found := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
            fleet.port = int(found.group(1))
        if line.startswith("workers "):
            fleet.pids = [int(p) for p in re.findall(r"\d+", line.split("pids", 1)[1])]
        if line.startswith("store "):
            if found := re.search(r"redis-server \(pid (\d+)\) at unix://(\S+),", line):
                fleet.redis_pid, fleet.redis_socket = int(found.group(1)), found.group(2)
            break
    # Keep reading its output (a full pipe would block a worker), for the test to see.
    threading.Thread(target=_keep, args=(lines, fleet.lines), daemon=True).start()
    return fleet


def _keep(lines: queue.Queue[str | None], into: list[str]) -> None:
    for line in iter(lines.get, None):
        into.append(line)


@pytest.fixture
def fleet_factory() -> Iterator[Callable[..., RunningFleet]]:
    started: list[RunningFleet] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RunningFleet:
        started.append(start_fleet(*args, env=env))
        return started[-1]

    yield start
    for fleet in started:
        fleet.stop()


def gone(pid: int) -> bool:
    """Whether no process has this pid any more (a fleet reaps its own children)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
