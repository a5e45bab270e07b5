"""A fleet's processes run the scenario set stored in Redis (ScenarioSet.adopt): the same
documents from the same start, without restarting one that did not change."""

from __future__ import annotations

from paysandbox.scenarios.loader import load_text
from paysandbox.scenarios.runtime import ScenarioSet


def test_adopting_the_same_scenarios_again_keeps_them_running_as_they_are() -> None:
    doc = load_text("name: s\nrules: [{match: {provider: stripe}, outcome: approve}]\n")
    scenarios = ScenarioSet(clock=lambda: 1000.0)
    scenarios.adopt([(doc, "a.yaml", 900.0, 3)])
    first = scenarios.get("s")
    assert first is not None and first.started_at == 900.0 and first.loaded == 3
    scenarios.adopt([(doc, "a.yaml", 900.0, 3)])
    assert scenarios.get("s") is first  # its counters and random state go on
    scenarios.adopt([(doc, "a.yaml", 950.0, 4)])  # loaded again somewhere: anew
    again = scenarios.get("s")
    assert again is not first and again is not None and again.started_at == 950.0
    scenarios.adopt([])
    assert len(scenarios) == 0
