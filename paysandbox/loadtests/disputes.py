"""Disputes in a load run: a dispute rate as a scenario, the virtual clock advanced after
the load so that every dispute the run opened is decided, and the counts by provider,
reason and outcome at the simulator and as the service under test booked them.

A dispute opens days after its payment and is decided days after the evidence is in, on
the simulator's virtual clock; a load lasts minutes. So after the load `settle` moves
the clock in two steps: past the latest opening (every planned dispute opens and its
webhooks reach the service, which answers), then past the longest evidence window and
decision delay (answered disputes are decided, unanswered ones are lost at their
deadline). Between the steps it waits until the simulator is quiet: no webhook owed and
the dispute counts unchanged for a moment, at most `timeout` seconds each time.

Standard library, YAML and HTTP only: no module of the simulator is imported.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.report import duration_s

#: The scenario `--dispute-rate` loads, under this name.
RATE_SCENARIO = "load-disputes"
#: What a dispute can end as at the simulator (`expired`: lost unanswered).
OUTCOMES = ("won", "lost", "expired", "accepted")
OPEN = ("needs_response", "under_review")
#: The operations whose request captures a payment (a dispute rule must match one).
CAPTURING = ["authorize", "capture"]
#: Margin added to the second clock step: the service answers while the virtual clock
#: runs on in real time, so decisions fall a little after "window + decision delay".
MARGIN_S = 3600.0
DEFAULT_TIMEOUT_S = 60.0


def ready_made() -> dict[str, Any]:
    """The ready-made `disputes` scenario (read as a file: no simulator module needed)."""
    text = resources.files("paysandbox").joinpath(
        "scenarios/ready/disputes.yaml").read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def rate_scenario(rate: float) -> dict[str, Any]:
    """The ready-made `disputes` scenario with its reason and outcome mix scaled so that
    a share `rate` of captured payments is disputed, at every provider that renders
    disputes (the simulator opens none at the others).

    Each rule draws in file order and the first that fires opens the dispute, so rule k
    is given q_k / (1 - q_1 - ... - q_{k-1}) for it to fire on a share q_k of captures."""
    if not 0 < rate <= 1:
        raise ValueError(f"--dispute-rate {rate:g}: a share of captured payments, above 0 "
                         "and at most 1 (0.01 is 1%)")
    doc = ready_made()
    rules = [r for r in doc["rules"] if isinstance(r.get("dispute"), dict)]
    weights = [float(r["dispute"].get("probability", 1.0)) for r in rules]
    total, taken = sum(weights), 0.0
    out = []
    for rule, weight in zip(rules, weights, strict=True):
        share = rate * weight / total
        dispute = {**rule["dispute"], "probability": round(min(1.0, share / (1 - taken)), 12)}
        taken += share
        out.append({"name": rule["name"], "match": {"operation": list(CAPTURING)},
                    "dispute": dispute})
    return {"name": RATE_SCENARIO,
            "description": f"{rate:.2%} of captured payments disputed, with the reasons "
                           "and endings of the ready-made disputes scenario",
            "seed": doc.get("seed", 1), "rules": out}


@dataclass(frozen=True)
class Timing:
    """The longest waits of the dispute rules loaded: when the last dispute opens after
    its capture, and how long after opening the last one can be decided."""

    opens_within: float
    decided_within: float


def _dispute_rules(doc: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for rule in doc.get("rules") or ():
        if isinstance(rule, Mapping) and isinstance(rule.get("dispute"), Mapping):
            yield rule["dispute"]
    for phase in doc.get("phases") or ():
        if isinstance(phase, Mapping):
            yield from _dispute_rules(phase)


def timing(scenarios: Iterable[Mapping[str, Any]]) -> Timing | None:
    """The dispute timing of the scenarios the simulator has loaded (`GET
    /__admin/scenarios`); None when none of them opens disputes. Defaults as the
    simulator's: a week to answer, an hour to decide."""
    opens, decided = 0.0, 0.0
    found = False
    for s in scenarios:
        for d in _dispute_rules(s.get("document") or {}):
            found = True
            window = 0.0 if d.get("ends") == "expired" else \
                duration_s(d.get("evidence_window", "7d"))
            opens = max(opens, duration_s(d.get("after", 0)))
            decided = max(decided, window, duration_s(d.get("decide_after", "1h")))
    return Timing(opens, decided) if found else None


