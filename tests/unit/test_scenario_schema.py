"""contracts_data/scenario.schema.json itself: a valid 2020-12 schema that catches every typo
and gives an editor something to show for every key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "paysandbox" / "contracts_data" / "scenario.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def test_is_a_valid_2020_12_schema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://payments-sandbox.dev/contracts/scenario.schema.json"
    assert "paysandbox/scenarios/ready/README.md" in schema["$comment"]
    assert schema["title"] and schema["description"]


def _subschemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _subschemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _subschemas(value, f"{where}/{i}")


def test_every_object_refuses_unknown_keys(schema: dict[str, Any]) -> None:
    for where, sub in _subschemas(schema):
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, where


def _resolve(schema: dict[str, Any], sub: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in sub:
        target: dict[str, Any] = schema["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
        return {**_resolve(schema, target), **{k: v for k, v in sub.items() if k != "$ref"}}
    return sub


def test_every_key_has_a_description(schema: dict[str, Any]) -> None:
    for where, sub in _subschemas(schema):
        for key, prop in sub.get("properties", {}).items():
            if where.endswith("/properties"):
                continue  # a property literally named "properties"
            assert _resolve(schema, prop).get("description"), f"{where}/properties/{key}"


@pytest.mark.parametrize(("doc", "valid"), [
    ({"name": "a", "rules": [{"latency": "200ms"}]}, True),
    ({"name": "a", "webhooks": {"reorder": True}}, True),
    ({"name": "a", "phases": [{"after": 0, "for": 1, "rules": [{"fault": "hang"}]}]}, True),
    ({"name": "a"}, False),
    ({"name": "A", "rules": [{"latency": 1}]}, False),
    ({"name": "a", "rules": []}, False),
    ({"name": "a", "rules": [{"latency": 1}], "extra": 1}, False),
    ({"name": "a", "rules": [{"match": {"provider": "stripe"}}]}, False),
    ({"name": "a", "rules": [{"latency": 1, "first": 1, "after": 2}]}, False),
    ({"name": "a", "rules": [{"latency": 1, "first": 0}]}, False),
    ({"name": "a", "rules": [{"latency": {"distribution": "fixed", "value": 1, "max": 2}}]},
     False),
    ({"name": "a", "rules": [{"latency": {"distribution": "percentiles", "p50": 1}}]}, False),
    ({"name": "a", "rules": [{"latency": "1 parsec"}]}, False),
    ({"name": "a", "rules": [{"latency": True}]}, False),
    ({"name": "a", "rules": [{"fault": {"http": 503, "retry_after": "5s"}}]}, True),
    ({"name": "a", "rules": [{"fault": {"http": 503.5}}]}, False),
    ({"name": "a", "rules": [{"outcome": {"decline": "do_not_honor", "then": "approve"}}]},
     False),
    ({"name": "a", "rules": [{"outcome": {"pending": {"after": "30s", "then": {
        "requires_action": "redirect"}}}}]}, True),
    ({"name": "a", "rules": [{"match": {"amount": {"between": [1, 2, 3]}}, "latency": 1}]},
     False),
    ({"name": "a", "rules": [{"match": {"any": [{"not": {"card": {"brand": "jcb"}}}]},
                              "latency": 1}]}, True),
    ({"name": "a", "rules": [{"match": {"card": {"brand": "unknown"}}, "latency": 1}]}, False),
    ({"name": "a", "webhooks": {"fail_first": -1}}, False),
    ({"name": "a", "webhooks": {"match": {"provider": "stripe"}}}, False),
])
def test_schema_alone(schema: dict[str, Any], doc: dict[str, Any], valid: bool) -> None:
    errors = list(Draft202012Validator(schema).iter_errors(doc))
    assert (not errors) == valid, [e.message for e in errors]
