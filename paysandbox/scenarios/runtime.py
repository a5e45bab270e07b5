"""Running scenarios: compiled rules, phases, counters, and the effects of one request.

A loaded (already validated) document compiles once into closures; matching a request
walks the rules of the active scenarios and takes, for each kind of effect, the first
rule that matches and carries it. Precedence is documented in paysandbox/scenarios/ready/README.md.
"""

from __future__ import annotations

import itertools
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from paysandbox.core.commands import Command
from paysandbox.core.disputes import (
    DEFAULT_DECISION_DELAY,
    DEFAULT_EVIDENCE_WINDOW,
    DisputeKind,
    DisputePlan,
    DisputeStatus,
    dispute_reason,
)
from paysandbox.core.drift import Drift
from paysandbox.core.outcomes import Outcome, decline_reason
from paysandbox.faults import Fault, Sampler, distribution
from paysandbox.scenarios.durations import seconds

Facts = Mapping[str, Any]
Matcher = Callable[[Facts, float], bool]


# -- matchers -------------------------------------------------------------------------
#
# Matching runs for every request against every rule, so it is compiled to plain
# closures: facts are normalised once per request (see `facts_for`: lower-case
# provider, operation and method, upper-case currency and country), a rule's
# provider and operation are checked once per (provider, operation) pair and cached
# (see `Scenario.candidates`), and conjunctions are chained calls, not generators.

def _one_of(value: Any, *, fold: Callable[[str], str] = str) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    return frozenset(fold(str(v)) for v in values)


def _amount_op(op: str, v: Any) -> Matcher:
    if op == "eq":
        return lambda f, _e: f.get("amount") == v
    if op == "ne":
        return lambda f, _e: (a := f.get("amount")) is not None and a != v
    if op == "gt":
        return lambda f, _e: (a := f.get("amount")) is not None and a > v
    if op == "gte":
        return lambda f, _e: (a := f.get("amount")) is not None and a >= v
    if op == "lt":
        return lambda f, _e: (a := f.get("amount")) is not None and a < v
    if op == "lte":
        return lambda f, _e: (a := f.get("amount")) is not None and a <= v
    if op == "between":
        lo, hi = v
        return lambda f, _e: (a := f.get("amount")) is not None and lo <= a <= hi
    if op == "in":
        wanted = frozenset(v)
        return lambda f, _e: f.get("amount") in wanted
    raise ValueError(f"unknown amount operator {op!r}")


def _amount(spec: Any) -> Matcher:
    ops = {"eq": spec} if isinstance(spec, int) else dict(spec)
    return _all([_amount_op(k, v) for k, v in ops.items()])


def _card(spec: Mapping[str, Any]) -> Matcher:
    brands = _one_of(spec["brand"], fold=str.lower) if "brand" in spec else None
    bins = tuple(_one_of(spec["bin"])) if "bin" in spec else None
    last4 = _one_of(spec["last4"]) if "last4" in spec else None
    countries = _one_of(spec["country"], fold=str.upper) if "country" in spec else None

    def match(facts: Facts, _elapsed: float) -> bool:
        card = facts.get("card")
        if card is None:
            return False
        return ((brands is None or card.brand in brands)
                and (bins is None or card.bin.startswith(bins))
                and (last4 is None or card.last4 in last4)
                and (countries is None or card.country.upper() in countries))
    return match


def _field(name: str, spec: Any, fold: Callable[[str], str] = str) -> Matcher | None:
    """Equals one of the given values; facts are already normalised (see facts_for)."""
    wanted = _one_of(spec, fold=fold)
    if "*" in wanted:
        return None
    if len(wanted) == 1:
        (only,) = wanted
        return lambda f, _e: f.get(name) == only
    return lambda f, _e: f.get(name) in wanted


def _country(spec: Any) -> Matcher:
    wanted = _one_of(spec, fold=str.upper)
    return lambda f, _e: f.get("country") in wanted


def _metadata(spec: Mapping[str, Any]) -> Matcher:
    wanted = tuple((str(k), str(v)) for k, v in spec.items())

    def match(facts: Facts, _elapsed: float) -> bool:
        meta = facts.get("metadata")
        if not meta:
            return False
        return all(meta.get(k) == v for k, v in wanted)
    return match


