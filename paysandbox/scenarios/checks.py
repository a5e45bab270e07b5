"""Checking a scenario's data: the schema's errors explained in QA's words (what was
expected, the closest valid key), and what a schema cannot say (regexes that compile,
phases that do not overlap, rules that can never fire)."""

from __future__ import annotations

import difflib
import functools
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import (  # type: ignore[import-untyped,unused-ignore]  # no types-jsonschema
    Draft202012Validator,
)
from jsonschema.exceptions import (  # type: ignore[import-untyped,unused-ignore]
    ValidationError,
)

from paysandbox.contracts import contracts_dir
from paysandbox.core.disputes import RendersDisputes
from paysandbox.scenarios.durations import DurationError, seconds
from paysandbox.scenarios.nodes import Builder
from paysandbox.scenarios.problems import Keys, Problem, json_path


@functools.cache
def schema() -> Mapping[str, Any]:
    """contracts_data/scenario.schema.json, the language's machine-readable definition."""
    with (contracts_dir() / "scenario.schema.json").open("rb") as fh:
        loaded: Mapping[str, Any] = json.load(fh)
    return loaded


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


_TYPE_NAMES = {"integer": "an integer", "number": "a number", "string": "a string",
               "boolean": "true or false", "object": "a mapping", "array": "a list",
               "null": "nothing"}


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


