"""SLO gate parsing and evaluation, load shape profiles, and the report page: pure
functions, no Locust run."""

from __future__ import annotations

from pathlib import Path

import pytest

from paysandbox.loadtests import slo
from paysandbox.loadtests.profiles import profile
from paysandbox.loadtests.report import bar_chart, build_report, line_chart


def row(n: int, failures: int, p95: float) -> dict[str, object]:
    return {"num_requests": n, "num_failures": failures, "rps": n / 10, "avg": p95 / 2,
            "max": p95 * 2, "percentiles": lambda f: p95 if f >= 0.95 else p95 / 2}


@pytest.mark.parametrize(("text", "name", "metric", "op", "threshold"), [
    ("p95<300ms", None, "p95", "<", 300),
    ("p99 <= 1.5s", None, "p99", "<=", 1500),
    ("errors<1%", None, "errors", "<", 0.01),
    ("POST /payments:p95<300ms", "POST /payments", "p95", "<", 300),
    ("stripe: create+confirm:errors<0.5%", "stripe: create+confirm", "errors", "<", 0.005),
    ("rps>50", None, "rps", ">", 50),
    ("median<100ms", None, "p50", "<", 100),
])
def test_gates_parse(text: str, name: str | None, metric: str, op: str,
                     threshold: float) -> None:
    gate = slo.parse(text)
    assert (gate.name, gate.metric, gate.op) == (name, metric, op)
    assert gate.threshold == pytest.approx(threshold)


@pytest.mark.parametrize("text", ["p95", "p95<3%", "errors<3ms", "rps>5s", "latency<3ms"])
def test_a_bad_gate_says_how_to_write_one(text: str) -> None:
    with pytest.raises(slo.SloError, match=r"p95<300ms|errors take|takes a"):
        slo.parse(text)


def test_gates_pass_and_fail_per_request_and_overall() -> None:
    rows = {"POST /payments": row(100, 0, 120), slo.AGGREGATED: row(200, 5, 400)}
    verdicts = slo.evaluate([slo.parse("POST /payments:p95<300ms"),
                             slo.parse("POST /payments:errors<1%"),
                             slo.parse("p95<300ms"), slo.parse("errors<1%"),
                             slo.parse("GET /typo:p95<1s")], rows)
    assert [v.passed for v in verdicts] == [True, True, False, False, False]
    assert "errors = 2.50% (gate < 1.00%)" in str(verdicts[3])
    assert "no request named 'GET /typo'" in str(verdicts[4])


@pytest.mark.parametrize(("kind", "expected"), [
    ("ramp", [1, 5, 10, 10, 10, 10]),
    ("step", [3, 3, 5, 8, 10, 10]),
    ("spike", [2, 2, 2, 10, 2, 2]),
    ("soak", [1, 10, 10, 10, 10, 10]),
    ("scenario", [10, 10, 10, 10, 10, 10]),
])
def test_shapes_follow_their_profile_and_end_on_time(kind: str, expected: list[int]) -> None:
    assert [profile(kind, t, 10, 60) for t in (0, 10, 20, 30, 45, 55)] == expected
    assert profile(kind, 60, 10, 60) is None


def test_charts_are_inline_svg_with_labels() -> None:
    svg = line_chart("Throughput", {"requests/s": [(0, 1), (5, 3)]}, unit="/s")
    assert "<svg" in svg and "polyline" in svg and "requests/s" in svg
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    bars = bar_chart("Outcomes", [("stripe: captured", 3), ("adyen: <b>", 1)])
    assert "stripe: captured" in bars and "&lt;b&gt;" in bars


def test_report_without_a_simulator_still_writes_both_files(tmp_path: Path) -> None:
    (tmp_path / "locust_stats.csv").write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
        "POST,POST /payments,10,1,20,25,5,90,100,2.0,0.2,20,22,25,30,40,60,80,90,90,90,90\n"
        ",Aggregated,10,1,20,25,5,90,100,2.0,0.2,20,22,25,30,40,60,80,90,90,90,90\n")
    summary = build_report(tmp_path, simulator=None, title="t",
                           slo=[{"slo": "errors<1%", "request": "Aggregated", "value": 0.1,
                                 "metric": "errors", "threshold": 0.01, "passed": False}])
    assert "requests: 10, failures: 1 (10.00%)" in summary
    assert "SLO errors<1%: FAIL" in summary
    page = (tmp_path / "report.html").read_text()
    assert "POST /payments" in page and "FAIL" in page
    assert (tmp_path / "summary.md").read_text() == summary
