"""Contracts: JSON Schemas from `paysandbox/contracts_data/`, compiled once, checked fast.

Each provider's folder has an `operations.json` manifest naming, for every route, its
request and response schemas and, for every webhook event type, its payload schema
(paysandbox/contracts_data/README.md). Three checks use them:

- requests, on every call (`check`): strict mode raises the first violation for the
  provider to render in its own envelope; report mode records every violation and
  serves what can be served. Either way the request's findings go to the journal.
- responses and webhooks, in test mode (`response_problems`, `webhook_problems`), so
  drift between the code and its contracts cannot land.
- the report a payment service's CI reads (paysandbox/contract_report.py).

A violation is reported as the provider would name it: the parameter path in the
provider's own notation (Stripe's `metadata[order_id]`), and what was wrong.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped,unused-ignore]
from referencing import Registry, Resource

from paysandbox.core.cards import redact_pans
from paysandbox.journal import mask_url_credentials


@dataclass(frozen=True, slots=True)
class Violation:
    """One way a request breaks its contract."""

    kind: str  # missing | unknown | type | enum | range | format
    path: tuple[str | int, ...]
    message: str
    value: Any = None
    expected: Any = None

    @property
    def dotted(self) -> str:
        """The field's path as `amount.currency` ('' for the body itself)."""
        return ".".join(str(p) for p in self.path)

    @property
    def shown(self) -> Any:
        """The value as an error message, the journal or a report may repeat it: card
        numbers masked, secrets and security codes never (`shown_value`)."""
        return shown_value(self.dotted, self.value)


class ContractViolation(ValueError):
    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def contracts_dir() -> Traversable:
    """Where the schemas are: $PAYSANDBOX_CONTRACTS_DIR, else the package's own data
    (paysandbox/contracts_data/), read through importlib.resources so that a wheel, a zip
    import and an editable install all find it."""
    configured = os.environ.get("PAYSANDBOX_CONTRACTS_DIR")
    if configured:
        return Path(configured)
    return resources.files("paysandbox.contracts_data")


#: Contracts a provider plugin ships in its own package (`<package>/contracts/`), by
#: provider name; the others are in contracts_dir().
_SHIPPED: dict[str, Traversable] = {}


def shipped_with(provider: str, package: str) -> bool:
    """Use the contracts in `package`'s own `contracts/` folder for `provider`, when it has
    one (an out-of-tree provider's); whether it has. Called when the provider is
    mounted, before its first request."""
    try:
        folder = resources.files(package) / "contracts"
    except ModuleNotFoundError:
        return False
    if not (folder / "operations.json").is_file():
        return False
    if _SHIPPED.get(provider) != folder:
        _SHIPPED[provider] = folder
        for cached in (schema, manifest, validator, _full_validator):
            cached.cache_clear()
    return True


def folder(provider: str) -> Traversable:
    """Where `provider`'s contracts are: its own package's, or contracts_dir()'s."""
    return _SHIPPED.get(provider) or contracts_dir() / provider


@functools.cache
def schema(provider: str, name: str) -> Mapping[str, Any]:
    path = folder(provider) / f"{name}.json"
    with path.open("rb") as fh:
        loaded: Mapping[str, Any] = json.load(fh)
    return loaded


#: The `$id` every schema starts with; `$ref`s below it are files in paysandbox/contracts_data/.
ID_BASE = "https://payments-sandbox.dev/contracts/"


def _local(uri: str) -> Mapping[str, Any]:
    """A schema referenced by URI, read from paysandbox/contracts_data/ rather than the network."""
    if not uri.startswith(ID_BASE):
        raise ValueError(f"contracts refer only to {ID_BASE}…, not {uri}")
    provider, _, rest = uri[len(ID_BASE):].partition("/")
    return schema(provider, rest.removesuffix(".json"))


@functools.cache
def validator(provider: str, name: str) -> Callable[[Any], Any]:
    """Compiled validator; raises ContractViolation with the first violation."""
    compiled = fastjsonschema.compile(dict(schema(provider, name)),
                                      handlers={"https": lambda uri: dict(_local(uri))})

    def validate(data: Any) -> Any:
        try:
            return compiled(data)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise ContractViolation(_explain(exc)) from None

    return validate


def _explain(exc: fastjsonschema.JsonSchemaValueException) -> Violation:
    path: tuple[str | int, ...] = tuple(exc.path[1:]) if exc.path else ()
    return _describe(exc.rule, exc.rule_definition, exc.value, path, exc.definition)[0]


