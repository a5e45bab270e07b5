"""Request contracts: JSON Schemas from `contracts/`, compiled once, checked fast.

A violation is reported as the provider would name it: the parameter path in the
provider's own notation (Stripe's `metadata[order_id]`), and what was wrong.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a request breaks its contract."""

    kind: str  # missing | unknown | type | enum | range | format
    path: tuple[str | int, ...]
    message: str
    value: Any = None
    expected: Any = None


class ContractViolation(ValueError):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def contracts_dir() -> Path:
    """Where the schemas are: $PAYSANDBOX_CONTRACTS_DIR, the installed package data,
    or the repository's top-level folder (an editable install)."""
    configured = os.environ.get("PAYSANDBOX_CONTRACTS_DIR")
    if configured:
        return Path(configured)
    try:
        packaged = Path(str(resources.files("simulator.contracts_data")))
        if packaged.is_dir():
            return packaged
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "contracts"


@functools.cache
def schema(provider: str, name: str) -> Mapping[str, Any]:
    path = contracts_dir() / provider / f"{name}.json"
    with path.open("rb") as fh:
        loaded: Mapping[str, Any] = json.load(fh)
    return loaded


@functools.cache
def validator(provider: str, name: str) -> Callable[[Any], Any]:
    """Compiled validator; raises ContractViolation with the first violation."""
    compiled = fastjsonschema.compile(dict(schema(provider, name)))

    def validate(data: Any) -> Any:
        try:
            return compiled(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise ContractViolation(_explain(exc)) from None

    return validate


def _explain(exc: fastjsonschema.JsonSchemaValueException) -> Violation:
    path: tuple[str | int, ...] = tuple(exc.path[1:]) if exc.path else ()
    rule, value, definition = exc.rule, exc.value, exc.rule_definition
    if rule == "required" and isinstance(value, Mapping):
        missing = next(k for k in definition if k not in value)
        return Violation("missing", (*path, missing), f"Missing required param: {missing}",
                         expected=list(definition))
    if rule == "additionalProperties" and isinstance(value, Mapping):
        known = (exc.definition or {}).get("properties", {})
        unknown = next(k for k in value if k not in known)
        return Violation("unknown", (*path, unknown), f"Received unknown parameter: {unknown}",
                         value=unknown, expected=sorted(known))
    if rule == "enum":
        return Violation("enum", path, "must be one of " + ", ".join(map(str, definition)),
                         value=value, expected=list(definition))
    if rule == "type":
        return Violation("type", path, f"must be {_type_name(definition)}", value=value,
                         expected=definition)
    phrase = _RANGE.get(rule or "")
    if phrase is not None:
        return Violation("range", path, phrase.format(definition), value=value,
                         expected={rule: definition})
    if rule == "propertyNames" and isinstance(definition, Mapping):
        longest = definition.get("maxLength")
        return Violation("format", path, f"keys must be at most {longest} characters long"
                         if longest is not None else "has a key that is not allowed",
                         value=value)
    if rule in ("anyOf", "oneOf") and isinstance(definition, list):
        return Violation("enum", path, "must be " + _alternatives(definition), value=value,
                         expected=definition)
    return Violation("format", path, "is not valid here", value=value)


_RANGE = {
    "minimum": "must be greater than or equal to {}",
    "maximum": "must be less than or equal to {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "minProperties": "must have at least {} keys",
    "maxProperties": "must have at most {} keys",
}


def _alternatives(options: list[Any]) -> str:
    words: list[str] = []
    for option in options:
        if isinstance(option, Mapping) and "enum" in option:
            words += [str(v) for v in option["enum"] if v != ""]
        elif isinstance(option, Mapping) and "type" in option:
            words.append(_type_name(option["type"]))
    return " or ".join(words) if words else "one of the documented values"


def _type_name(definition: Any) -> str:
    names = definition if isinstance(definition, list) else [definition]
    articles = {"integer": "an integer", "object": "an object", "array": "an array",
                "string": "a string", "boolean": "a boolean", "number": "a number"}
    return " or ".join(articles.get(n, str(n)) for n in names)
