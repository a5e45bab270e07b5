"""Disputes in a load run, piece by piece: the `--dispute-rate` scenario, the clock steps
that settle the run's disputes, the counts at the simulator and at the service, and the
report's dispute section. The whole path against a real simulator and the reference
service is tests/e2e/test_disputes_e2e.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from paysandbox.loadtests import disputes
from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.report import build_report
from paysandbox.loadtests.run import main as load_main
from paysandbox.scenarios.durations import seconds
from paysandbox.scenarios.loader import load_text


def marginal_shares(doc: dict[str, Any]) -> list[float]:
    """The share of captures each rule disputes, rules drawing in order."""
    left, shares = 1.0, []
    for rule in doc["rules"]:
        p = rule["dispute"]["probability"]
        shares.append(left * p)
        left *= 1 - p
    return shares


@pytest.mark.parametrize("rate", [0.009, 0.05, 0.5, 1.0])
def test_a_dispute_rate_disputes_that_share_of_captures_in_the_ready_made_mix(
        rate: float) -> None:
    doc = disputes.rate_scenario(rate)
    shares = marginal_shares(doc)
    assert sum(shares) == pytest.approx(rate, rel=1e-9)
    ready = disputes.ready_made()
    weights = [r["dispute"]["probability"] for r in ready["rules"]]
    assert [s / rate for s in shares] == pytest.approx([w / sum(weights) for w in weights])
    # The reasons and endings are the ready-made ones; every provider is matched.
    assert [r["dispute"]["reason"] for r in doc["rules"]] == \
        [r["dispute"]["reason"] for r in ready["rules"]]
    assert [r["dispute"].get("ends") for r in doc["rules"]] == \
        [r["dispute"].get("ends") for r in ready["rules"]]
    assert all(r["match"] == {"operation": ["authorize", "capture"]} for r in doc["rules"])
    # The simulator takes it as it is.
    assert load_text(yaml.safe_dump(doc))["name"] == disputes.RATE_SCENARIO


@pytest.mark.parametrize("rate", [0, -0.1, 1.5])
def test_a_dispute_rate_outside_0_to_1_is_refused_before_anything_runs(
        rate: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = load_main(["--target", "http://127.0.0.1:9", "--simulator", "http://127.0.0.1:9",
                      "--dispute-rate", str(rate), "--report", str(tmp_path / "r")])
    assert code == 2
    assert "--dispute-rate" in capsys.readouterr().err


def test_a_dispute_timeout_must_be_positive(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code = load_main(["--target", "http://127.0.0.1:9", "--simulator", "http://127.0.0.1:9",
                      "--dispute-timeout", "0", "--report", str(tmp_path / "r")])
    assert code == 2
    assert "--dispute-timeout" in capsys.readouterr().err


def test_the_timing_covers_every_dispute_rule_of_every_loaded_scenario() -> None:
    ready = {"document": disputes.ready_made()}
    phased = {"document": {"name": "p", "phases": [{"after": "1m", "for": "1m", "rules": [
        {"match": {"operation": "capture"},
         "dispute": {"after": "40d", "ends": "expired"}}]}]}}
    found = disputes.timing([ready, phased, {"document": {"name": "quiet", "rules": [
        {"match": {"provider": "stripe"}, "fault": {"http": 503}}]}}])
    assert found == disputes.Timing(opens_within=seconds("40d"),
                                    decided_within=seconds("10d"))
    # Defaults as the simulator's: a week to answer, an hour to decide.
    assert disputes.timing([{"document": {"rules": [{"dispute": {"after": "2d"}}]}}]) == \
        disputes.Timing(seconds("2d"), seconds("7d"))
    assert disputes.timing([{"document": {"rules": [{"fault": "hang"}]}}, {}]) is None


def test_counts_from_the_simulator_summary_and_the_service_stats() -> None:
    summary = {"disputes": [
        {"provider": "stripe", "reason": "fraudulent", "kind": "chargeback",
         "outcome": "won", "count": 2},
        {"provider": "stripe", "reason": "unrecognized", "kind": "inquiry",
         "outcome": "won", "count": 1},
        {"provider": "stripe", "reason": "fraudulent", "kind": "inquiry",
         "outcome": "won", "count": 1}]}
    assert disputes.simulator_counts(summary) == Counter({
        ("stripe", "fraudulent", "won"): 3, ("stripe", "unrecognized", "won"): 1})
    stats = {"counts": {"dispute:stripe:fraudulent:opened": 3,
                        "dispute:stripe:fraudulent:won": 2,
                        "dispute:adyen:Chargeback:10.4:lost": 1,
                        "webhook:stripe:verified": 9, "stripe:captured": 4}}
    assert disputes.service_counts(stats) == Counter({
        ("stripe", "fraudulent", "opened"): 3, ("stripe", "fraudulent", "won"): 2,
        ("adyen", "Chargeback:10.4", "lost"): 1})


class FakeSimulator(Admin):
    """The admin calls `settle` makes, answered from a script: each read of the summary
    returns the next dispute counts (the last one repeats)."""

    def __init__(self, docs: list[dict[str, Any]], counts: list[int], owed: int = 0) -> None:
        super().__init__("http://simulator.invalid")
        self.docs, self.counts, self.owed = docs, counts, owed
        self.advanced: list[float] = []

    def call(self, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json", **query: Any) -> Any:
        if path == "/scenarios":
            return {"scenarios": [{"document": d} for d in self.docs]}
        if path == "/clock/advance":
            self.advanced.append(body["seconds"])
            return {}
        if path == "/webhooks":
            return {"deliveries": {"pending": self.owed, "delivering": 0, "delivered": 5}}
        if path == "/payments/summary":
            n = self.counts.pop(0) if len(self.counts) > 1 else self.counts[0]
            return {"disputes": [{"provider": "stripe", "reason": "fraudulent",
                                  "kind": "chargeback", "outcome": "won", "count": n}]}
        raise AssertionError(path)


def test_settling_opens_every_dispute_then_decides_them_waiting_for_quiet_between() -> None:
    sim = FakeSimulator([disputes.ready_made()], counts=[0, 1, 2, 3, 3])
    slept: list[float] = []
    done = disputes.settle(sim, timeout=30, sleep=slept.append)
    assert done is not None and not done.timed_out
    # Past the latest opening (30 days after its capture), then past the longest window
    # or decision (10 days) with the margin for the answers.
    assert sim.advanced == [seconds("30d") + 1, seconds("10d") + disputes.MARGIN_S]
    # Each wait: the counts moved until they had been the same three reads in a row.
    assert len(slept) == 6 + 3
    slept.clear()
    _, timed_out = disputes.wait_quiet(FakeSimulator([], counts=[1, 2, 2, 2, 2]),
                                       timeout=30, sleep=slept.append)
    assert not timed_out and len(slept) == 4
    assert disputes.settle(FakeSimulator([{"name": "no-disputes"}], counts=[0])) is None


def test_a_simulator_that_never_goes_quiet_is_given_up_on_after_the_timeout() -> None:
    sim = FakeSimulator([disputes.ready_made()], counts=[0], owed=1)
    done = disputes.settle(sim, timeout=0.2)
    assert done is not None and done.timed_out and len(sim.advanced) == 2


def test_the_report_has_the_disputes_by_provider_reason_and_outcome(tmp_path: Path) -> None:
    data = {"simulator": Counter({("stripe", "fraudulent", "won"): 3,
                                  ("stripe", "fraudulent", "expired"): 1,
                                  ("stripe", "duplicate", "lost"): 2}),
            "service": Counter({("stripe", "fraudulent", "opened"): 4,
                                ("stripe", "fraudulent", "won"): 3}),
            "note": "After the load the clock was advanced 3d 1s then 7d 1h."}
    summary = build_report(tmp_path, simulator=None, title="t", disputes=data)
    assert ("- disputes at the simulator: stripe duplicate lost 2, stripe fraudulent expired "
            "1, stripe fraudulent won 3") in summary
    assert "- disputes booked by the service: stripe fraudulent opened 4, stripe " \
           "fraudulent won 3" in summary
    page = (tmp_path / "report.html").read_text()
    # One row per provider and reason: total, then each outcome in its column.
    assert "<tr><td>stripe</td><td>fraudulent</td><td>4</td><td>0</td><td>0</td><td>3</td>" \
           "<td>0</td><td>0</td><td>1</td></tr>" in page
    assert "<tr><td>stripe</td><td>fraudulent</td><td>4</td><td>3</td><td>0</td><td>0</td>" \
           "</tr>" in page
    assert "Disputes by provider and outcome" in page
    # A service without /stats is said to have none, not shown as zero.
    build_report(tmp_path, simulator=None, title="t", disputes={**data, "service": None})
    assert "has no <code>/stats</code>" in (tmp_path / "report.html").read_text()