def _header(spec: Mapping[str, Any]) -> Matcher:
    """Header names are case-insensitive: the routes pass aiohttp's CIMultiDict."""
    patterns = tuple((str(k), re.compile(str(v))) for k, v in spec.items())

    def match(facts: Facts, _elapsed: float) -> bool:
        headers = facts.get("headers")
        if headers is None:
            return False
        for name, pattern in patterns:
            value = headers.get(name)
            if value is None or not pattern.search(value):
                return False
        return True
    return match


def _path(spec: str) -> Matcher:
    search = re.compile(spec).search
    return lambda facts, _e: search(facts.get("path", "")) is not None


def _time(spec: Mapping[str, Any]) -> Matcher:
    after = seconds(spec.get("after", 0))
    before = seconds(spec["before"]) if "before" in spec else float("inf")
    return lambda _facts, elapsed: after <= elapsed < before


def _always(_facts: Facts, _elapsed: float) -> bool:
    return True


def _chain(parts: list[Matcher], link: Callable[[Matcher, Matcher], Matcher]) -> Matcher:
    """Nest `parts` with `link` (and/or): plain calls, no generator on the hot path."""
    matcher = parts[-1]
    for part in reversed(parts[:-1]):
        matcher = link(part, matcher)
    return matcher


def _all(parts: list[Matcher]) -> Matcher:
    return _chain(parts, _and) if parts else _always


def _any(parts: list[Matcher]) -> Matcher:
    return _chain(parts, _or)


def _and(a: Matcher, b: Matcher) -> Matcher:
    return lambda f, e: a(f, e) and b(f, e)


def _or(a: Matcher, b: Matcher) -> Matcher:
    return lambda f, e: a(f, e) or b(f, e)


def _negate(sub: Matcher) -> Matcher:
    return lambda f, e: not sub(f, e)


#: Matchers that cost nothing to evaluate first go first; the rest keep file order.
_CHEAP_FIRST = ("amount", "currency", "method", "initiator", "mit_type", "namespace",
                "country", "card", "time")


#: Each `match` key and how it compiles; the keys are the YAML names.
_MATCHERS: dict[str, Callable[[Any], Matcher | None]] = {
    "provider": lambda v: _field("provider", v, str.lower),
    "operation": lambda v: _field("operation", v, str.lower),
    "method": lambda v: _field("method", v, str.lower),
    "initiator": lambda v: _field("initiator", v),
    "mit_type": lambda v: _field("mit_type", v),
    "namespace": lambda v: _field("namespace", v),
    "currency": lambda v: _field("currency", v, str.upper),
    "amount": _amount,
    "card": _card,
    "country": _country,
    "metadata": _metadata,
    "header": _header,
    "path": _path,
    "time": _time,
    "all": lambda v: _all([compile_match(s) for s in v]),
    "any": lambda v: _any([compile_match(s) for s in v]),
    "not": lambda v: _negate(compile_match(v)),
}


def compile_match(spec: Mapping[str, Any] | None, *, hoisted: tuple[str, ...] = ()) -> Matcher:
    """One closure for a `match` object: every key must hold. Keys in `hoisted` are
    checked elsewhere (a rule's provider and operation, see Scenario.candidates)."""
    if not spec:
        return _always
    parts: list[Matcher | None] = []
    keys = sorted(spec, key=lambda k: (k not in _CHEAP_FIRST, _CHEAP_FIRST.index(k)
                                       if k in _CHEAP_FIRST else 0))
    for key in keys:
        value = spec[key]
        if key in hoisted:
            continue
        build = _MATCHERS.get(key)
        if build is None:  # the loader's schema makes this unreachable
            raise ValueError(f"unknown match key {key!r}")
        parts.append(build(value))
    return _all([p for p in parts if p is not None])


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