class Checker:
    """Schema errors made readable, then what a schema cannot say."""

    def __init__(self, source: str, built: Builder, doc: Any) -> None:
        self.source = source
        self.built = built
        self.doc = doc
        self.defs: Mapping[str, Any] = schema()["$defs"]

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        for error in _validator().iter_errors(self.doc):
            found += self._explain(error)
        flagged = {p.path for p in found}
        found += [p for p in self._semantics() if p.path not in flagged]
        return found

    # positions

    def _at(self, path: Keys, message: str, *, key: bool = False) -> Problem:
        where = self.built.key_at.get(path) if key else None
        probe = path
        while where is None:
            where = self.built.at.get(probe)
            if where is None:
                if not probe:
                    where = (1, 1)
                probe = probe[:-1]
        return Problem(self.source, where[0], where[1], json_path(path), message)

    # schema errors

    def _explain(self, error: ValidationError) -> list[Problem]:
        path: Keys = tuple(error.absolute_path)
        kind, value, sub = error.validator, error.instance, error.schema
        if not isinstance(sub, Mapping):
            return [self._at(path, error.message)]
        if kind in ("anyOf", "oneOf") and sub.get("title") == "duration":
            return [self._at(path, self._duration_message(value))]
        if kind == "additionalProperties" and isinstance(value, dict):
            return self._unknown_keys(path, value, sub)
        if kind == "required" and isinstance(value, dict):
            props = sub.get("properties", {})
            misspelt = {_suggest(k, props) for k in value if k not in props}
            return [self._at(path, f"missing required key {k!r}" + self._hint(props.get(k)))
                    for k in error.validator_value if k not in value and k not in misspelt]
        if kind in ("anyOf", "oneOf"):
            return self._alternatives(error, path)
        if kind == "not" and isinstance(error.validator_value, Mapping):
            both = error.validator_value.get("required", [])
            if len(both) == 2:
                return [self._at((*path, both[1]), f"{both[0]!r} and {both[1]!r} cannot be "
                                 "used together; use at most one of first, every, after",
                                 key=True)]
        if kind == "type":
            return [self._at(path, self._type_message(path, value, error.validator_value))]
        if kind == "enum":
            return [self._at(path, self._choice_message(value, sub.get("title", "value"),
                                                        error.validator_value))]
        if kind == "const":
            return [self._at(path, f"expected {error.validator_value!r}, got "
                             f"{_describe(value)}")]
        if kind in _BOUNDS and sub.get("title") == "probability":
            return [self._at(path, f"a probability is between 0 and 1, got {value}")]
        if kind in _BOUNDS:
            return [self._at(path, f"must be {_BOUNDS[kind]} {error.validator_value}, got "
                             f"{value}")]
        if kind == "pattern" and "propertyNames" in error.schema_path:
            return [self._at((*path, value), f"{value!r} is not a valid "
                             f"{sub.get('title', 'key')}" + self._hint(sub), key=True)]
        if kind == "pattern":
            title = sub.get("title")
            if title:
                return [self._at(path, f"{value!r} is not a valid {title}" + self._hint(sub))]
            return [self._at(path, f"{value!r} does not match {sub['pattern']}")]
        if kind == "minItems" and error.validator_value == 1:
            return [self._at(path, "must not be empty")]
        if kind == "minProperties" and error.validator_value == 1:
            return [self._at(path, "must not be empty")]
        if kind in ("minItems", "maxItems") and path and path[-1] == "between":
            return [self._at(path, "between takes two amounts: [lowest, highest]")]
        return [self._at(path, error.message)]

    def _duration_message(self, value: Any) -> str:
        try:
            seconds(value)
        except DurationError as exc:
            return str(exc)
        return f"{_describe(value)} is not a duration"  # pragma: no cover - schema agrees

    def _unknown_keys(self, path: Keys, value: Mapping[str, Any],
                      sub: Mapping[str, Any]) -> list[Problem]:
        allowed = list(sub.get("properties", {}))
        patterns = list(sub.get("patternProperties", {}))
        out = []
        for key in value:
            if key in allowed or any(re.search(p, key) for p in patterns):
                continue
            close = _suggest(key, allowed)
            message = f"unknown key {key!r}; " + (
                f"did you mean {close!r}?" if close else
                "expected one of: " + ", ".join(allowed))
            out.append(self._at((*path, key), message, key=True))
        return out

    def _type_message(self, path: Keys, value: Any, expected: Any) -> str:
        names = expected if isinstance(expected, list) else [expected]
        want = " or ".join(_TYPE_NAMES.get(n, str(n)) for n in names)
        message = f"expected {want}, got {_describe(value)}"
        node = self.built.scalars.get(path)
        if "string" in names and node is not None and node.style is None and node.value:
            message += f"; quote it: \"{node.value}\""
        return message

    def _choice_message(self, value: Any, title: str, choices: Sequence[Any]) -> str:
        words = [str(c) for c in choices]
        if isinstance(value, str):
            close = _suggest(value, words)
            if close is not None:
                return f"unknown {title} {value!r}; did you mean {close!r}?"
            return f"unknown {title} {value!r}; expected one of: " + ", ".join(words)
        return f"expected {_a(title)} (one of: {', '.join(words)}), got {_describe(value)}"

    def _alternatives(self, error: ValidationError, path: Keys) -> list[Problem]:
        """The branch the author was writing, judged by type and discriminating key."""
        options = error.validator_value
        if all(isinstance(o, Mapping) and set(o) == {"required"} for o in options):
            keys = [o["required"][0] for o in options]
            if isinstance(error.instance, dict) and any(
                    _suggest(k, keys) for k in error.instance if k not in keys):
                return []  # a misspelt effect: the unknown-key message says which
            what = ("a scenario" if not path else "a rule" if "outcome" in keys
                    else str(path[-1]))
            return [self._at(path, f"{what} needs at least one of: " + ", ".join(keys))]
        if not error.context:
            return [self._at(path, "matches more than one alternative; keep one")]
        sub = error.schema if isinstance(error.schema, Mapping) else {}
        shaped = self._no_branch_fits(path, options, error.instance, str(sub.get("title", "")))
        if shaped is not None:
            return [shaped]
        branches: dict[int, list[ValidationError]] = {}
        for sub_error in error.context:
            branches.setdefault(int(sub_error.relative_schema_path[0]), []).append(sub_error)
        best = min(branches.values(), key=lambda errs: _badness(errs, len(path)))
        out: list[Problem] = []
        for sub_error in best:
            out += self._explain(sub_error)
        return out

    def _no_branch_fits(self, path: Keys, options: Sequence[Any], value: Any,
                        title: str) -> Problem | None:
        """When the value fits none of the alternatives' shapes, name the alternatives."""
        resolved = [self._resolve(o) for o in options]
        objects = [o for o in resolved if o.get("type") == "object"]
        title = title or "value"
        if isinstance(value, dict) and objects:
            consts: dict[str, list[str]] = {}
            for o in objects:
                for key, prop in o.get("properties", {}).items():
                    if isinstance(prop, Mapping) and "const" in prop:
                        consts.setdefault(key, []).append(prop["const"])
            for key, names in consts.items():
                if len(names) != len(objects):
                    continue
                if key not in value:  # a `distribution:`-style field
                    return self._at(path, f"missing {key!r}: one of " + ", ".join(names))
                if value[key] not in names:
                    return self._at((*path, key), self._choice_message(value[key], key, names))
                return None
            tags = [o["required"][0] for o in objects if o.get("required")]
            if len(set(tags)) == len(objects) and not any(t in value for t in tags):
                for key in value:
                    close = _suggest(key, tags)
                    if close is not None:
                        return self._at((*path, key), f"unknown key {key!r}; did you mean "
                                        f"{close!r}?", key=True)
                return self._at(path, f"{_a(title)} is one of: " +
                                ", ".join(_shape(o) for o in resolved))
        if not isinstance(value, dict | list):
            scalars = [o for o in resolved if o.get("type") != "object"]
            if scalars and all("const" in o or "enum" in o for o in scalars):
                words: list[str] = []
                for o in scalars:
                    words += [o["const"]] if "const" in o else list(o["enum"])
                if isinstance(value, str) and _suggest(value, words):
                    return self._at(path, self._choice_message(value, title, words))
                return self._at(path, f"{_a(title)} is one of: " +
                                ", ".join(_shape(o) for o in resolved))
        return None

    def _resolve(self, option: Any) -> Mapping[str, Any]:
        if isinstance(option, Mapping) and "$ref" in option:
            name = str(option["$ref"]).rsplit("/", 1)[-1]
            return {**self._resolve(self.defs.get(name, {})),
                    **{k: v for k, v in option.items() if k != "$ref"}}
        return option if isinstance(option, Mapping) else {}

    def _hint(self, prop: Any) -> str:
        description = self._resolve(prop).get("description")
        return f" ({description.rstrip('.')})" if isinstance(description, str) else ""

    # what a schema cannot say

    def _semantics(self) -> list[Problem]:
        doc = self.doc
        if not isinstance(doc, dict):
            return []
        found: list[Problem] = []
        from paysandbox.providers.base import available  # the plugins installed now
        providers = set(available()) | {"*"}
        rule_names: dict[str, Keys] = {}
        for path, rule in _rules(doc):
            found += self._rule(path, rule, providers)
            name = rule.get("name")
            if isinstance(name, str):
                if name in rule_names:
                    found.append(self._at((*path, "name"), f"another rule is named {name!r} "
                                          f"({json_path(rule_names[name])}); names must differ "
                                          "so their hit counters do"))
                else:
                    rule_names[name] = path
        webhooks = doc.get("webhooks")
        if isinstance(webhooks, dict):
            match = webhooks.get("match")
            if isinstance(match, dict):
                found += self._providers(("webhooks", "match"), match.get("provider"),
                                         providers)
            found += self._latency(("webhooks", "delay"), webhooks.get("delay"))
            for key in ("duplicate", "drop", "bad_signature", "stale_timestamp"):
                found += self._probability(("webhooks", key), webhooks.get(key))
        found += self._phases(doc.get("phases"))
        return found

    def _rule(self, path: Keys, rule: dict[str, Any], providers: set[str]) -> list[Problem]:
        found = self._probability((*path, "probability"), rule.get("probability"))
        found += self._latency((*path, "latency"), rule.get("latency"))
        if isinstance(rule.get("match"), dict):
            found += self._match((*path, "match"), rule["match"], providers)
            found += self._outcome_applies(path, rule)
            found += self._dispute_applies(path, rule)
        found += self._probability((*path, "dispute", "probability"),
                                   (rule.get("dispute") or {}).get("probability")
                                   if isinstance(rule.get("dispute"), dict) else None)
        return found

    def _dispute_applies(self, path: Keys, rule: dict[str, Any]) -> list[Problem]:
        """A dispute opens on a payment that a request captured, at a provider that
        renders disputes; on a rule that matches only other operations, or only
        providers without disputes, it would never open."""
        if "dispute" not in rule:
            return []
        named = rule["match"].get("provider")
        names = [named] if isinstance(named, str) else named if isinstance(named, list) else []
        from paysandbox.providers.base import available  # the plugins installed now
        installed = available()
        silent = [n for n in names if isinstance(n, str) and n in installed
                  and not isinstance(installed[n].load(), RendersDisputes)]
        if silent and len(silent) == len(names):
            return [self._at((*path, "dispute"), (
                f"{', '.join(silent)} does not render disputes yet, so this rule would "
                "never open one; providers that do: " + ", ".join(sorted(
                    n for n, ep in installed.items() if isinstance(ep.load(), RendersDisputes)))
            ))]
        ops = rule["match"].get("operation")
        names = [ops] if isinstance(ops, str) else ops if isinstance(ops, list) else []
        if "dispute" not in rule or not names or not all(isinstance(n, str) for n in names) \
                or {"authorize", "capture", "complete"} & set(names):
            return []
        return [self._at((*path, "dispute"), (
            "a dispute opens on the payment a request captures (operation authorize, or "
            "capture, or complete for a payment the customer completes later); this rule "
            f"matches only {', '.join(names)}, which capture nothing. "
            "Match operation: [authorize, capture, complete]"))]

    def _outcome_applies(self, path: Keys, rule: dict[str, Any]) -> list[Problem]:
        """An outcome decides a payment attempt; on a rule that matches only other
        operations it would silently do nothing."""
        ops = rule["match"].get("operation")
        names = [ops] if isinstance(ops, str) else ops if isinstance(ops, list) else []
        if "outcome" not in rule or not names or not all(isinstance(n, str) for n in names) \
                or "authorize" in names:
            return []
        return [self._at((*path, "outcome"), (
            "an outcome decides a payment attempt (operation authorize); this rule "
            f"matches only {', '.join(names)}, where an outcome never applies. To make "
            f"{names[0]} fail, give the rule a fault instead (for example fault: "
            "{http: 502})"))]

    def _probability(self, path: Keys, value: Any) -> list[Problem]:
        if isinstance(value, int | float) and not isinstance(value, bool) and not (
                0 <= value <= 1):
            return [self._at(path, f"a probability is between 0 and 1, got {value}")]
        return []

    def _providers(self, path: Keys, value: Any, providers: set[str]) -> list[Problem]:
        names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        out = []
        for i, name in enumerate(names):
            if not isinstance(name, str) or name in providers:
                continue
            where = path + ("provider",) + ((i,) if isinstance(value, list) else ())
            installed = ", ".join(sorted(providers - {"*"})) or "none"
            close = _suggest(name, providers - {"*"})
            out.append(self._at(where, f"unknown provider {name!r}; " + (
                f"did you mean {close!r}? " if close else "") +
                f"installed: {installed} (or \"*\" for any)"))
        return out

    def _match(self, path: Keys, match: dict[str, Any], providers: set[str]) -> list[Problem]:
        found = self._providers(path, match.get("provider"), providers)
        amount = match.get("amount")
        if isinstance(amount, dict):
            between = amount.get("between")
            if (isinstance(between, list) and len(between) == 2 and
                    all(isinstance(b, int) for b in between) and between[0] > between[1]):
                found.append(self._at((*path, "amount", "between"),
                                      f"between [{between[0]}, {between[1]}] is empty: write "
                                      f"the lowest first: [{between[1]}, {between[0]}]"))
        window = match.get("time")
        if isinstance(window, dict) and "after" in window and "before" in window:
            start, end = _seconds(window["after"]), _seconds(window["before"])
            if start is not None and end is not None and start >= end:
                found.append(self._at((*path, "time"), "time.after must be earlier than "
                                      "time.before, or no request can match"))
        for key, where in _regexes(path, match):
            try:
                re.compile(key)
            except re.error as exc:
                found.append(self._at(where, f"not a valid regular expression: {exc}"))
        for key in ("all", "any"):
            parts = match.get(key)
            if isinstance(parts, list):
                for i, part in enumerate(parts):
                    if isinstance(part, dict):
                        found += self._match((*path, key, i), part, providers)
        if isinstance(match.get("not"), dict):
            found += self._match((*path, "not"), match["not"], providers)
        return found

    def _latency(self, path: Keys, spec: Any) -> list[Problem]:
        if not isinstance(spec, dict):
            return []
        kind = spec.get("distribution")
        if kind == "uniform":
            lo, hi = _seconds(spec.get("min")), _seconds(spec.get("max"))
            if lo is not None and hi is not None and lo > hi:
                return [self._at((*path, "min"), f"min ({spec['min']}) is greater than max "
                                 f"({spec['max']})")]
        if kind == "pareto" and _seconds(spec.get("scale")) == 0:
            return [self._at((*path, "scale"), "scale is the shortest delay and must be "
                             "greater than 0")]
        if kind == "percentiles":
            given = [(k, _seconds(spec.get(k))) for k in _PERCENTILES if k in spec]
            for (k1, v1), (k2, v2) in itertools.pairwise(given):
                if v1 is not None and v2 is not None and v1 > v2:
                    return [self._at((*path, k2), f"{k2} ({spec[k2]}) is less than {k1} "
                                     f"({spec[k1]}); percentiles must not decrease")]
        return []

    def _phases(self, phases: Any) -> list[Problem]:
        if not isinstance(phases, list):
            return []
        found: list[Problem] = []
        windows: list[tuple[int, str, _Window]] = []
        names: dict[str, int] = {}
        for i, phase in enumerate(phases):
            if not isinstance(phase, dict):
                continue
            given = phase.get("name")
            label = given if isinstance(given, str) else f"phases[{i}]"
            if isinstance(given, str):
                if given in names:
                    found.append(self._at(("phases", i, "name"), f"phases[{names[given]}] is "
                                          f"also named {given!r}; names must differ"))
                names.setdefault(given, i)
            start, length = _seconds(phase.get("after")), _seconds(phase.get("for"))
            period = _seconds(phase.get("repeat")) if "repeat" in phase else None
            if length == 0:
                found.append(self._at(("phases", i, "for"), "a phase that lasts 0s never "
                                      "happens; give it a length"))
            if period is not None and length is not None and period <= length:
                found.append(self._at(("phases", i, "repeat"), f"repeat ({phase['repeat']}) "
                                      f"must be longer than for ({phase['for']}), or the "
                                      "phase never ends; drop repeat to make it permanent"))
                continue
            if start is not None and length:
                windows.append((i, str(label), _Window(start, length, period)))
        for a in range(len(windows)):
            for b in range(a + 1, len(windows)):
                found += self._clash(phases, windows[a], windows[b])
        return found

    def _clash(self, phases: list[Any], first: tuple[int, str, _Window],
               second: tuple[int, str, _Window]) -> list[Problem]:
        (i, label_a, win_a), (j, label_b, win_b) = first, second
        rules_a, rules_b = phases[i].get("rules"), phases[j].get("rules")
        if not isinstance(rules_a, list) or not isinstance(rules_b, list):
            return []
        contested: list[tuple[int, str]] = []
        for ra in rules_a:
            for k, rb in enumerate(rules_b):
                if not isinstance(ra, dict) or not isinstance(rb, dict):
                    continue
                if ra.get("match") != rb.get("match"):
                    continue
                if not (_unconditional(ra) or _conditions(ra) == _conditions(rb)):
                    continue  # the later rule gets what the earlier one leaves
                for effect in ("outcome", "latency", "fault"):
                    if effect in ra and effect in rb and ra[effect] != rb[effect]:
                        contested.append((k, effect))
        if not contested:
            return []
        overlap = win_a.first_overlap(win_b)
        if overlap is None:
            return []
        lo, hi = overlap
        return [self._at(("phases", j, "rules", k, effect),
                         f"phases {label_a!r} and {label_b!r} overlap from {_secs(lo)} to "
                         f"{_secs(hi)} and both set {effect} for the same requests; "
                         f"only {label_a!r} takes effect there")
                for k, effect in dict.fromkeys(contested)]