Key = tuple[str, str, str]  # provider, reason, outcome


def simulator_counts(summary: Mapping[str, Any]) -> Counter[Key]:
    """Disputes at the simulator from `GET /__admin/payments/summary`."""
    counts: Counter[Key] = Counter()
    for d in summary.get("disputes") or ():
        counts[(str(d["provider"]), str(d["reason"]), str(d["outcome"]))] += int(d["count"])
    return counts


def service_counts(stats: Mapping[str, Any]) -> Counter[Key]:
    """Disputes as the reference payment service booked them, from its `/stats` counts
    `dispute:{provider}:{reason}:{opened|won|lost|expired}` (reason in the provider's
    words)."""
    counts: Counter[Key] = Counter()
    for key, n in (stats.get("counts") or {}).items():
        parts = str(key).split(":")
        if parts[0] == "dispute" and len(parts) >= 4:
            counts[(parts[1], ":".join(parts[2:-1]), parts[-1])] += int(n)
    return counts


def service_stats(target: str, timeout: float = 5.0) -> Mapping[str, Any] | None:
    """The service under test's `/stats`, when it has one as the reference service does
    (JSON with `counts`); None otherwise."""
    try:
        with urllib.request.urlopen(f"{target.rstrip('/')}/stats", timeout=timeout) as resp:
            found = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("counts"), dict) else None


@dataclass
class Settled:
    """What `settle` did: the clock steps (seconds) and how long each wait took."""

    advanced: list[float] = field(default_factory=list)
    waited: list[float] = field(default_factory=list)
    timed_out: bool = False

    @property
    def advanced_s(self) -> float:
        return sum(self.advanced)


def _owed(admin: Admin) -> int:
    deliveries = admin.call("GET", "/webhooks").get("deliveries") or {}
    return int(deliveries.get("pending", 0)) + int(deliveries.get("delivering", 0))


def wait_quiet(admin: Admin, *, timeout: float, interval: float = 0.3, calm: int = 3,
               sleep: Callable[[float], None] = time.sleep) -> tuple[float, bool]:
    """Wait until no webhook is owed and the dispute counts have not changed for `calm`
    reads in a row (scheduled steps run and their webhooks reach the service, which
    answers); at most `timeout` seconds. (seconds waited, whether it timed out)."""
    started = time.monotonic()
    last: Counter[Key] | None = None
    same = 0
    while True:
        counts = simulator_counts(admin.call("GET", "/payments/summary"))
        owed = _owed(admin)
        same = same + 1 if owed == 0 and counts == last else 0
        last = counts
        waited = time.monotonic() - started
        if same >= calm:
            return waited, False
        if waited >= timeout:
            return waited, True
        sleep(interval)


def settle(admin: Admin, *, timeout: float = DEFAULT_TIMEOUT_S,
           sleep: Callable[[float], None] = time.sleep) -> Settled | None:
    """Advance the simulator's clock until every dispute the loaded scenarios opened is
    decided (see the module's docstring); None when no loaded scenario opens disputes."""
    found = timing(admin.call("GET", "/scenarios").get("scenarios") or ())
    if found is None:
        return None
    done = Settled()
    for step in (found.opens_within + 1.0, found.decided_within + MARGIN_S):
        admin.call("POST", "/clock/advance", {"seconds": step})
        done.advanced.append(step)
        waited, timed_out = wait_quiet(admin, timeout=timeout, sleep=sleep)
        done.waited.append(waited)
        done.timed_out = done.timed_out or timed_out
    return done


def duration_words(seconds: float) -> str:
    """30d 1h, 2h, 45s: a clock step in words."""
    parts: list[str] = []
    left = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts) or "0s"