def compile_dispute(spec: Mapping[str, Any]) -> DisputePlan:
    """A rule's `dispute:` -> the dispute to open once the matching request captures."""
    ends = spec.get("ends")
    # `ends: expired`: the merchant hears of it with no time left to answer.
    window = 0.0 if ends == "expired" else \
        seconds(spec.get("evidence_window", DEFAULT_EVIDENCE_WINDOW))
    return DisputePlan(
        reason=dispute_reason(spec.get("reason", "fraudulent")),
        after=seconds(spec.get("after", 0)),
        kind=DisputeKind(spec.get("kind", "chargeback")),
        amount=spec.get("amount"),
        evidence_window=window,
        ends=None if ends in (None, "expired") else DisputeStatus(ends),
        decide_after=seconds(spec.get("decide_after", DEFAULT_DECISION_DELAY)))


# -- rules, phases, scenarios ---------------------------------------------------------

@dataclass(slots=True)
class Rule:
    name: str
    match: Matcher
    providers: frozenset[str] | None = None  # None: any (checked once per pair, cached)
    operations: frozenset[str] | None = None
    probability: float | None = None
    first: int | None = None
    every: int | None = None
    after: int | None = None
    outcome: Outcome | None = None
    settle_after: float | None = None
    latency: Sampler | None = None
    fault: Fault | None = None
    dispute: DisputePlan | None = None
    dispute_rate: float | None = None  # `dispute.probability`: drawn per captured payment
    seen: int = 0  # requests that satisfied `match`
    hits: int = 0  # requests the rule applied to
    #: Each top-level `match` key, what it asked and its matcher: for `explain`.
    checks: tuple[tuple[str, Any, Matcher], ...] = ()

    def explain(self, facts: Facts, elapsed: float) -> list[dict[str, Any]]:
        """The `match` keys this request fails, each with what it wanted and what the
        request had (pytest-httpserver's `difference()`); [] when `match` holds."""
        return [{"field": key, "wanted": wanted,
                 "actual": _actual(key, wanted, facts, elapsed)}
                for key, wanted, check in self.checks if not check(facts, elapsed)]

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

    def admits(self, provider: str, operation: str) -> bool:
        return ((self.providers is None or provider in self.providers)
                and (self.operations is None or operation in self.operations))


def _hoist(match: Mapping[str, Any] | None, key: str) -> frozenset[str] | None:
    if not match or key not in match:
        return None
    wanted = _one_of(match[key], fold=str.lower)
    return None if "*" in wanted else wanted


def _checks(match: Mapping[str, Any] | None) -> tuple[tuple[str, Any, Matcher], ...]:
    found = []
    for key, wanted in (match or {}).items():
        check = _MATCHERS[key](wanted)
        if check is not None:
            found.append((key, wanted, check))
    return tuple(found)


#: Headers whose values never go into a near miss (the journal is readable by anyone
#: with the admin API).
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def _actual(key: str, wanted: Any, facts: Facts, elapsed: float) -> Any:
    """What a request had for a `match` key, as a reader of the journal wants to see it
    (never a full card number: the card's brand, BIN, last 4 and country)."""
    if key == "card":
        card = facts.get("card")
        return None if card is None else {"brand": card.brand, "bin": card.bin,
                                          "last4": card.last4, "country": card.country}
    if key == "time":
        return {"elapsed": f"{elapsed:.3f}s"}
    if key == "header":
        headers = facts.get("headers") or {}
        return {name: ("…" if name.lower() in _SECRET_HEADERS and headers.get(name)
                       else headers.get(name)) for name in wanted}
    if key in ("all", "any", "not"):
        return None  # a combination: its parts are in `wanted`
    value = facts.get(key)
    return value if value is None or isinstance(value, str | int | float | bool | dict) \
        else str(value)


