"""One vocabulary of operations: what the commands emit is what a scenario may name, so a
rule can neither be refused for an operation that happens nor wait for one that never
does."""

from __future__ import annotations

import pytest

from paysandbox.core import commands
from paysandbox.scenarios.loader import ScenarioError, load_text, schema


def test_the_scenario_schema_names_exactly_the_commands_operations() -> None:
    enum = schema()["$defs"]["operation"]["enum"]
    assert sorted(enum) == sorted(commands.OPERATIONS)
    assert {"authorize", "capture", "adjust", "expire", "refund"} <= set(enum)


@pytest.mark.parametrize("operation", sorted(commands.OPERATIONS))
def test_a_rule_may_match_every_operation(operation: str) -> None:
    doc = load_text(f"name: ops\nrules:\n  - match: {{operation: {operation}}}\n"
                    "    latency: {distribution: fixed, value: 1ms}\n")
    assert doc["rules"][0]["match"]["operation"] == operation


def test_an_operation_that_no_command_emits_is_refused_with_the_choices() -> None:
    with pytest.raises(ScenarioError) as refused:
        load_text("name: ops\nrules:\n  - match: {operation: create_lpm}\n"
                  "    latency: {distribution: fixed, value: 1ms}\n")
    assert "create_lpm" in str(refused.value)


def test_two_commands_cannot_claim_one_operation() -> None:
    with pytest.raises(TypeError, match="'capture' is Capture's already"):
        class Recapture(commands.Command):
            operation = "capture"
