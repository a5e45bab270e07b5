"""What the simulator did during a run, sampled while it runs: its process (CPU seconds,
resident memory) from `GET /__admin/health`, and every journal entry (provider, status,
injected fault, latency) read as it arrives with `GET /__admin/journal?after=SEQ`, so the
report covers the whole run and not the journal's last 10,000 entries.

Bounded: at most MAX_SAMPLES process samples (past that, every other one is dropped and
the interval doubles); per provider and time bucket a reservoir of RESERVOIR latencies
(uniform sample) and counters. A journal that turned over between two reads (more than
its size in one interval) is counted as `missed`, never guessed. Standard library only.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.words import fault_words, status_words

MAX_SAMPLES = 2000
RESERVOIR = 500
JOURNAL_PAGE = 10_000


@dataclass
class Sampled:
    """The aggregates; times are epoch seconds, buckets start at `origin`."""

    origin: float
    bucket_s: float
    process: list[tuple[float, float | None, int | None]] = field(default_factory=list)
    pid: int | None = None
    latency: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    seen: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[tuple[int, str]] = field(default_factory=Counter)
    answers: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    entries: int = 0
    missed: int = 0
    problems: list[str] = field(default_factory=list)


def is_error(status: int, fault: str | None) -> bool:
    """What the provider did wrong, as a planner counts it: an injected fault, a 5xx, a
    rate limit, or a connection broken on purpose (the journal's 444). Declines (402)
    and the client's own mistakes are answers, not errors."""
    return bool(fault) or status >= 500 or status in (429, 444)


class SimulatorSampler(threading.Thread):
    def __init__(self, admin: Admin, *, origin: float, bucket_s: float,
                 interval: float = 1.0,
                 started: Callable[[], float | None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`started`: when the load started, once known (None before); the journal is
        read from then on, with buckets from that time. Without it, `origin`."""
        super().__init__(name="simulator-sampler", daemon=True)
        self.admin, self.interval = admin, interval
        self.data = Sampled(origin=origin, bucket_s=bucket_s)
        self._load_started = started
        self._clock = clock
        self._halt = threading.Event()
        self._rng = random.Random(0)
        self._after = 0

    def prime(self) -> None:
        """Remember where the journal stands, so entries from before the run stay out."""
        try:
            newest = self.admin.call("GET", "/journal", limit=1, bodies="false")["entries"]
            self._after = newest[0]["seq"] if newest else 0
        except (OSError, RuntimeError, KeyError, IndexError) as exc:
            self.data.problems.append(f"journal: {exc}")

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> Sampled:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=30)
        self._load_started = None  # read what is left even if the start was never told
        self.sample()  # the last few entries
        return self.data

    def _origin_known(self) -> bool:
        if self._load_started is None:
            return True
        at = self._load_started()
        if at is None:
            return False
        self.data.origin, self._load_started = at, None
        return True

    def sample(self) -> None:
        data = self.data
        try:
            health = self.admin.call("GET", "/health")
            proc = health.get("process") or {}
            data.pid = proc.get("pid", data.pid)
            data.process.append((self._clock(), proc.get("cpu_s"), proc.get("rss_bytes")))
            if len(data.process) > MAX_SAMPLES:
                data.process[:] = data.process[::2]
                self.interval *= 2
        except (OSError, RuntimeError, ValueError) as exc:
            if len(data.problems) < 5:
                data.problems.append(f"health: {exc}")
        if not self._origin_known():
            return
        try:
            entries = self.admin.call("GET", "/journal", limit=JOURNAL_PAGE, bodies="false",
                                      after=self._after)["entries"]
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            if len(data.problems) < 5:
                data.problems.append(f"journal: {exc}")
            return
        if not entries:
            return
        oldest = min(e["seq"] for e in entries)
        data.missed += max(0, oldest - self._after - 1)
        self._after = max(e["seq"] for e in entries)
        for e in entries:
            self.fold(e)

    def fold(self, e: dict[str, Any]) -> None:
        data = self.data
        data.entries += 1
        provider, status, fault = e["provider"], int(e["status"]), e.get("fault")
        b = int((float(e["at"]) - data.origin) // data.bucket_s)
        key = (provider, b)
        data.seen[key] += 1
        sample = data.latency.setdefault(key, [])
        ms = float(e.get("duration_ms") or 0.0)
        if len(sample) < RESERVOIR:
            sample.append(ms)
        else:  # reservoir sampling: every entry of the bucket equally likely kept
            j = self._rng.randrange(data.seen[key])
            if j < RESERVOIR:
                sample[j] = ms
        data.answers[(provider, status, fault or "")] += 1
        if fault:
            data.faults[f"{provider}: {fault_words(fault, status)}"] += 1
        if is_error(status, fault):
            data.errors[(b, f"{provider}: {status_words(status, fault)}")] += 1
        for rule in e.get("scenario_rules") or ():
            data.rules[rule] += 1