def compile_rule(spec: Mapping[str, Any], default_name: str) -> Rule:
    match = spec.get("match")
    return Rule(
        checks=_checks(match),
        name=str(spec.get("name") or default_name),
        match=compile_match(match, hoisted=("provider", "operation")),
        providers=_hoist(match, "provider"),
        operations=_hoist(match, "operation"),
        probability=spec.get("probability"),
        first=spec.get("first"),
        every=spec.get("every"),
        after=spec.get("after"),
        outcome=compile_outcome(spec["outcome"]) if "outcome" in spec else None,
        settle_after=settle_delay(spec.get("outcome")),
        latency=distribution(spec["latency"]) if "latency" in spec else None,
        fault=Fault.parse(spec["fault"]) if "fault" in spec else None,
        dispute=compile_dispute(spec["dispute"]) if "dispute" in spec else None,
        dispute_rate=(spec.get("dispute") or {}).get("probability"),
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
    drift: Drift | None = None  # the `settlement:` section (core/drift.py)
    priority: int = 0
    seed: int | None = None
    manual_start: bool = False
    source: str = "<api>"
    loaded: int = 0
    started_at: float | None = None
    rng: random.Random = field(default_factory=random.Random)
    _candidates: dict[tuple[str, str, int], list[Rule]] = field(default_factory=dict)

    def candidates(self, provider: str, operation: str, elapsed: float) -> list[Rule]:
        """The rules that may apply to (provider, operation) now, in precedence order:
        active phases' rules, then top-level rules. Cached per pair and phase set."""
        active = 0
        for i, phase in enumerate(self.phases):
            if phase.active(elapsed):
                active |= 1 << i
        key = (provider, operation, active)
        found = self._candidates.get(key)
        if found is None:
            rules = [r for i, p in enumerate(self.phases) if active >> i & 1 for r in p.rules]
            rules += self.rules
            found = self._candidates[key] = [r for r in rules
                                             if r.admits(provider, operation)]
        return found

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
            "manual_start": self.manual_start,
            "phases": [{"name": p.name, "active": elapsed is not None and p.active(elapsed),
                        "after_s": p.after, "for_s": p.length, "repeat_s": p.repeat,
                        "rules": [r.counters() for r in p.rules]} for p in self.phases],
            "document": self.document,
        }


_LOADED = itertools.count(1)


def _drift(spec: Mapping[str, Any], seed: object) -> Drift:
    """The `settlement:` section, its durations in seconds."""
    late = spec.get("late_payout")
    if late is not None:
        spec = {**spec, "late_payout": {**late, "by": seconds(late["by"])}}
    return Drift.compile(spec, seed)