def every_violation(provider: str, name: str, data: Any) -> list[Violation]:
    """All the ways `data` breaks the contract (slower than `validator`: for reports)."""
    found: dict[tuple[str, tuple[str | int, ...]], Violation] = {}
    for error in _full_validator(provider, name).iter_errors(data):
        if error.context:  # anyOf/oneOf: say what was wrong in the closest alternative
            error = best_match([error])
        path = tuple(error.absolute_path)
        # jsonschema reports each missing key of one `required` on its own; each
        # report names them all, so keep one violation per kind and place
        for v in _describe(str(error.validator), error.validator_value, error.instance,
                           path, error.schema if isinstance(error.schema, Mapping) else None):
            found.setdefault((v.kind, v.path), v)
    return list(found.values())


@functools.cache
def _full_validator(provider: str, name: str) -> Any:
    def retrieve(uri: str) -> Resource[Any]:
        return Resource.from_contents(dict(_local(uri)))

    registry: Registry[Any] = Registry(retrieve=retrieve)  # type: ignore[call-arg]
    return Draft202012Validator(dict(schema(provider, name)), registry=registry)


def _describe(rule: str | None, definition: Any, value: Any, path: tuple[str | int, ...],
              node: Mapping[str, Any] | None) -> list[Violation]:
    if rule == "required" and isinstance(value, Mapping):
        return [Violation("missing", (*path, k), f"Missing required param: {k}",
                          expected=list(definition)) for k in definition if k not in value]
    if rule == "additionalProperties" and isinstance(value, Mapping):
        known = (node or {}).get("properties", {})
        return [Violation("unknown", (*path, k), f"Received unknown parameter: {k}",
                          value=k, expected=sorted(known)) for k in value if k not in known]
    return [_describe_value(rule, definition, value, path)]


def _describe_value(rule: str | None, definition: Any, value: Any,
                    path: tuple[str | int, ...]) -> Violation:
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


# -- the manifest: which schema goes with which route and webhook ----------------------

@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    method: str
    path: str  # the route's path below the provider's prefix, as aiohttp writes it
    request: str  # schema names, relative to the provider's folder, without .json
    response: str
    reference: str  # the provider's API reference section it follows


@dataclass(frozen=True, slots=True)
class Manifest:
    provider: str
    operations: Mapping[str, Operation]
    error: str  # the schema of the provider's error envelope
    webhooks: Mapping[str, str]  # event type -> schema name


def _stem(file: str) -> str:
    return file.removesuffix(".json")


@functools.cache
def manifest(provider: str) -> Manifest | None:
    """The provider's `operations.json`, or None when it has none yet."""
    path = folder(provider) / "operations.json"
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        raw = json.load(fh)
    operations = {
        name: Operation(name, op["method"], op["path"], _stem(op["request"]),
                        _stem(op["response"]), op.get("reference", ""))
        for name, op in raw["operations"].items()}
    return Manifest(provider, operations, _stem(raw["error"]),
                    {t: _stem(f) for t, f in raw.get("webhooks", {}).items()})


# -- requests: strict or report ----------------------------------------------------------

STRICT, REPORT, OFF = "strict", "report", "off"
MODES = (STRICT, REPORT, OFF)

