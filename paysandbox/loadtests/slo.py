"""SLO gates: `p95<300ms`, `errors<1%`, `POST /payments:p99<1s`, `rps>50`.

    [NAME:]METRIC OP THRESHOLD
    METRIC  avg | median | p50 | p90 | p95 | p99 | p999 | max | errors | rps
    OP      < | <= | > | >=
    THRESHOLD  300ms, 1.5s, 2% (errors), 50 (rps)

Without NAME a gate applies to the aggregated row; with NAME to the request of that name
(the name Locust shows, with or without its method). Pure functions: no Locust import.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_GATE = re.compile(r"^\s*(?:(?P<name>.+?)\s*:\s*)?(?P<metric>avg|median|p\d{2,3}|max|errors|"
                   r"error_rate|failures|rps)\s*(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)"
                   r"\s*(?P<unit>ms|s|%)?\s*$", re.IGNORECASE)
AGGREGATED = "Aggregated"


class SloError(ValueError):
    pass


@dataclass(frozen=True)
class Slo:
    text: str
    name: str | None
    metric: str
    op: str
    threshold: float  # ms for times, a ratio 0..1 for errors, req/s for rps

    def describe(self, value: float) -> str:
        return f"{self.metric} = {_fmt(self.metric, value)} (gate {self.op} " \
               f"{_fmt(self.metric, self.threshold)})"


def _fmt(metric: str, value: float) -> str:
    if metric == "errors":
        return f"{value * 100:.2f}%"
    if metric == "rps":
        return f"{value:.1f} req/s"
    return f"{value:.0f} ms"


def parse(text: str) -> Slo:
    m = _GATE.match(text)
    if not m:
        raise SloError(f"cannot read SLO {text!r}: write [NAME:]METRIC OP THRESHOLD, e.g. "
                       "'p95<300ms', 'errors<1%', 'POST /payments:p99<1s', 'rps>50'")
    metric = m["metric"].lower()
    metric = {"median": "p50", "error_rate": "errors", "failures": "errors"}.get(metric, metric)
    value, unit = float(m["value"]), (m["unit"] or "").lower()
    if metric == "errors":
        if unit not in ("%", ""):
            raise SloError(f"{text!r}: errors take a percentage, e.g. errors<1%")
        value = value / 100 if unit == "%" else value
    elif metric == "rps":
        if unit:
            raise SloError(f"{text!r}: rps takes a plain number, e.g. rps>50")
    else:
        if unit == "%":
            raise SloError(f"{text!r}: {metric} takes a duration, e.g. {metric}<300ms")
        value = value * 1000 if unit == "s" else value
        if metric not in ("avg", "max") and not 1 <= int(metric[1:]) <= 999:
            raise SloError(f"{text!r}: no such percentile")
    return Slo(text.strip(), m["name"], metric, m["op"], value)


@dataclass(frozen=True)
class Verdict:
    slo: Slo
    row: str
    value: float | None
    passed: bool

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        if self.value is None:
            return f"{mark} {self.slo.text}: no request named {self.slo.name!r} was made"
        return f"{mark} {self.slo.text}: {self.row} {self.slo.describe(self.value)}"

    def to_json(self) -> dict[str, Any]:
        return {"slo": self.slo.text, "request": self.row, "metric": self.slo.metric,
                "value": self.value, "threshold": self.slo.threshold, "passed": self.passed}


def metric_of(row: Mapping[str, Any], metric: str) -> float:
    """`row`: num_requests, num_failures, rps, avg, max and percentiles {0.95: ms}."""
    if metric == "errors":
        n = row["num_requests"]
        return row["num_failures"] / n if n else 0.0
    if metric in ("rps", "avg", "max"):
        return float(row[metric])
    percent = int(metric[1:])
    fraction = percent / (1000 if len(metric) == 4 else 100)
    return float(row["percentiles"](fraction))


def evaluate(slos: Iterable[Slo], rows: Mapping[str, Mapping[str, Any]]) -> list[Verdict]:
    """`rows` by request name ("POST /payments", keyed also as "/payments") plus
    "Aggregated". A gate naming a request that was never made fails: a silent pass
    would hide a typo."""
    verdicts = []
    for slo in slos:
        key = slo.name or AGGREGATED
        row = rows.get(key)
        if row is None:
            verdicts.append(Verdict(slo, key, None, False))
            continue
        value = metric_of(row, slo.metric)
        verdicts.append(Verdict(slo, key, value, _OPS[slo.op](value, slo.threshold)))
    return verdicts