_BOUNDS = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "greater than",
           "exclusiveMaximum": "less than"}
_PERCENTILES = ("p50", "p90", "p95", "p99", "p999", "max")


def _a(title: str) -> str:
    return ("an " if title[:1] in "aeiou" else "a ") + title


def _shape(option: Mapping[str, Any]) -> str:
    if "const" in option:
        return str(option["const"])
    if "enum" in option:
        return " | ".join(str(v) for v in option["enum"])
    if option.get("type") == "object" and option.get("required"):
        return "{" + str(option["required"][0]) + ": ...}"
    if "anyOf" in option and option.get("title"):
        return f"a {option['title']}"
    return _TYPE_NAMES.get(str(option.get("type")), "a value")


def _badness(errors: list[ValidationError], depth: int) -> tuple[int, int, int, int]:
    """Lower for the branch the author meant: its discriminator and type fit."""
    discriminator = wrong_shape = at_root = 0
    for e in errors:
        relative = len(e.absolute_path) - depth
        if e.validator == "const" and relative == 1:
            discriminator += 1
        if relative == 0 and _wrong_shape(e):
            wrong_shape += 1
        if relative == 0 and e.validator in ("required", "additionalProperties"):
            at_root += 1
    return discriminator, wrong_shape, at_root, len(errors)


