"""The scenario runtime on a fake clock: phases, time windows, precedence, counters."""

from __future__ import annotations

from typing import Any

import pytest

from paysandbox.core.outcomes import DeclineReason, OutcomeKind
from paysandbox.core.payments import CardDetails
from paysandbox.scenarios.runtime import ScenarioSet


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def facts(**extra: Any) -> dict[str, Any]:
    return {"provider": "stripe", "namespace": "ns", "operation": "authorize",
            "amount": 1000, "currency": "USD", "path": "/v1/payment_intents",
            "headers": {}, **extra}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_phase_is_active_in_its_window_and_comes_back_with_repeat(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "flap", "phases": [{
        "name": "down", "after": "10s", "for": "5s", "repeat": "20s",
        "rules": [{"fault": {"http": 503}}]}]})
    seen = []
    for t in (0, 9.9, 10, 14.9, 15, 29.9, 30, 34.9, 35):
        clock.now = 1000.0 + t
        d = scenarios.decide(facts())
        seen.append(d.fault is not None)
    assert seen == [False, False, True, True, False, False, True, True, False]


def test_manual_start_waits_for_start(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "m", "start": "manual",
                   "rules": [{"outcome": {"decline": "lost_card"}}]})
    assert scenarios.decide(facts()).outcome is None
    clock.now += 100
    scenarios.start("m")
    assert scenarios.decide(facts()).outcome is not None


def test_time_matcher_counts_from_the_start(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "t", "rules": [{"match": {"time": {"after": "1m", "before": "2m"}},
                                           "outcome": "approve"}]})
    assert scenarios.decide(facts()).outcome is None
    clock.now += 90
    assert scenarios.decide(facts()).outcome is not None
    clock.now += 60
    assert scenarios.decide(facts()).outcome is None


def test_priority_then_newest_wins_and_effects_combine(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "base", "rules": [{"outcome": {"decline": "lost_card"},
                                              "latency": "100ms"}]})
    scenarios.put({"name": "newer", "rules": [{"outcome": {"decline": "stolen_card"}}]})
    d = scenarios.decide(facts())
    assert d.outcome is not None and d.outcome.reason is DeclineReason.STOLEN_CARD
    assert d.latency == pytest.approx(0.1)  # latency still comes from the older scenario
    scenarios.put({"name": "vip", "priority": 10, "rules": [{"outcome": "approve"}]})
    d = scenarios.decide(facts())
    assert d.outcome is not None and d.outcome.kind is OutcomeKind.APPROVE
    # "newer" only offered an outcome, already taken: it did not apply.
    assert d.matched == ("vip/rules[0]", "base/rules[0]")


def test_phase_rules_come_before_top_level_rules(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "p", "rules": [{"outcome": "approve"}],
                   "phases": [{"after": 0, "for": "1m",
                               "rules": [{"outcome": {"decline": "do_not_honor"}}]}]})
    d = scenarios.decide(facts())
    assert d.outcome is not None and d.outcome.reason is DeclineReason.DO_NOT_HONOR
    clock.now += 61
    d = scenarios.decide(facts())
    assert d.outcome is not None and d.outcome.kind is OutcomeKind.APPROVE


def test_card_method_and_country_matchers_need_the_fact(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "c", "rules": [
        {"match": {"card": {"country": "BR"}, "method": "card"}, "outcome": "approve"}]})
    br = CardDetails("visa", "4242", "424242", 12, 2030, country="BR")
    us = CardDetails("visa", "4242", "424242", 12, 2030, country="US")
    assert scenarios.decide(facts(card=br, method="card")).outcome is not None
    assert scenarios.decide(facts(card=us, method="card")).outcome is None
    assert scenarios.decide(facts(card=br, method="pix")).outcome is None
    assert scenarios.decide(facts(method="card")).outcome is None  # no card: no match


def test_removing_and_replacing_by_name(clock: FakeClock):
    scenarios = ScenarioSet(clock=clock)
    scenarios.put({"name": "a", "rules": [{"outcome": "approve"}]})
    scenarios.put({"name": "a", "rules": [{"outcome": {"decline": "lost_card"}}]})
    assert len(scenarios) == 1
    assert scenarios.remove("a") and not scenarios.remove("a")
    assert scenarios.decide(facts()).outcome is None
