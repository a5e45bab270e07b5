"""The load report tells the truth: each defect a capacity planner found, on synthetic
data (a stand-in admin API and Locust CSVs), plus the simulator's own summary endpoint
past the payments list's 10,000 limit."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paysandbox.app import ENGINE
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Status
from paysandbox.core.tenancy import tenant
from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.report import (
    _legend,
    bucket_for,
    build_report,
    counts_series,
    full_buckets,
    line_chart,
    phase_bands,
    request_label,
    simulator_view,
    slo_value,
)
from paysandbox.loadtests.sampler import SimulatorSampler
from paysandbox.loadtests.words import error_kind, failure_text, percent, status_words
from paysandbox.testing.server import SimulatorServer

T0 = 1_800_000_000.0  # the load's start in the synthetic runs (epoch seconds)

HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response "
          "Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,"
          "Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n")
HISTORY = ("Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,"
           "98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median "
           "Response Time,Total Average Response Time,Total Min Response Time,Total Max "
           "Response Time,Total Average Content Size\n")


def history_row(t: float, name: str, kind: str = "", rps: float = 50, p95: int = 40) -> str:
    return (f"{int(t)},10,{kind},{name},{rps},0.5,20,22,25,30,35,{p95},50,60,70,70,70,"
            f"100,1,20,25,5,90,100\n")


def locust_files(report: Path, seconds: int = 30) -> None:
    report.mkdir(parents=True, exist_ok=True)
    (report / "locust_stats.csv").write_text(
        HEADER
        + "POST,POST /payments,1000,3,20,25,5,90,100,33.0,0.1,20,22,25,30,40,60,80,90,90,90,90\n"
        + "GET,ideal: status until final,50,0,20,25,5,90,100,2.0,0,20,22,25,30,40,60,80,90,"
          "90,90,90\n"
        + ",Aggregated,1050,3,20,25,5,90,100,35.0,0.1,20,22,25,30,40,60,80,90,90,90,90\n")
    rows = [HISTORY]
    for s in range(seconds + 1):
        rows.append(history_row(T0 + s, "POST /payments", "POST"))
        rows.append(history_row(T0 + s, "Aggregated"))
    (report / "locust_stats_history.csv").write_text("".join(rows))
    (report / "locust_failures.csv").write_text(
        "Method,Name,Error,Occurrences\n"
        "POST,POST /payments,CatchResponseError('HTTP 0: '),2\n"
        "POST,POST /payments,CatchResponseError('HTTP 503: upstream down'),1\n")
    (report / "errors.json").write_text(json.dumps(
        {str(int(T0 + 12)): {"no response: timed out": 2}, str(int(T0 + 13)): {"HTTP 503": 1}}))


class FakeAdmin(Admin):
    """The admin API's answers for a synthetic 30 s run with a Stripe outage from 10 s to
    20 s: 13,674 payments (more than the payments list's 10,000), none at Stripe in the
    outage."""

    def __init__(self, *, payments: int = 13_674) -> None:
        super().__init__("http://127.0.0.1:9")
        self.payments = payments
        self.calls: list[tuple[str, dict[str, Any]]] = []
        created = []
        for s in range(30):  # 5 per second at Stripe except in the outage; Adyen takes over
            stripe = 0 if 10 <= s < 20 else 5
            created.append({"provider": "stripe", "at": T0 + s, "count": stripe})
            created.append({"provider": "adyen", "at": T0 + s, "count": 10 - stripe})
        self.created = [c for c in created if c["count"]]
        self.journal = [
            {"seq": 100 + i, "at": T0 + i * 0.25, "provider": "stripe",
             "status": 444 if 40 <= i < 80 else 200, "duration_ms": 30.0 + i % 7,
             "fault": "connection_reset" if 40 <= i < 80 else None,
             "scenario_rules": ["outage/reset"] if 40 <= i < 80 else []}
            for i in range(120)]

    def call(self, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json", **query: Any) -> Any:
        self.calls.append((path, query))
        if path == "/payments/summary":
            return {"payments": self.payments, "start": T0, "bucket_s": query["bucket"],
                    "counts": [
                        {"provider": "stripe", "status": "captured", "currency": "usd",
                         "decline": None, "count": self.payments - 2000},
                        {"provider": "adyen", "status": "captured", "currency": "usd",
                         "decline": None, "count": 1990},
                        {"provider": "adyen", "status": "failed", "currency": "usd",
                         "decline": "insufficient_funds", "count": 10}],
                    "created": self.created}
        if path == "/payments":
            raise AssertionError("the report must not count payments from the list")
        if path == "/health":
            return {"status": "ok", "store": {"evictions": {"payments": 0}},
                    "process": {"pid": 4242, "cpu_s": 1.5 * sum(
                                    p == "/health" for p, _ in self.calls),
                                "rss_bytes": 100 * 2**20}}
        if path == "/journal":
            after = int(query.get("after", 0))
            return {"entries": [e for e in reversed(self.journal) if e["seq"] > after]}
        if path == "/webhooks/deliveries":
            return {"deliveries": [
                {"provider": "stripe", "state": "delivered", "event_created": T0 + 3,
                 "attempts": [{"at": T0 + 3.1, "status": 200, "duration_ms": 20.0}]},
                {"provider": "stripe", "state": "delivered", "event_created": T0 + 4,
                 "attempts": [{"at": T0 + 4.0, "status": None, "duration_ms": 0},
                              {"at": T0 + 5.0, "status": 200, "duration_ms": 10.0}]}]}
        if path == "/scenarios":
            return {"scenarios": [{"name": "outage", "started": True,
                                   "elapsed_s": time.time() - T0,
                                   "document": {"phases": [
                                       {"name": "stripe-outage", "after": "10s",
                                        "for": "10s"}]}}]}
        raise AssertionError(f"unexpected admin call {path}")


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[str, str, FakeAdmin]]:
    locust_files(tmp_path)
    admin = FakeAdmin()
    journal, admin.journal = admin.journal, [{"seq": 99, "at": T0 - 5, "provider": "stripe",
                                              "status": 200, "duration_ms": 5.0}]
    ticks = iter(range(100))
    sampler = SimulatorSampler(admin, origin=T0, bucket_s=bucket_for(30.5),
                               clock=lambda: T0 + 2 * next(ticks))
    sampler.prime()  # before the load: entry 99 is not part of the run
    admin.journal = journal
    sampler.sample()
    sampler.sample()
    summary = build_report(tmp_path, simulator=admin, title="synthetic", scenario="outage",
                           slo=[{"slo": "errors<1%", "request": "Aggregated",
                                 "metric": "errors", "value": 0.00045848, "threshold": 0.01,
                                 "passed": True}],
                           window=(T0, T0 + 30.5), sampled=sampler.stop())
    yield (tmp_path / "report.html").read_text(), summary, admin


def polyline(page: str, name: str, chart: str) -> list[tuple[float, float]]:
    """The points of one series' line in the chart whose caption starts with `chart`."""
    figure = page.split(f"<figcaption>{chart}", 1)[1].split("</figure>", 1)[0]
    m = re.search(rf'data-name="{re.escape(name)}"[^>]*points="([^"]+)"', figure)
    assert m, f"no line {name} in {chart}"
    return [tuple(map(float, p.split(","))) for p in m.group(1).split()]  # type: ignore


def test_payments_are_counted_past_the_list_limit(page: tuple[str, str, FakeAdmin]) -> None:
    html, summary, admin = page
    assert "13,674 payments" in html and "13674 payments" in summary
    assert "10000 payments" not in html
    assert not any(path == "/payments" for path, _ in admin.calls)


def test_the_per_provider_chart_covers_the_whole_run_with_its_zeros(
        page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    stripe = polyline(html, "stripe", "Payments created per provider")
    # 30 whole 1 s buckets (the half second the run ended in is left out), zeros drawn:
    assert len(stripe) == 30
    ys = [y for _, y in stripe]
    bottom = max(ys)  # SVG y grows downwards: a zero count is the lowest point
    assert sum(1 for y in ys if y == bottom) == 10  # the ten seconds of the outage
    assert stripe[0][0] < stripe[-1][0]


def test_the_last_partial_bucket_is_left_out_and_said_so() -> None:
    assert full_buckets(0, 30.5, 1) == 30
    assert full_buckets(0, 30, 1) == 30
    assert full_buckets(0, 59.9, 5) == 11
    series = counts_series({("stripe", 0): 4, ("stripe", 11): 9}, full_buckets(0, 59.9, 5), 5)
    assert [y for _, y in series["stripe"]] == [4.0] + [0.0] * 10
    assert bucket_for(60) == 1 and bucket_for(600) == 10 and bucket_for(36_000) == 600


def test_the_partial_bucket_note_is_on_the_page(page: tuple[str, str, FakeAdmin]) -> None:
    assert "the last bucket, cut short by the end of the run, is left out" in page[0]


def test_outage_phases_are_shaded_on_every_time_series(
        page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    charts = re.findall(r"<figure class='chart'>(.*?)</figure>", html, re.S)
    drawn = [c for c in charts if "<svg" in c]
    assert len(drawn) >= 9
    for chart in drawn:
        assert 'class="band"' in chart and "stripe-outage" in chart, chart[:120]
    assert "stripe-outage 10 to 20 s" in html


def test_phase_bands_follow_the_scenario_timeline_with_repeats() -> None:
    scenario = {"started": True, "elapsed_s": 50.0, "document": {"phases": [
        {"name": "blip", "after": "5s", "for": "2s", "repeat": "20s"},
        {"name": "slow", "after": 30, "for": "1m"}]}}
    bands = phase_bands([scenario, {"started": False, "elapsed_s": None}],
                        fetched_at=T0 + 52, origin=T0, end=60)
    assert bands == [(7.0, 9.0, "blip"), (27.0, 29.0, "blip"), (47.0, 49.0, "blip"),
                     (32.0, 60, "slow")]


def test_request_names_are_not_doubled(page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    assert "POST POST" not in html
    assert request_label("POST", "POST /payments") == "POST /payments"
    assert request_label("GET", "ideal: status until final") == "GET ideal: status until final"
    assert request_label("", "Aggregated") == "Aggregated"


def test_codes_are_words(page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    assert status_words(444) == "connection closed by a fault"
    assert status_words(444, "connection_reset") == "connection reset by an injected fault"
    assert status_words(0) == "no response"
    assert status_words(503) == "503 Service Unavailable"
    assert error_kind("HTTP 0: ") == "no response"
    assert error_kind("HTTP 503: upstream down") == "503 Service Unavailable"
    assert "HTTP 0" not in html and ">444<" not in html and ": 444" not in html
    assert "stripe: connection reset by an injected fault" in html
    assert "no response" in html and "503 Service Unavailable: upstream down" in html


def test_a_request_without_an_answer_says_why() -> None:
    class Resp:
        status_code = 0
        text = ""

        def __init__(self, error: BaseException) -> None:
            self.error = error

    assert failure_text(Resp(TimeoutError("timed out")), 5) == \
        "no response: timed out after 5 s"
    assert failure_text(Resp(ConnectionResetError(104, "reset"))) == \
        "no response: connection reset"
    assert failure_text(Resp(ConnectionRefusedError(111, "x"))) == \
        "no response: connection refused"


def test_the_errors_slo_is_a_percentage(page: tuple[str, str, FakeAdmin]) -> None:
    html, summary, _ = page
    assert "0.00045848" not in html and "0.00045848" not in summary
    assert "<td>0.046%</td>" in html
    assert "(Aggregated: 0.046%)" in summary
    assert percent(0.0123) == "1.23%" and percent(0) == "0%"
    assert slo_value("p95", 312.4) == "312 ms" and slo_value("rps", 50) == "50.0 req/s"


def test_latency_over_time_per_request_and_per_provider(
        page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    assert polyline(html, "POST /payments", "p95 response time per request")
    assert polyline(html, "stripe", "Provider latency")


def test_errors_over_time_by_kind_on_both_sides(page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    users = polyline(html, "no response: timed out", "Failed requests by kind")
    assert len(users) == 30
    provider = polyline(html, "stripe: connection reset by an injected fault",
                        "Provider errors by kind")
    assert len(provider) == 30


def test_webhook_delivery_latency_counts_from_the_event(
        page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    # 100 ms + 20 ms for the first; a failed attempt then one a second later: 1010 ms.
    row = re.search(r"<tr><td>stripe</td><td>2</td><td>(\d+)</td><td>(\d+)</td>"
                    r"<td>(\d+)</td></tr>", html)
    assert row is not None and row.groups() == ("120", "1010", "1010")


def test_the_simulator_process_is_charted(page: tuple[str, str, FakeAdmin]) -> None:
    html, _, _ = page
    assert len(polyline(html, "resident MiB", "Simulator memory (pid 4242)")) == 3
    assert len(polyline(html, "CPU % of one core", "Simulator CPU (pid 4242)")) == 2


def test_cpu_is_the_share_of_a_core_between_samples() -> None:
    admin = FakeAdmin()
    ticks = iter(range(100))
    sampler = SimulatorSampler(admin, origin=T0, bucket_s=1,
                               clock=lambda: T0 + 2 * next(ticks))
    for _ in range(3):
        sampler.sample()
    view = simulator_view(admin, origin=T0, end=T0 + 30, bucket=1, sampled=sampler.stop())
    # The stand-in's CPU seconds grow by 1.5 s per health call, samples 2 s apart.
    assert view["cpu"]["CPU % of one core"] == [(2.0, 75.0), (4.0, 75.0), (6.0, 75.0)]
    assert view["memory"]["resident MiB"][0] == (0.0, 100.0)


def test_a_journal_that_turned_over_between_reads_is_counted_not_guessed() -> None:
    admin = FakeAdmin()
    sampler = SimulatorSampler(admin, origin=T0, bucket_s=1)
    sampler.prime()  # the newest entry is 219
    admin.journal = [{"seq": 500, "at": T0 + 1, "provider": "adyen", "status": 200,
                      "duration_ms": 3.0}]
    sampler.sample()
    assert sampler.data.missed == 500 - 219 - 1
    assert sampler.data.entries == 1


def test_the_legend_wraps_inside_the_chart() -> None:
    names = [f"a rather long request name number {i}" for i in range(12)]
    parts, height = _legend(names, 64, 200, 800)
    assert height > 18 * 3  # several rows
    for part in parts:
        x = float(re.search(r'<text x="([\d.]+)"', part).group(1))  # type: ignore[union-attr]
        name = re.search(r">([^<]+)</text>", part).group(1)  # type: ignore[union-attr]
        assert x + 7.0 * len(name) <= 64 + 800 + 17
    svg = line_chart("t", {n: [(0, 1), (1, 2)] for n in names})
    total = float(re.search(r'<svg[^>]* height="([\d.]+)"', svg).group(1))  # type: ignore
    ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" font-size="12">', svg)]
    assert max(ys) < total


# -- the simulator's side: GET /__admin/payments/summary --------------------------------

def test_the_summary_counts_every_payment_past_the_list_limit(
        simulator: SimulatorServer, tmp_path: Path) -> None:
    simulator.reset()
    store = simulator.app[ENGINE].store
    start = time.time() - 40

    async def fill() -> None:  # 13,674 payments in two keys, as a 40 s load makes them
        for i in range(13_674):
            provider = "stripe" if i % 2 else "adyen"
            declined = i % 100 == 0
            await store.create(Payment(
                id=f"pay_{i}", namespace=tenant(f"key_{provider}"), provider=provider,
                amount=1000, currency="USD", created=start + i * 40 / 13_674,
                status=Status.FAILED if declined else Status.CAPTURED,
                decline=DeclineReason.INSUFFICIENT_FUNDS if declined else None))

    simulator.call(fill())
    assert len(simulator.admin("GET", "/payments?limit=20000")["payments"]) == 10_000
    summary = simulator.admin("GET", f"/payments/summary?bucket=5&origin={start}")
    assert summary["payments"] == 13_674
    assert sum(c["count"] for c in summary["counts"]) == 13_674
    assert sum(c["count"] for c in summary["created"]) == 13_674
    assert {c["at"] for c in summary["created"]} == {start + 5 * i for i in range(8)}
    failed = [c for c in summary["counts"] if c["status"] == "failed"]
    assert sum(c["count"] for c in failed) == 137
    assert {c["decline"] for c in failed} == {"insufficient_funds"}
    for bad in ("bucket=0", "bucket=x", "origin=soon"):
        with pytest.raises(Exception) as err:
            simulator.admin("GET", f"/payments/summary?{bad}")
        assert getattr(err.value, "code", None) == 400
    locust_files(tmp_path, seconds=40)
    admin = Admin(simulator.base_url)
    summary_md = build_report(tmp_path, simulator=admin, title="t", window=(start, start + 40))
    assert "- simulator: 13674 payments" in summary_md
    page = (tmp_path / "report.html").read_text()
    assert "13,674 payments" in page
    adyen = polyline(page, "adyen", "Payments created per provider")
    assert len(adyen) == 40


def test_throughput_is_what_happened_in_each_interval_not_a_lagging_average() -> None:
    from paysandbox.loadtests.report import _rates

    totals = [0, 50, 100, 100, 100, 150]  # nothing done from 2 s to 4 s
    rows = [(float(t), {"Total Request Count": str(n)}) for t, n in enumerate(totals)]
    assert _rates(rows, "Total Request Count") == [
        (0.5, 50.0), (1.5, 50.0), (2.5, 0.0), (3.5, 0.0), (4.5, 50.0)]