def _wrong_shape(error: ValidationError) -> bool:
    """The value is not even the kind of thing this alternative describes."""
    if error.validator in ("type", "const", "enum"):
        return True
    if error.validator in ("anyOf", "oneOf") and error.context:
        depth = len(error.absolute_path)
        branches: dict[Any, list[ValidationError]] = {}
        for e in error.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        return all(any(len(e.absolute_path) == depth and _wrong_shape(e) for e in errs)
                   for errs in branches.values())
    return False


def _rules(doc: Mapping[str, Any]) -> Iterator[tuple[Keys, dict[str, Any]]]:
    rules = doc.get("rules")
    if isinstance(rules, list):
        for i, rule in enumerate(rules):
            if isinstance(rule, dict):
                yield ("rules", i), rule
    phases = doc.get("phases")
    if isinstance(phases, list):
        for p, phase in enumerate(phases):
            inner = phase.get("rules") if isinstance(phase, dict) else None
            if isinstance(inner, list):
                for i, rule in enumerate(inner):
                    if isinstance(rule, dict):
                        yield ("phases", p, "rules", i), rule


def _regexes(path: Keys, match: Mapping[str, Any]) -> Iterator[tuple[str, Keys]]:
    if isinstance(match.get("path"), str):
        yield match["path"], (*path, "path")
    headers = match.get("header")
    if isinstance(headers, dict):
        for name, pattern in headers.items():
            if isinstance(pattern, str):
                yield pattern, (*path, "header", name)