def compile_scenario(doc: Mapping[str, Any], *, source: str = "<api>",
                     now: float | None = None) -> Scenario:
    """A validated document (see paysandbox/scenarios/loader.py) -> a running scenario."""
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
    drift = _drift(doc["settlement"], seed if seed is not None else doc["name"]) \
        if doc.get("settlement") else None
    scenario = Scenario(
        name=str(doc["name"]), document=doc, rules=rules, phases=phases, webhooks=chaos,
        drift=drift,
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
    #: When no rule matched: the rules that came closest, with the fields they missed.
    near_misses: tuple[dict[str, Any], ...] = ()
    dispute: DisputePlan | None = None


NOTHING = Decision()

#: How many near misses a request keeps (the closest first), and at most how many rules
#: are examined to find them, so that explaining stays cheap whatever a scenario holds.
NEAR_MISSES = 3
EXPLAINED_RULES = 200


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

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self._active)

    def put(self, doc: Mapping[str, Any], *, source: str = "<api>") -> Scenario:
        """Load (or replace, by name) a validated document."""
        scenario = compile_scenario(doc, source=source, now=self._clock())
        others = [s for s in self._active if s.name != scenario.name]
        self._set([*others, scenario])
        return scenario

    def replace_all(self, docs: Iterable[tuple[Mapping[str, Any], str]]) -> None:
        self._set([compile_scenario(d, source=src, now=self._clock()) for d, src in docs])

    def adopt(self, entries: Iterable[tuple[Mapping[str, Any], str, float | None, int]]
              ) -> None:
        """Run exactly these scenarios, each given as (validated document, source, start
        time or None, load order): a fleet's shared set (paysandbox.shared), so that each
        process runs the same phases from the same instant. One whose document, source and
        load order are unchanged stays as it runs here (its counters, its random state)."""
        current = {s.name: s for s in self._active}
        kept: list[Scenario] = []
        for doc, source, started_at, loaded in entries:
            scenario = current.get(str(doc["name"]))
            if scenario is None or scenario.document != doc or scenario.source != source \
                    or scenario.loaded != loaded:
                scenario = compile_scenario(doc, source=source, now=self._clock())
                scenario.loaded = loaded
            scenario.started_at = started_at
            kept.append(scenario)
        self._set(kept)

    def now(self) -> float:
        """The time phases are measured on (monotonic; the virtual clock in a fleet)."""
        return self._clock()

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

    def drift(self) -> Drift | None:
        """The first loaded scenario's `settlement:` discrepancies, if any has some."""
        return next((s.drift for s in self._active if s.drift is not None), None)

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
        provider, operation = facts.get("provider", ""), facts.get("operation", "")
        outcome: Outcome | None = None
        settle: float | None = None
        latency: Sampler | None = None
        latency_rng: random.Random | None = None
        fault: Fault | None = None
        dispute: DisputePlan | None = None
        chaos: WebhookChaos | None = None
        chaos_rng: random.Random | None = None
        matched: list[str] = []
        for scenario in active:
            elapsed = scenario.elapsed(now)
            if elapsed is None:
                continue
            for rule in scenario.candidates(provider, operation, elapsed):
                if not rule.applies(facts, elapsed, scenario.rng):
                    continue
                used = False
                if rule.fault is not None and fault is None:
                    fault, used = rule.fault, True
                if rule.outcome is not None and outcome is None:
                    outcome, settle, used = rule.outcome, rule.settle_after, True
                if rule.latency is not None and latency is None:
                    latency, latency_rng, used = rule.latency, scenario.rng, True
                if rule.dispute is not None and dispute is None and (
                        rule.dispute_rate is None or scenario.rng.random() < rule.dispute_rate):
                    dispute, used = rule.dispute, True
                if used:
                    rule.hits += 1
                    matched.append(f"{scenario.name}/{rule.name}")
            if chaos is None and scenario.webhooks is not None and \
                    scenario.webhooks.match(facts, elapsed):
                chaos, chaos_rng = scenario.webhooks, scenario.rng
        if not matched and chaos is None:
            misses = self.near_misses(facts, now)
            return Decision(near_misses=misses) if misses else NOTHING
        delay = latency(latency_rng) if latency is not None and latency_rng else 0.0
        return Decision(outcome, settle, delay, fault, chaos, chaos_rng, tuple(matched),
                        dispute=dispute)


    def near_misses(self, facts: Facts, now: float) -> tuple[dict[str, Any], ...]:
        """The rules of the running scenarios (their active phases included) that came
        closest to this unmatched request: fewest missed `match` keys first."""
        ranked: list[tuple[int, int, dict[str, Any]]] = []
        examined = 0
        for scenario in self._active:
            elapsed = scenario.elapsed(now)
            if elapsed is None:
                continue
            rules = [r for p in scenario.phases if p.active(elapsed) for r in p.rules]
            for rule in [*rules, *scenario.rules]:
                examined += 1
                if examined > EXPLAINED_RULES:
                    break
                missed = rule.explain(facts, elapsed)
                if missed:  # (none missed: it matched, and probability or count said no)
                    ranked.append((len(missed), len(ranked), {
                        "rule": f"{scenario.name}/{rule.name}", "missed": missed}))
        ranked.sort(key=lambda r: r[:2])
        return tuple(miss for _, _, miss in ranked[:NEAR_MISSES])


def facts_for(provider: str, namespace: str, command: Command,
              extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The facts rules match on: what the provider told us plus who and what."""
    facts = dict(extra or {})
    facts["provider"] = str(facts.get("provider") or provider).lower()
    facts.setdefault("namespace", namespace)
    facts["operation"] = str(facts.get("operation") or command.operation).lower()
    if facts.get("currency"):
        facts["currency"] = str(facts["currency"]).upper()
    if facts.get("method"):
        facts["method"] = str(facts["method"]).lower()
    card = facts.get("card")
    country = facts.get("country") or (card.country if card is not None else None)
    facts["country"] = str(country).upper() if country else None
    return facts
