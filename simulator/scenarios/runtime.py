"""Running scenarios: compiled rules, phases, counters, and the effects of one request.

A loaded (already validated) document compiles once into closures; matching a request
walks the rules of the active scenarios and takes, for each kind of effect, the first
rule that matches and carries it. Precedence is documented in scenarios/README.md.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.core.commands import Command
from simulator.core.outcomes import Outcome, decline_reason
from simulator.faults import Fault, Sampler, distribution
from simulator.scenarios.durations import seconds

Facts = Mapping[str, Any]
Matcher = Callable[[Facts, float], bool]


# -- matchers -------------------------------------------------------------------------

def _one_of(value: Any, *, fold: Callable[[str], str] = str) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    return frozenset(fold(str(v)) for v in values)


_AMOUNT_OPS: dict[str, Callable[[int, Any], bool]] = {
    "eq": lambda a, v: a == v,
    "ne": lambda a, v: a != v,
    "gt": lambda a, v: a > v,
    "gte": lambda a, v: a >= v,
    "lt": lambda a, v: a < v,
    "lte": lambda a, v: a <= v,
    "between": lambda a, v: v[0] <= a <= v[1],
    "in": lambda a, v: a in v,
}


def _amount(spec: Any) -> Matcher:
    ops = {"eq": spec} if isinstance(spec, int) else dict(spec)

    def match(facts: Facts, _elapsed: float) -> bool:
        amount = facts.get("amount")
        return amount is not None and all(_AMOUNT_OPS[k](amount, v) for k, v in ops.items())
    return match


def _card(spec: Mapping[str, Any]) -> Matcher:
    brands = _one_of(spec["brand"], fold=str.lower) if "brand" in spec else None
    bins = _one_of(spec["bin"]) if "bin" in spec else None
    last4 = _one_of(spec["last4"]) if "last4" in spec else None
    countries = _one_of(spec["country"], fold=str.upper) if "country" in spec else None

    def match(facts: Facts, _elapsed: float) -> bool:
        card = facts.get("card")
        if card is None:
            return False
        return ((brands is None or card.brand in brands)
                and (bins is None or any(card.bin.startswith(b) for b in bins))
                and (last4 is None or card.last4 in last4)
                and (countries is None or card.country.upper() in countries))
    return match


def _field(name: str, spec: Any, fold: Callable[[str], str] = str) -> Matcher:
    wanted = _one_of(spec, fold=fold)
    if "*" in wanted:
        return lambda _f, _e: True

    def match(facts: Facts, _elapsed: float) -> bool:
        value = facts.get(name)
        return value is not None and fold(str(value)) in wanted
    return match


def _country(spec: Any) -> Matcher:
    wanted = _one_of(spec, fold=str.upper)

    def match(facts: Facts, _elapsed: float) -> bool:
        card = facts.get("card")
        country = facts.get("country") or (card.country if card is not None else None)
        return country is not None and country.upper() in wanted
    return match


def _metadata(spec: Mapping[str, Any]) -> Matcher:
    wanted = {str(k): str(v) for k, v in spec.items()}

    def match(facts: Facts, _elapsed: float) -> bool:
        meta = facts.get("metadata") or {}
        return all(meta.get(k) == v for k, v in wanted.items())
    return match


def _header(spec: Mapping[str, Any]) -> Matcher:
    patterns = [(str(k), re.compile(str(v))) for k, v in spec.items()]

    def match(facts: Facts, _elapsed: float) -> bool:
        headers = facts.get("headers") or {}
        for name, pattern in patterns:
            value = headers.get(name)
            if value is None:
                value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
            if value is None or not pattern.search(value):
                return False
        return True
    return match


def _path(spec: str) -> Matcher:
    pattern = re.compile(spec)
    return lambda facts, _e: pattern.search(facts.get("path", "")) is not None


def _time(spec: Mapping[str, Any]) -> Matcher:
    after = seconds(spec.get("after", 0))
    before = seconds(spec["before"]) if "before" in spec else float("inf")
    return lambda _facts, elapsed: after <= elapsed < before


def _combine(how: str, subs: list[Matcher]) -> Matcher:
    if how == "all":
        return lambda f, e: all(m(f, e) for m in subs)
    return lambda f, e: any(m(f, e) for m in subs)


def _negate(sub: Matcher) -> Matcher:
    return lambda f, e: not sub(f, e)


def compile_match(spec: Mapping[str, Any] | None) -> Matcher:
    """One closure for a `match` object: every key must hold."""
    if not spec:
        return lambda _f, _e: True
    parts: list[Matcher] = []
    for key, value in spec.items():
        if key in ("provider", "operation", "method", "namespace"):
            parts.append(_field(key, value, str.lower if key != "namespace" else str))
        elif key == "currency":
            parts.append(_field("currency", value, str.upper))
        elif key == "amount":
            parts.append(_amount(value))
        elif key == "card":
            parts.append(_card(value))
        elif key == "country":
            parts.append(_country(value))
        elif key == "metadata":
            parts.append(_metadata(value))
        elif key == "header":
            parts.append(_header(value))
        elif key == "path":
            parts.append(_path(value))
        elif key == "time":
            parts.append(_time(value))
        elif key in ("all", "any"):
            parts.append(_combine(key, [compile_match(s) for s in value]))
        elif key == "not":
            parts.append(_negate(compile_match(value)))
        else:  # the loader's schema makes this unreachable
            raise ValueError(f"unknown match key {key!r}")
    if len(parts) == 1:
        return parts[0]
    return lambda f, e: all(m(f, e) for m in parts)


# -- outcomes -------------------------------------------------------------------------

def compile_outcome(spec: Any) -> Outcome:
    if spec == "approve":
        return Outcome.approve()
    if "decline" in spec:
        return Outcome.decline(decline_reason(spec["decline"]),
                               native_code=spec.get("native_code"))
    if "requires_action" in spec:
        then = compile_outcome(spec["then"]) if "then" in spec else None
        return Outcome.requires_action(spec["requires_action"], then=then)
    if "pending" in spec:
        pending = spec["pending"] or {}
        then = compile_outcome(pending["then"]) if "then" in pending else None
        return Outcome.pending(then=then)
    raise ValueError(f"unknown outcome {spec!r}")


def settle_delay(spec: Any) -> float | None:
    """For `{pending: {after: 30s}}`: when the pending payment settles by itself."""
    if isinstance(spec, Mapping) and isinstance(spec.get("pending"), Mapping):
        after = spec["pending"].get("after")
        return seconds(after) if after is not None else None
    return None


# -- rules, phases, scenarios ---------------------------------------------------------

@dataclass(slots=True)
class Rule:
    name: str
    match: Matcher
    probability: float | None = None
    first: int | None = None
    every: int | None = None
    after: int | None = None
    outcome: Outcome | None = None
    settle_after: float | None = None
    latency: Sampler | None = None
    fault: Fault | None = None
    seen: int = 0  # requests that satisfied `match`
    hits: int = 0  # requests the rule applied to

    def applies(self, facts: Facts, elapsed: float, rng: random.Random) -> bool:
        if not self.match(facts, elapsed):
            return False
        self.seen += 1
        n = self.seen
        if self.first is not None and n > self.first:
            return False
        if self.every is not None and n % self.every:
            return False
        if self.after is not None and n <= self.after:
            return False
        return self.probability is None or rng.random() < self.probability

    def counters(self) -> dict[str, Any]:
        return {"name": self.name, "matched": self.seen, "applied": self.hits}


def compile_rule(spec: Mapping[str, Any], default_name: str) -> Rule:
    return Rule(
        name=str(spec.get("name") or default_name),
        match=compile_match(spec.get("match")),
        probability=spec.get("probability"),
        first=spec.get("first"),
        every=spec.get("every"),
        after=spec.get("after"),
        outcome=compile_outcome(spec["outcome"]) if "outcome" in spec else None,
        settle_after=settle_delay(spec.get("outcome")),
        latency=distribution(spec["latency"]) if "latency" in spec else None,
        fault=Fault.parse(spec["fault"]) if "fault" in spec else None,
    )


@dataclass(slots=True)
class Phase:
    name: str
    after: float
    length: float
    repeat: float | None
    rules: list[Rule]

    def active(self, elapsed: float) -> bool:
        if elapsed < self.after:
            return False
        into = elapsed - self.after
        if self.repeat:
            into %= self.repeat
        return into < self.length


@dataclass(slots=True)
class WebhookChaos:
    match: Matcher
    events: frozenset[str] | None = None  # event types it applies to; None: all
    delay: Sampler | None = None
    duplicate: float = 0.0
    drop: float = 0.0
    reorder: bool = False
    fail_first: int = 0
    bad_signature: float = 0.0
    stale_timestamp: float = 0.0

    def wants(self, event_type: str) -> bool:
        return self.events is None or "*" in self.events or event_type in self.events


@dataclass(slots=True)
class Scenario:
    name: str
    document: Mapping[str, Any]
    rules: list[Rule]
    phases: list[Phase]
    webhooks: WebhookChaos | None
    priority: int = 0
    seed: int | None = None
    manual_start: bool = False
    source: str = "<api>"
    loaded: int = 0
    started_at: float | None = None
    rng: random.Random = field(default_factory=random.Random)

    def elapsed(self, now: float) -> float | None:
        return None if self.started_at is None else now - self.started_at

    def start(self, now: float) -> None:
        self.started_at = now

    def status(self, now: float) -> dict[str, Any]:
        elapsed = self.elapsed(now)
        return {
            "name": self.name,
            "description": self.document.get("description"),
            "source": self.source,
            "priority": self.priority,
            "seed": self.seed,
            "started": elapsed is not None,
            "elapsed_s": round(elapsed, 3) if elapsed is not None else None,
            "rules": [r.counters() for r in self.rules],
            "phases": [{"name": p.name, "active": elapsed is not None and p.active(elapsed),
                        "rules": [r.counters() for r in p.rules]} for p in self.phases],
            "document": self.document,
        }


_LOADED = itertools.count(1)


def compile_scenario(doc: Mapping[str, Any], *, source: str = "<api>",
                     now: float | None = None) -> Scenario:
    """A validated document (see simulator/scenarios/loader.py) -> a running scenario."""
    now = time.monotonic() if now is None else now
    rules = [compile_rule(r, f"rules[{i}]") for i, r in enumerate(doc.get("rules", []))]
    phases = []
    for i, p in enumerate(doc.get("phases", [])):
        name = str(p.get("name") or f"phases[{i}]")
        phases.append(Phase(name, seconds(p.get("after", 0)), seconds(p["for"]),
                            seconds(p["repeat"]) if "repeat" in p else None,
                            [compile_rule(r, f"{name}.rules[{j}]")
                             for j, r in enumerate(p.get("rules", []))]))
    chaos = None
    hooks = doc.get("webhooks")
    if hooks:
        hook_match = dict(hooks.get("match") or {})
        events = hook_match.pop("event", None)
        chaos = WebhookChaos(
            match=compile_match(hook_match),
            events=_one_of(events) if events is not None else None,
            delay=distribution(hooks["delay"]) if "delay" in hooks else None,
            duplicate=float(hooks.get("duplicate", 0)), drop=float(hooks.get("drop", 0)),
            reorder=bool(hooks.get("reorder", False)),
            fail_first=int(hooks.get("fail_first", 0)),
            bad_signature=float(hooks.get("bad_signature", 0)),
            stale_timestamp=float(hooks.get("stale_timestamp", 0)))
    seed = doc.get("seed")
    manual = doc.get("start") == "manual"
    scenario = Scenario(
        name=str(doc["name"]), document=doc, rules=rules, phases=phases, webhooks=chaos,
        priority=int(doc.get("priority", 0)), seed=seed, manual_start=manual, source=source,
        loaded=next(_LOADED), rng=random.Random(seed))
    if not manual:
        scenario.start(now)
    return scenario


@dataclass(frozen=True, slots=True)
class Decision:
    """What the active scenarios decided for one request."""

    outcome: Outcome | None = None
    settle_after: float | None = None
    latency: float = 0.0
    fault: Fault | None = None
    webhooks: WebhookChaos | None = None
    webhook_rng: random.Random | None = None
    matched: tuple[str, ...] = ()


NOTHING = Decision()


class ScenarioSet:
    """The scenarios a simulator runs, consulted for every request.

    Replacing the whole list at once (never mutating it in place) is what makes a reload
    under load safe: a request in flight keeps the list it started with.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._active: tuple[Scenario, ...] = ()

    def __len__(self) -> int:
        return len(self._active)

    def put(self, doc: Mapping[str, Any], *, source: str = "<api>") -> Scenario:
        """Load (or replace, by name) a validated document."""
        scenario = compile_scenario(doc, source=source, now=self._clock())
        others = [s for s in self._active if s.name != scenario.name]
        self._set([*others, scenario])
        return scenario

    def replace_all(self, docs: Iterable[tuple[Mapping[str, Any], str]]) -> None:
        self._set([compile_scenario(d, source=src, now=self._clock()) for d, src in docs])

    def remove(self, name: str) -> bool:
        kept = [s for s in self._active if s.name != name]
        found = len(kept) != len(self._active)
        self._set(kept)
        return found

    def clear(self) -> None:
        self._set([])

    def get(self, name: str) -> Scenario | None:
        return next((s for s in self._active if s.name == name), None)

    def start(self, name: str) -> Scenario | None:
        scenario = self.get(name)
        if scenario is not None:
            scenario.start(self._clock())
        return scenario

    def status(self) -> list[dict[str, Any]]:
        now = self._clock()
        return [s.status(now) for s in self._active]

    def _set(self, scenarios: list[Scenario]) -> None:
        self._active = tuple(sorted(scenarios, key=lambda s: (-s.priority, -s.loaded)))

    def decide(self, facts: Facts) -> Decision:
        active = self._active
        if not active:
            return NOTHING
        now = self._clock()
        outcome: Outcome | None = None
        settle: float | None = None
        latency: Sampler | None = None
        latency_rng: random.Random | None = None
        fault: Fault | None = None
        chaos: WebhookChaos | None = None
        chaos_rng: random.Random | None = None
        matched: list[str] = []
        for scenario in active:
            elapsed = scenario.elapsed(now)
            if elapsed is None:
                continue
            rules = [r for p in scenario.phases if p.active(elapsed) for r in p.rules]
            rules += scenario.rules
            for rule in rules:
                if not rule.applies(facts, elapsed, scenario.rng):
                    continue
                used = False
                if rule.fault is not None and fault is None:
                    fault, used = rule.fault, True
                if rule.outcome is not None and outcome is None:
                    outcome, settle, used = rule.outcome, rule.settle_after, True
                if rule.latency is not None and latency is None:
                    latency, latency_rng, used = rule.latency, scenario.rng, True
                if used:
                    rule.hits += 1
                    matched.append(f"{scenario.name}/{rule.name}")
            if chaos is None and scenario.webhooks is not None and \
                    scenario.webhooks.match(facts, elapsed):
                chaos, chaos_rng = scenario.webhooks, scenario.rng
        if not matched and chaos is None:
            return NOTHING
        delay = latency(latency_rng) if latency is not None and latency_rng else 0.0
        return Decision(outcome, settle, delay, fault, chaos, chaos_rng, tuple(matched))


def facts_for(provider: str, namespace: str, command: Command,
              extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The facts rules match on: what the provider told us plus who and what."""
    facts = dict(extra or {})
    facts.setdefault("provider", provider)
    facts.setdefault("namespace", namespace)
    facts.setdefault("operation", command.operation)
    return facts