def _conditions(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(rule.get(k) for k in ("probability", "first", "every", "after"))


def _unconditional(rule: Mapping[str, Any]) -> bool:
    p = rule.get("probability", 1)
    return p == 1 and not any(k in rule for k in ("first", "every", "after"))


def _seconds(value: Any) -> float | None:
    try:
        return seconds(value)
    except DurationError:
        return None


def _secs(value: float) -> str:
    return f"{value:g}s"


@dataclass(frozen=True)
class _Window:
    """When a phase is active: [start, start+length), again every `period` if given."""

    start: float
    length: float
    period: float | None

    def occurrences(self) -> Iterator[tuple[float, float]]:
        begin = self.start
        while True:
            yield begin, begin + self.length
            if self.period is None:
                return
            begin += self.period

    def first_overlap(self, other: _Window, limit: int = 100_000) -> tuple[float, float] | None:
        """The first interval both are active in (a sweep over both occurrences)."""
        mine, theirs = self.occurrences(), other.occurrences()
        a, b = next(mine, None), next(theirs, None)
        for _ in range(limit):
            if a is None or b is None:
                return None
            lo, hi = max(a[0], b[0]), min(a[1], b[1])
            if lo < hi:
                return lo, hi
            if a[1] <= b[1]:
                a = next(mine, None)
            else:
                b = next(theirs, None)
        return None