#: Violations a handler cannot serve past: there is nothing, or nothing usable, to read.
_UNSERVABLE = frozenset({"missing", "type"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation seen on the wire, as the journal and the report keep it."""

    provider: str
    contract: str
    source: str  # request | response | webhook
    violation: Violation

    @property
    def field(self) -> str:
        return self.violation.dotted or "(body)"

    def to_json(self) -> dict[str, Any]:
        v = self.violation
        value = v.value if isinstance(v.value, str | int | float | bool) or v.value is None \
            else type(v.value).__name__
        if isinstance(value, int) and not -2**63 <= value < 2**64:
            value = str(value)  # beyond what JSON encoders (and the journal's) carry
        value = shown_value(self.field, value)
        return {"provider": self.provider, "contract": self.contract, "source": self.source,
                "field": self.field, "kind": v.kind, "message": v.message, "value": value}


#: Fields whose values are secrets or card data, whatever they look like.
_SECRET_FIELD = re.compile(r"(cvc|cvv|security_?code|password|secret|token|api_?key|"
                           r"authorization|encrypted|card_?number|^number$|\.number$)",
                           re.IGNORECASE)


#: Values that are credentials whatever field they are in: the providers' key shapes.
_SECRET_VALUE = re.compile(r"^(?:Bearer|Basic)\s|\b(?:sk|rk|pk)_(?:test|live|sbox)_|\bwhsec_|"
                           r"\b(?:TEST|APP_USR)-\d{6}|\b(?:test|live)_[A-Za-z0-9]{20,}|"
                           r"\bAQE[A-Za-z0-9+/=_-]{16,}")


def shown_value(field: str, value: Any) -> Any:
    """A violating value as the journal and the contract report show it: never a
    secret, a security code or a card number (they are for the request alone)."""
    if value is None or isinstance(value, bool):
        return value
    if _SECRET_FIELD.search(field) or (isinstance(value, str) and _SECRET_VALUE.search(value)):
        return "[redacted]"
    if isinstance(value, str | int):
        text = str(value)
        redacted = mask_url_credentials(redact_pans(text))
        if redacted != text:
            return redacted
    return value


@dataclass(slots=True)
class Observed:
    """The contract findings of the request being served."""

    mode: str = STRICT
    findings: list[Finding] = field(default_factory=list)


#: Set per request by the provider middleware; None outside a request (unit tests).
OBSERVED: ContextVar[Observed | None] = ContextVar("contract_findings", default=None)


def check(provider: str, name: str, data: Any) -> Any:
    """Validate a request against its contract and return it.

    Strict (as real providers are): the first violation is raised for the provider to
    render. Report: every violation is recorded and the request is served, unless it
    cannot be (a required field missing, a value of the wrong type). Off: nothing is
    checked (capacity runs; a malformed request may then fail in a generic way)."""
    seen = OBSERVED.get()
    if seen is not None and seen.mode == OFF:
        return data
    try:
        return validator(provider, name)(data)
    except ContractViolation as first:
        found = every_violation(provider, name, data) or [first.violation]
        if seen is not None:
            seen.findings += [Finding(provider, name, "request", v) for v in found]
        if seen is None or seen.mode == STRICT or any(
                v.kind in _UNSERVABLE or (v.kind == "range" and isinstance(v.value, int | float))
                for v in found):
            raise
        return data


# -- responses and webhooks (test mode) ----------------------------------------------------

def _problems(provider: str, name: str, body: bytes, source: str,
              content_type: str = "application/json") -> list[Finding]:
    try:
        # A CSV report is checked as the list of its rows, each a mapping of the header
        # line's column names to the row's values.
        data = (list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
                if content_type == "text/csv" else json.loads(body) if body else None)
    except (ValueError, csv.Error):
        return [Finding(provider, name, source, Violation(
            "format", (), "is not CSV" if content_type == "text/csv" else "is not JSON",
            value=body[:80].decode("utf-8", "replace")))]
    try:
        validator(provider, name)(data)
    except ContractViolation as first:
        found = every_violation(provider, name, data) or [first.violation]
        return [Finding(provider, name, source, v) for v in found]
    return []


def response_problems(provider: str, operation: str | None, status: int,
                      body: bytes, content_type: str = "application/json"
                      ) -> list[Finding]:
    """How a response breaks its contract: the operation's response schema for a
    success (a `text/csv` one read as its rows), the provider's error schema otherwise.
    A route missing from the manifest is itself a problem."""
    m = manifest(provider)
    op = m.operations.get(operation or "") if m else None
    if m is None or op is None:
        return [Finding(provider, operation or "(unnamed route)", "response", Violation(
            "missing", (), f"no contract for operation {operation!r} in "
                           f"paysandbox/contracts_data/{provider}/operations.json"))]
    name = op.response if status < 400 else m.error
    if status == 204 or (status >= 400 and not body):
        return []  # no body to check (some providers answer errors with none)
    return _problems(provider, name, body, "response",
                     content_type if status < 400 else "application/json")


def webhook_problems(provider: str, event_type: str, body: bytes) -> list[Finding]:
    m = manifest(provider)
    name = m.webhooks.get(event_type) if m else None
    if name is None:
        return [Finding(provider, event_type, "webhook", Violation(
            "missing", (), f"no contract for webhook {event_type!r} in "
                           f"paysandbox/contracts_data/{provider}/operations.json"))]
    if body[:1] not in (b"{", b"["):
        return []  # a form-encoded notification (Mollie's id=tr_…) has no JSON schema
    return _problems(provider, name, body, "webhook")
