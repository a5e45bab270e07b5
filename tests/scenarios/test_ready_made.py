"""The ready-made scenarios in scenarios/: every file is valid, loads, and does what its
comments promise, observed from outside (the Stripe SDK, a raw HTTP client, a webhook
receiver).

Minutes-long timelines and rare faults would make slow tests, so some files are loaded
as a dict after shrinking their durations or raising their probabilities; the rules,
matches and effects stay the file's own. Files with a `seed` decide the same way on
every run, so the tolerance bands below (four standard deviations of a binomial count)
are there to state what the file promises, not to absorb flakiness.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import razorpay
import stripe
import yaml

from paysandbox.scenarios import validate
from paysandbox.scenarios.durations import seconds
from paysandbox.settings import default_secret
from paysandbox.testing.client import wait_until
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.mercadopago_sdk import sdk as mercadopago_sdk
from tests.providers.mercadopago_sdk import verify as mercadopago_verify
from tests.providers.mollie_support import client as mollie_client
from tests.providers.mollie_support import create as mollie_create
from tests.providers.mollie_support import webhook_id
from tests.providers.razorpay_helpers import collect as upi_collect
from tests.providers.razorpay_helpers import new_key_id
from tests.providers.razorpay_helpers import order as razorpay_order
from tests.providers.test_daraja_stk import Daraja

SCENARIOS = Path(__file__).resolve().parents[2] / "paysandbox" / "scenarios" / "ready"
FILES = sorted(SCENARIOS.glob("*.yaml"))

#: file name -> the test below that exercises it; a new file without a test fails.
EXERCISED: dict[str, str] = {}


def exercises(*names: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def mark(test: Callable[..., None]) -> Callable[..., None]:
        for name in names:
            EXERCISED[name] = test.__name__
        return test
    return mark


# -- helpers ---------------------------------------------------------------------------

def document(name: str) -> dict[str, Any]:
    """A file's scenario as plain data, safe to edit (aliases are no longer shared)."""
    loaded = yaml.safe_load((SCENARIOS / name).read_text())
    copied: dict[str, Any] = json.loads(json.dumps(loaded))
    return copied


def _duration(value: Any, factor: float) -> str:
    return f"{round(seconds(value) * factor * 1000, 3)}ms"


_LATENCY_KEYS = ("value", "min", "max", "mean", "stddev", "median", "scale",
                 "p50", "p90", "p95", "p99", "p999")


def _latency(spec: Any, factor: float) -> Any:
    if not isinstance(spec, dict):
        return _duration(spec, factor)
    out = dict(spec)
    for key in _LATENCY_KEYS:
        if key in out:
            out[key] = _duration(out[key], factor)
    return out


def _rules(rules: list[dict[str, Any]], factor: float) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        rule = dict(rule)
        if "latency" in rule:
            rule["latency"] = _latency(rule["latency"], factor)
        fault = rule.get("fault")
        if isinstance(fault, dict) and "slow_body" in fault:
            rule["fault"] = {"slow_body": _duration(fault["slow_body"], factor)}
        out.append(rule)
    return out


def shrink(doc: dict[str, Any], factor: float) -> dict[str, Any]:
    """The same scenario with every duration (phase times, latencies, slow bodies,
    webhook delays) multiplied by `factor`. Retry-After values are left alone."""
    doc = dict(doc)
    if "rules" in doc:
        doc["rules"] = _rules(doc["rules"], factor)
    phases = []
    for phase in doc.get("phases", []):
        phase = dict(phase, rules=_rules(phase["rules"], factor))
        for key in ("after", "for", "repeat"):
            if key in phase:
                phase[key] = _duration(phase[key], factor)
        phases.append(phase)
    if phases:
        doc["phases"] = phases
    if isinstance(doc.get("webhooks"), dict) and "delay" in doc["webhooks"]:
        doc["webhooks"] = dict(doc["webhooks"], delay=_latency(doc["webhooks"]["delay"], factor))
    return doc


def band(n: int, p: float) -> tuple[float, float]:
    """Where a binomial count of `n` draws at probability `p` lands, generously."""
    spread = 4 * math.sqrt(n * p * (1 - p)) + 1
    return n * p - spread, n * p + spread


def shares(rules: list[dict[str, Any]], kind: Callable[[dict[str, Any]], str | None]
           ) -> dict[str, float]:
    """The share of requests each kind of outcome gets from rules tried in file order,
    each drawing its own probability, the first that fires winning."""
    left, out = 1.0, Counter[str]()
    for rule in rules:
        name = kind(rule)
        if name is None:
            continue
        p = float(rule.get("probability", 1.0))
        out[name] += left * p
        left *= 1 - p
    return dict(out)


def rule_counters(sim: SimulatorServer, scenario: str) -> dict[str, dict[str, int]]:
    """Every rule's hit counters (top level and phases), by rule name."""
    status = next(s for s in sim.client.scenarios() if s["name"] == scenario)
    rules = [*status["rules"], *(r for p in status["phases"] for r in p["rules"])]
    return {r["name"]: r for r in rules}


PAYMENT = {"amount": 2000, "confirm": True, "payment_method": "pm_card_visa"}


@dataclass
class Attempt:
    """One authorization as the Stripe SDK saw it."""

    status: str  # succeeded | requires_action | declined
    id: str | None = None
    code: str | None = None
    decline_code: str | None = None
    intent: Any = None


def authorize(client: stripe.StripeClient, currency: str, **params: Any) -> Attempt:
    try:
        pi = client.v1.payment_intents.create(
            params={**PAYMENT, "currency": currency, **params})
    except stripe.CardError as err:
        assert err.error is not None and err.error.payment_intent is not None
        return Attempt("declined", err.error.payment_intent.id, err.code,
                       err.error.decline_code)
    return Attempt(pi.status, pi.id, intent=pi)


# -- every file ------------------------------------------------------------------------

def test_the_ready_made_scenarios_are_all_there() -> None:
    assert {f.stem for f in FILES} >= {
        "happy-path", "decline-mix-eu", "decline-mix-latam", "decline-mix-us",
        "acquirer-brownout", "outage-timeline", "flapping-provider", "network-chaos",
        "slow-3ds", "webhook-chaos", "rate-limiting"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_file_is_valid_documented_and_loads(path: Path, payment_simulator, capsys):
    assert validate.main([str(path)]) == 0, capsys.readouterr().out
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../contracts/scenario.schema.json")
    assert "# What it simulates" in text and "# What to change" in text
    doc = yaml.safe_load(text)
    assert doc["name"] == path.stem, "a file is named after its scenario"
    assert doc.get("description")
    assert payment_simulator.use_scenario(path) == path.stem
    assert [s["name"] for s in payment_simulator.client.scenarios()] == [path.stem]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_file_is_exercised_below(path: Path):
    assert path.name in EXERCISED, (
        f"{path.name} has no test that drives requests through it; add one to "
        "tests/scenarios/test_ready_made.py marked @exercises(...)")


def test_the_readme_lists_every_file():
    readme = (SCENARIOS / "README.md").read_text()
    table = readme.split("## Ready-made scenarios", 1)[1].split("\n## ", 1)[0]
    for path in FILES:
        assert f"`{path.name}`" in table, f"{path.name} is missing from the README's table"


# -- latency ---------------------------------------------------------------------------

@exercises("happy-path.yaml")
def test_happy_path_adds_latency_and_nothing_else(client, payment_simulator):
    """Every call succeeds; the journal shows each one delayed by its rule."""
    doc = shrink(document("happy-path.yaml"), 0.1)  # medians of 18 ms and 8 ms
    payment_simulator.use_scenario(doc)
    made = [authorize(client, "usd") for _ in range(25)]
    assert {a.status for a in made} == {"succeeded"}
    for a in made[:10]:
        assert client.v1.payment_intents.retrieve(a.id).status == "succeeded"

    entries = payment_simulator.journal(path="/v1/payment_intents", limit=1000)
    assert {e["status"] for e in entries} == {200}
    writes = [e for e in entries if e["method"] == "POST"]
    reads = [e for e in entries if e["method"] == "GET"]
    assert {tuple(e["scenario_rules"]) for e in writes} == {("happy-path/payment-calls",)}
    assert {tuple(e["scenario_rules"]) for e in reads} == {("happy-path/reads",)}
    # The delay was added: the median answer took at least about the median latency.
    median = seconds(doc["rules"][1]["latency"]["median"]) * 1000
    assert statistics.median(e["duration_ms"] for e in writes) >= 0.5 * median


# -- decline mixes ---------------------------------------------------------------------

#: How Stripe names a canonical reason, where the two differ.
STRIPE_DECLINE_CODE = {"issuer_unavailable": "issuer_not_available"}


def _declines(doc: dict[str, Any]) -> dict[str, float]:
    def kind(rule: dict[str, Any]) -> str | None:
        outcome = rule.get("outcome")
        if not isinstance(outcome, dict):
            return None
        if "decline" in outcome:
            return str(outcome["decline"])
        return "requires_action" if "requires_action" in outcome else None
    return shares(doc["rules"], kind)


@exercises("decline-mix-us.yaml", "decline-mix-latam.yaml")
@pytest.mark.parametrize(("name", "currency"), [("decline-mix-us.yaml", "usd"),
                                                ("decline-mix-latam.yaml", "brl")])
def test_a_decline_mix_declines_its_share_with_its_reasons(name, currency, make_stripe,
                                                           payment_simulator):
    """Over 200 authorizations the seeded mix declines about the share its
    probabilities add up to, only with the reasons it names, and only in its currencies."""
    doc = document(name)
    expected = _declines(doc)
    payment_simulator.use_scenario(SCENARIOS / name)
    client = make_stripe()
    n = 200
    made = [authorize(client, currency) for _ in range(n)]

    declined = [a for a in made if a.status == "declined"]
    lo, hi = band(n, sum(expected.values()))
    assert lo <= len(declined) <= hi, (len(declined), expected)
    allowed = {STRIPE_DECLINE_CODE.get(reason, reason) for reason in expected}
    seen = Counter(a.decline_code for a in declined)
    assert set(seen) <= allowed, seen
    top = max(expected, key=lambda r: expected[r])
    assert seen[STRIPE_DECLINE_CODE.get(top, top)] >= 1, (top, seen)
    assert {a.code for a in declined} <= {"card_declined", "expired_card", "incorrect_cvc",
                                          "processing_error"}
    assert {a.status for a in made} == {"succeeded", "declined"}

    # Payments in other currencies are not the region's: untouched.
    assert {authorize(client, "chf").status for _ in range(20)} == {"succeeded"}


@exercises("decline-mix-eu.yaml")
def test_the_eu_mix_challenges_with_3ds_and_some_challenges_fail(client, payment_simulator):
    """SCA: a share of EUR payments needs 3DS; after the challenge a few fail
    authentication, the way Stripe reports it."""
    doc = document("decline-mix-eu.yaml")
    expected = _declines(doc)
    payment_simulator.use_scenario(SCENARIOS / "decline-mix-eu.yaml")
    n = 200
    made = [authorize(client, "eur", return_url="https://shop.example/back")
            for _ in range(n)]

    challenged = [a for a in made if a.status == "requires_action"]
    declined = [a for a in made if a.status == "declined"]
    lo, hi = band(n, expected.pop("requires_action"))
    assert lo <= len(challenged) <= hi
    lo, hi = band(n, sum(expected.values()))
    assert lo <= len(declined) <= hi
    assert {a.decline_code for a in declined} <= set(expected) - {"authentication_failed"}
    for a in challenged:
        assert "/__hosted/3ds/" in a.intent.next_action.redirect_to_url.url

    # The shopper completes every challenge; the issuer still fails some of them.
    failed = []
    for a in challenged:
        payment_simulator.client.complete(a.id)
        pi = client.v1.payment_intents.retrieve(a.id)
        if pi.status != "succeeded":
            assert pi.status == "requires_payment_method"
            assert pi.last_payment_error.code == "payment_intent_authentication_failure"
            failed.append(a)
    counters = rule_counters(payment_simulator, "decline-mix-eu")
    assert len(failed) == counters["eu-sca-challenge-failed"]["applied"] >= 1
    assert len(challenged) - len(failed) == counters["eu-sca-challenge"]["applied"] >= 1


@exercises("slow-3ds.yaml")
def test_slow_3ds_challenges_a_share_and_completing_takes_time(client, payment_simulator):
    """A quarter of authorizations answer requires_action; completing each challenge
    is delayed by the `complete` rule."""
    doc = shrink(document("slow-3ds.yaml"), 0.01)  # completion p50 15 ms
    payment_simulator.use_scenario(doc)
    n = 60
    made = [authorize(client, "usd", return_url="https://shop.example/back")
            for _ in range(n)]
    challenged = [a for a in made if a.status == "requires_action"]
    lo, hi = band(n, float(doc["rules"][0]["probability"]))
    assert lo <= len(challenged) <= hi and challenged
    assert {a.status for a in made} == {"succeeded", "requires_action"}

    took = []
    for a in challenged:
        started = time.perf_counter()
        payment_simulator.client.complete(a.id)
        took.append(time.perf_counter() - started)
        assert client.v1.payment_intents.retrieve(a.id).status == "succeeded"
    counters = rule_counters(payment_simulator, "slow-3ds")
    assert counters["slow-challenge-completion"]["applied"] == len(challenged)
    p50 = seconds(doc["rules"][1]["latency"]["p50"])
    assert statistics.median(took) >= 0.5 * p50


# -- HTTP faults in phases -------------------------------------------------------------

def _status_of(client: stripe.StripeClient, key: str | None = None) -> int:
    options = {"idempotency_key": key} if key else {}
    try:
        client.v1.payment_intents.create(params={**PAYMENT, "currency": "usd"},
                                         options=options)
    except stripe.APIError as err:
        assert err.http_status is not None
        return err.http_status
    return 200


@exercises("acquirer-brownout.yaml")
def test_the_brownout_fails_a_share_only_inside_its_phase(client, payment_simulator):
    """No faults before the start or after the phase; inside it, 503 and 504 in the
    file's proportion, and each leaves nothing behind for an idempotent retry."""
    doc = shrink(document("acquirer-brownout.yaml"), 0.001)  # 10 s -> 10 ms
    doc["start"] = "manual"
    payment_simulator.use_scenario(doc)
    assert {_status_of(client) for _ in range(20)} == {200}  # not started: nothing

    brownout = next(p for p in doc["phases"] if p["name"] == "brownout")
    failing = shares(brownout["rules"], lambda r: "fault" if "fault" in r else None)["fault"]
    doc["phases"] = [dict(brownout, after="0s", **{"for": "1h"})]
    payment_simulator.use_scenario(doc)
    payment_simulator.client.start_scenario("acquirer-brownout")
    n = 150
    keys = [str(uuid.uuid4()) for _ in range(n)]
    during = [_status_of(client, key) for key in keys]
    seen = Counter(during)
    assert set(seen) == {200, 503, 504}, seen
    lo, hi = band(n, failing)
    assert lo <= seen[503] + seen[504] <= hi, seen

    doc["phases"] = [dict(brownout, after="0s", **{"for": "0.2s"})]
    payment_simulator.use_scenario(doc)
    payment_simulator.client.start_scenario("acquirer-brownout")
    wait_until(lambda: not payment_simulator.client.scenarios()[0]["phases"][0]["active"],
               5, "the brownout phase never ended")
    assert {_status_of(client) for _ in range(30)} == {200}

    # A 503 or 504 left nothing behind: the same idempotency key now makes the payment,
    # once.
    retried = [key for key, status in zip(keys, during, strict=True) if status >= 500]
    assert {_status_of(client, key) for key in retried} == {200}
    made = client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    assert len(list(made)) == 20 + n + 30


@exercises("rate-limiting.yaml")
def test_rate_limiting_refuses_its_tenants_with_retry_after(make_stripe, payment_simulator):
    """429 with Retry-After on a rhythm for one key, at random for another, never
    for the rest."""
    payment_simulator.use_scenario(SCENARIOS / "rate-limiting.yaml")
    over_quota = make_stripe("sk_test_tenant_over_quota")
    bursty = make_stripe("sk_test_tenant_bursty")
    other = make_stripe()

    refused, requests = [], 0
    for _ in range(20):
        key = str(uuid.uuid4())
        while True:  # retry, as a client should, with the same key until it goes through
            requests += 1
            try:
                over_quota.v1.payment_intents.create(
                    params={**PAYMENT, "currency": "usd"},
                    options={"idempotency_key": key})
                break
            except stripe.RateLimitError as err:
                assert err.http_status == 429
                assert err.error is not None and err.error.code == "rate_limit"
                assert err.headers is not None and err.headers["Retry-After"] == "2"
                refused.append(requests)
    # Every 5th request of the key is refused, retries included; each payment is made
    # once.
    assert refused == [5, 10, 15, 20]
    made = payment_simulator.client.call("GET", "/payments", query={
        "namespace": "sk_test_tenant_over_quota", "limit": 100})["payments"]
    assert len(made) == 20  # (listing them through Stripe would be the 25th request)

    n, limited = 80, 0
    for _ in range(n):
        try:
            bursty.v1.payment_intents.create(params={**PAYMENT, "currency": "usd"})
        except stripe.RateLimitError as err:
            assert err.headers is not None and err.headers["Retry-After"] == "1"
            limited += 1
    lo, hi = band(n, 0.25)
    assert lo <= limited <= hi and limited

    assert {_status_of(other) for _ in range(20)} == {200}


# -- timelines -------------------------------------------------------------------------

@dataclass
class Timeline:
    """When a (shrunk) scenario's phases are active, in seconds from its start."""

    phases: list[tuple[str, float, float, float | None]]  # name, after, for, repeat

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Timeline:
        return cls([(p["name"], seconds(p["after"]), seconds(p["for"]),
                     seconds(p["repeat"]) if "repeat" in p else None) for p in doc["phases"]])

    def occurrences(self, until: float) -> Iterator[tuple[str, int, float, float]]:
        for name, after, length, repeat in self.phases:
            k, start = 0, after
            while start < until:
                yield name, k, start, start + length
                if repeat is None:
                    break
                k, start = k + 1, start + repeat

    def during(self, lo: float, hi: float) -> set[tuple[str, int] | None]:
        """The phase occurrences that may have been active at some instant of [lo, hi],
        and None if some instant of it was in no phase at all."""
        found: set[tuple[str, int] | None] = set()
        covered = []
        for name, k, start, end in self.occurrences(hi + 1):
            if start <= hi and end > lo:
                found.add((name, k))
                covered.append((max(start, lo), min(end, hi)))
        reach = lo
        for start, end in sorted(covered):
            if start > reach:
                break
            reach = max(reach, end)
        if reach < hi:
            found.add(None)
        return found


@dataclass
class Observed:
    sent: float  # seconds from the scenario's start, at the earliest
    received: float  # ... at the latest
    kind: str  # ok | 503 | reset


def drive(client: stripe.StripeClient, sim: SimulatorServer, name: str, until: float
          ) -> list[Observed]:
    """Start scenario `name` and pay until `until` seconds later, noting for each answer
    the window in which the server decided it (the server's start lies between t0 and
    t1, both of which the test measures around the start call)."""
    t0 = time.monotonic()
    sim.client.start_scenario(name)
    t1 = time.monotonic()
    seen = []
    while time.monotonic() - t1 < until:
        sent = time.monotonic()
        try:
            client.v1.payment_intents.create(params={**PAYMENT, "currency": "usd"})
            kind = "ok"
        except stripe.APIConnectionError:
            kind = "reset"
        except stripe.APIError as err:
            kind = str(err.http_status)
        seen.append(Observed(sent - t1, time.monotonic() - t0, kind))
        time.sleep(0.003)
    return seen


def check_timeline(seen: list[Observed], timeline: Timeline,
                   allowed: dict[str | None, set[str]]) -> dict[str | None, Counter[str]]:
    """Every answer is one that a phase possibly active at that moment allows; returns
    what was seen while certainly in one phase (or in none)."""
    certain: dict[str | None, Counter[str]] = {}
    for o in seen:
        during = timeline.during(o.sent, o.received)
        names = {d[0] if d else None for d in during}
        assert any(o.kind in allowed[n] for n in names), (o, names)
        if len(names) == 1:
            certain.setdefault(names.pop(), Counter())[o.kind] += 1
    return certain


@exercises("outage-timeline.yaml")
def test_the_outage_timeline_goes_healthy_degraded_down_and_back(client, payment_simulator):
    """The whole timeline, shrunk to 2.4 s: every answer fits a phase that may have
    been active when it was decided, and each phase shows its own behaviour."""
    doc = shrink(document("outage-timeline.yaml"), 0.005)  # 2 min -> 0.6 s
    assert doc["start"] == "manual"
    for phase in doc["phases"]:  # a few dozen requests per phase must meet the 503s
        for rule in phase["rules"]:
            if rule.get("fault") == {"http": 503} and rule.get("probability", 1) < 0.3:
                rule["probability"] = 0.3
    payment_simulator.use_scenario(doc)
    assert {_status_of(client) for _ in range(10)} == {200}  # waits for its start
    timeline = Timeline.of(doc)
    end = max(after + length for _, after, length, _ in timeline.phases)
    seen = drive(client, payment_simulator, "outage-timeline", end + 0.4)

    certain = check_timeline(seen, timeline, {
        "healthy": {"ok"}, "degraded": {"ok", "503"}, "outage": {"503", "reset"},
        "recovery": {"ok", "503"}, None: {"ok"}})
    assert set(certain) == {"healthy", "degraded", "outage", "recovery", None}, certain
    assert set(certain["healthy"]) == set(certain[None]) == {"ok"}
    assert set(certain["degraded"]) == set(certain["recovery"]) == {"ok", "503"}, certain
    assert set(certain["outage"]) == {"503", "reset"}, certain["outage"]


@exercises("flapping-provider.yaml")
def test_the_flapping_provider_goes_down_again_and_again(client, payment_simulator):
    """Shrunk to 0.2 s down every 0.6 s: failures only in down windows, in more than
    one of them, and service in between."""
    doc = shrink(document("flapping-provider.yaml"), 0.01)  # 20 s down every 60 s -> 0.2/0.6
    doc["start"] = "manual"
    payment_simulator.use_scenario(doc)
    timeline = Timeline.of(doc)
    seen = drive(client, payment_simulator, "flapping-provider", 2.0)

    certain = check_timeline(seen, timeline, {"down": {"503", "reset"}, None: {"ok"}})
    assert set(certain) == {"down", None}
    assert set(certain["down"]) == {"503", "reset"}
    failed_in = {d for o in seen if o.kind != "ok"
                 for d in timeline.during(o.sent, o.received) if d}
    assert len(failed_in) >= 2, f"it went down only once: {failed_in}"
    first_end = next(end for _, k, _, end in timeline.occurrences(1) if k == 0)
    assert any(o.kind == "ok" and o.sent > first_end for o in seen), "it never came back"


# -- transport faults ------------------------------------------------------------------

FORM = {"amount": "2000", "currency": "usd", "confirm": "true", "payment_method": "pm_card_visa"}


async def _raw_payments(url: str, key: str, n: int, timeout: float) -> list[tuple[str, Any]]:
    """`n` payments over fresh connections, each with its own Idempotency-Key; each
    answer as (kind, the parsed body or the key)."""
    out: list[tuple[str, Any]] = []
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=timeout)) as s:
        for _ in range(n):
            idem = str(uuid.uuid4())
            try:
                async with s.post(url, data=FORM, headers={"Authorization": f"Bearer {key}",
                                                           "Idempotency-Key": idem}) as resp:
                    body = await resp.read()
            except TimeoutError:
                out.append(("timeout", idem))
                continue
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                out.append(("disconnected", idem))
                continue
            try:
                out.append(("ok", json.loads(body)))
            except json.JSONDecodeError:
                assert resp.status == 200
                out.append(("cut", idem))
    return out


async def _replay(url: str, key: str, idem: str) -> tuple[dict[str, Any], str | None]:
    """The same request again, with the same Idempotency-Key, as a client retries."""
    async with aiohttp.ClientSession() as s, s.post(
            url, data=FORM, headers={"Authorization": f"Bearer {key}",
                                     "Idempotency-Key": idem}) as resp:
        return await resp.json(), resp.headers.get("Idempotent-Replayed")


@exercises("network-chaos.yaml")
def test_network_chaos_breaks_connections_in_every_way(make_stripe, stripe_key,
                                                       payment_simulator):
    """Each transport fault reaches the client as the failure it names (counted
    against the rules' hit counters); of the broken answers, only a cut one left a
    payment behind."""
    doc = shrink(document("network-chaos.yaml"), 0.005)  # an 8 s trickle -> 40 ms
    for rule in doc["rules"]:  # often enough to meet each fault in a short run
        rule["probability"] = 0.03 if rule["fault"] == "hang" else 0.08
    payment_simulator.use_scenario(doc)
    n = 120
    url = payment_simulator.url("stripe") + "/v1/payment_intents"
    # a hang is told from a slow answer by a timeout no answer on a busy machine takes
    answers = asyncio.run(_raw_payments(url, stripe_key, n, timeout=2.0))
    kinds = Counter(kind for kind, _ in answers)
    counters = rule_counters(payment_simulator, "network-chaos")
    applied = {name: c["applied"] for name, c in counters.items()}
    assert all(applied.values()), applied
    assert kinds["disconnected"] == applied["reset"] + applied["empty"]
    assert kinds["timeout"] == applied["hang"]
    assert kinds["cut"] == applied["malformed"]
    assert kinds["ok"] == n - sum(kinds[k] for k in ("disconnected", "timeout", "cut"))
    slow = payment_simulator.journal(path="/v1/payment_intents", limit=1000)
    assert sum(e.get("fault") == "slow_body" for e in slow) == applied["slow-body"]
    assert all(body["status"] == "succeeded" for kind, body in answers if kind == "ok")

    # Reset, empty and hang happened before Stripe did anything; a cut answer after.
    payment_simulator.client.clear_scenarios()
    client = make_stripe(stripe_key)
    made = list(client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter())
    assert len(made) == kinds["ok"] + kinds["cut"]
    # The same Idempotency-Key brings back the answer that was cut short.
    for kind, idem in answers:
        if kind == "cut":
            body, replayed = asyncio.run(_replay(url, stripe_key, idem))
            assert body["status"] == "succeeded" and replayed == "true"
    assert len(list(client.v1.payment_intents.list(params={"limit": 100})
                    .auto_paging_iter())) == len(made)


# -- webhooks --------------------------------------------------------------------------

def _verdict(body: bytes, header: str, secret: str) -> str:
    try:
        stripe.Webhook.construct_event(body.decode(), header, secret)  # tolerance 300 s
        return "good"
    except stripe.SignatureVerificationError:
        pass
    try:
        stripe.Webhook.construct_event(body.decode(), header, secret, tolerance=3600)
        return "stale"
    except stripe.SignatureVerificationError:
        return "bad"


@exercises("webhook-chaos.yaml")
def test_webhook_chaos_reaches_the_receiver_late_twice_shuffled_or_not_at_all(
        client, payment_simulator, hook_server: WebhookReceiver):
    """The receiver gets nothing until Stripe's first retry, then events shuffled,
    some twice, some never, some with a bad or stale signature."""
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": hook_server.url, "enabled_events": ["payment_intent.succeeded"]})
    doc = shrink(document("webhook-chaos.yaml"), 0.01)  # a median delay of 20 ms
    hooks = doc["webhooks"]
    assert hooks["fail_first"] == 1 and hooks["reorder"] is True
    hooks.update(duplicate=0.3, drop=0.1, bad_signature=0.2, stale_timestamp=0.2)
    payment_simulator.use_scenario(doc)
    paid = [authorize(client, "usd").id for _ in range(30)]

    # The first attempt of every delivery fails without being sent.
    def first_attempts_done() -> list[dict[str, Any]] | None:
        found = payment_simulator.client.deliveries(provider="stripe", limit=1000)
        return found if found and all(d["attempts"] for d in found) else None
    deliveries = wait_until(first_attempts_done, 10, "the first attempts never happened")
    assert hook_server.received == []
    assert all("fail_first" in d["attempts"][0]["error"] for d in deliveries)
    assert len(paid) * 0.6 < len(deliveries) < len(paid) * 1.6

    # Stripe's first retry is 5 minutes later on the simulator's clock.
    payment_simulator.advance_clock("6m")
    assert hook_server.wait_for(lambda got: len(got) == len(deliveries)), \
        (len(hook_server.received), len(deliveries))
    received = hook_server.received
    events = [r.json() for r in received]
    per_event = Counter(e["id"] for e in events)
    assert 2 in per_event.values(), "no event was delivered twice"
    arrived = list(dict.fromkeys(e["data"]["object"]["id"] for e in events))
    dropped = set(paid) - set(arrived)
    assert dropped, "no event was dropped"
    assert arrived != [p for p in paid if p in arrived], "the deliveries kept their order"
    verdicts = Counter(_verdict(r.body, r.headers["Stripe-Signature"], endpoint.secret)
                       for r in received)
    assert set(verdicts) == {"good", "stale", "bad"}, verdicts

    # A dropped event is still in Stripe's event list: reconciliation finds it.
    listed = client.v1.events.list(params={"type": "payment_intent.succeeded", "limit": 100})
    assert dropped <= {e.data.object["id"] for e in listed.data}


# -- local payment methods -------------------------------------------------------------
#
# Payments at the four asynchronous providers, each made with the provider's own client,
# then the virtual clock is walked past each payment's due time in order (a single big
# jump could run an expiry before a settlement that was due earlier): just before it
# the payment is still pending, just after it has its final native status.

PAYER_BR = {"email": "buyer@testuser.com", "first_name": "Ana", "last_name": "Silva",
            "identification": {"type": "CPF", "number": "19119119100"}}
#: Native failure codes of the canonical reasons the file uses.
MPESA_RESULT = {"insufficient_funds": "1", "generic_decline": "1032",
                "authentication_failed": "2001"}
UPI_REASON = {"insufficient_funds": "insufficient_funds",
              "authentication_failed": "authentication_failed"}
#: Lifetimes of the methods the tests pay with, in virtual seconds.
LIFETIME = {"mpesa": 60, "upi": 300, "ideal": 900, "bancontact": 3600, "pix": 86400,
            "bolbradesco": 3 * 86400, "oxxo": 3 * 86400}
RAZORPAY_SECRET = "local-method-shoppers-secret"


class Shop:
    """One provider, called the way its integrations call it. `state` is the payment's
    native status as a tuple; `final(kind, rule)` the one a rule's outcome ends in."""

    provider: str
    pending: tuple[Any, ...]

    def pay(self, method: str) -> str:
        raise NotImplementedError

    def state(self, pid: str) -> tuple[Any, ...]:
        raise NotImplementedError

    def final(self, kind: str, decline: dict[str, Any] | None) -> tuple[Any, ...]:
        raise NotImplementedError


class MpesaShop(Shop):
    provider, pending = "daraja", ("processing",)

    def __init__(self, sim: SimulatorServer, callback: str) -> None:
        self.api, self.callback = Daraja(sim.url("daraja")), callback

    def pay(self, method: str) -> str:
        # Safaricom's sandbox test number: without a rule it would pay after 3 s.
        r = self.api.push(phone="254708374149", callback=self.callback)
        assert r.status_code == 200, r.text
        return str(r.json()["CheckoutRequestID"])

    def state(self, pid: str) -> tuple[Any, ...]:
        r = self.api.query(pid)
        if r.status_code == 404:  # tokens live 3599 virtual seconds
            self.api.token = self.api.get_token()
            r = self.api.query(pid)
        if r.status_code == 500:
            assert r.json()["errorCode"] == "500.001.1001", r.text
            return self.pending
        assert r.status_code == 200, r.text
        return (r.json()["ResultCode"],)

    def final(self, kind: str, decline: dict[str, Any] | None) -> tuple[Any, ...]:
        if kind == "declined":
            assert decline is not None
            return (decline.get("native_code") or MPESA_RESULT[decline["decline"]],)
        return ({"paid": "0", "expired": "1037"}[kind],)


class UpiShop(Shop):
    provider, pending = "razorpay", ("created", None)

    def __init__(self, sim: SimulatorServer) -> None:
        self.api = razorpay.Client(auth=(new_key_id(), "secret"), base_url=sim.url("razorpay"))

    def pay(self, method: str) -> str:
        # Razorpay's success test VPA: without a rule it would pay after 3 s.
        return upi_collect(self.api, razorpay_order(self.api), vpa="success@razorpay")

    def state(self, pid: str) -> tuple[Any, ...]:
        p = self.api.payment.fetch(pid)
        return (p["status"], p["error_reason"])

    def final(self, kind: str, decline: dict[str, Any] | None) -> tuple[Any, ...]:
        if kind == "declined":
            assert decline is not None
            return ("failed", decline.get("native_code") or UPI_REASON[decline["decline"]])
        return {"paid": ("captured", None), "expired": ("failed", "payment_timed_out")}[kind]


class MollieShop(Shop):
    provider, pending = "mollie", ("pending",)

    def __init__(self, sim: SimulatorServer, webhook: str) -> None:
        self.api, self.webhook = mollie_client(sim), webhook

    def pay(self, method: str) -> str:
        return str(mollie_create(self.api, method=method, webhookUrl=self.webhook).id)

    def state(self, pid: str) -> tuple[Any, ...]:
        return (self.api.payments.get(pid).status,)

    def final(self, kind: str, decline: dict[str, Any] | None) -> tuple[Any, ...]:
        return ({"paid": "paid", "declined": "failed", "expired": "expired"}[kind],)


class MercadoPagoShop(Shop):
    provider, pending = "mercadopago", ("pending",)

    def __init__(self, sim: SimulatorServer, notification_url: str) -> None:
        self.api, self.url = mercadopago_sdk(sim.url("mercadopago")), notification_url

    def pay(self, method: str) -> str:
        currency_amount = 120.0 if method == "oxxo" else 25.0
        result = self.api.payment().create({
            "transaction_amount": currency_amount, "payment_method_id": method,
            "payer": PAYER_BR, "notification_url": self.url})
        assert result["status"] == 201, result
        return str(result["response"]["id"])

    def state(self, pid: str) -> tuple[Any, ...]:
        p = self.api.payment().get(pid)["response"]
        return (p["status"],) if p["status"] == "pending" else (p["status"], p["status_detail"])

    def final(self, kind: str, decline: dict[str, Any] | None) -> tuple[Any, ...]:
        return {"paid": ("approved", "accredited"), "declined": ("rejected", "rejected_by_bank"),
                "expired": ("cancelled", "expired")}[kind]


#: Method family (a rule name's first word) -> the shop and the method paid with.
FAMILIES = {"mpesa": ("daraja", "mpesa"), "upi": ("razorpay", "upi"),
            "bank": ("mollie", "ideal"), "pix": ("mercadopago", "pix"),
            "voucher": ("mercadopago", "bolbradesco")}


@dataclass
class Tracked:
    shop: Shop
    pid: str
    method: str
    rule: str | None
    due: float  # virtual time by which it has its final status
    final: tuple[Any, ...]


def _now(sim: SimulatorServer) -> float:
    return float(sim.admin("GET", "/clock")["now"])


def _expect(rule: dict[str, Any] | None, method: str) -> tuple[float, str, Any]:
    """(seconds after creation, final kind, the decline) a rule (or no rule) leads to."""
    if rule is None:
        return LIFETIME[method], "expired", None
    pending = rule["outcome"]["pending"]
    after = seconds(pending["after"])
    if "then" not in pending:
        assert after > LIFETIME[method], f"{rule['name']} would settle before expiring"
        return LIFETIME[method], "expired", None
    assert after < LIFETIME[method], f"{rule['name']} settles after {method} expires"
    then = pending["then"]
    return (after, "paid", None) if then == "approve" else (after, "declined", then)


def _track(shop: Shop, sim: SimulatorServer, method: str, rule: dict[str, Any] | None
           ) -> Tracked:
    started = _now(sim)
    pid = shop.pay(method)
    after, kind, decline = _expect(rule, method)
    return Tracked(shop, pid, method, rule["name"] if rule else None, started + after,
                   shop.final(kind, decline))


def _walk(sim: SimulatorServer, tracked: list[Tracked]) -> None:
    """Move the clock past each group of due times in order: 2 s before a group its
    payments are pending, 2 s after it they have their final status."""
    ordered = sorted(tracked, key=lambda t: t.due)
    groups: list[list[Tracked]] = []
    for t in ordered:
        if groups and t.due - groups[-1][-1].due < 4:
            groups[-1].append(t)
        else:
            groups.append([t])
    for group in groups:
        lo, hi = group[0].due, group[-1].due
        if (gap := lo - 2 - _now(sim)) > 0:
            sim.advance_clock(gap)
        for t in group:
            # (On a slow machine the clock may have reached a payment meanwhile.)
            assert t.shop.state(t.pid) == t.shop.pending or _now(sim) > t.due - 1, \
                (t.rule, t.method, "settled early")
        if (gap := hi + 2 - _now(sim)) > 0:
            sim.advance_clock(gap)

        def settled(g: list[Tracked] = group) -> bool:
            return all(t.shop.state(t.pid) == t.final for t in g)
        try:
            wait_until(settled, 10, "")
        except TimeoutError:
            late = [(t.rule, t.method, t.shop.state(t.pid), t.final) for t in group]
            raise AssertionError(f"not settled at their time: {late}") from None


def _shops(sim: SimulatorServer, rx: WebhookReceiver) -> dict[str, Shop]:
    sim.admin("PUT", "/webhooks/razorpay", {"url": rx.url + "/razorpay",
                                            "secret": RAZORPAY_SECRET})
    return {"daraja": MpesaShop(sim, rx.url + "/daraja"), "razorpay": UpiShop(sim),
            "mollie": MollieShop(sim, rx.url + "/mollie"),
            "mercadopago": MercadoPagoShop(sim, rx.url + "/mercadopago")}


def _notified(rx: WebhookReceiver, shop: Shop, pid: str) -> list[Any]:
    """What the provider told the receiver about one payment, verified as its
    integrations verify it: the final status it reported."""
    out: list[Any] = []
    for r in rx.received:
        if urlsplit(r.path).path.rsplit("/", 1)[-1] != shop.provider:
            continue
        if shop.provider == "daraja":
            cb = r.json()["Body"]["stkCallback"]
            if cb["CheckoutRequestID"] == pid:
                out.append((str(cb["ResultCode"]),))
        elif shop.provider == "razorpay":
            body = r.json()
            entity = body["payload"].get("payment", {}).get("entity", {})
            if entity.get("id") == pid and body["event"].startswith("payment."):
                assert isinstance(shop, UpiShop)
                assert shop.api.utility.verify_webhook_signature(
                    r.body.decode(), r.headers["X-Razorpay-Signature"], RAZORPAY_SECRET)
                out.append((body["event"], entity["status"], entity["error_reason"]))
        elif shop.provider == "mollie":
            if webhook_id(r) == pid:
                out.append(shop.state(pid))
        elif parse_qs(urlsplit(r.path).query)["data.id"] == [pid]:
            assert mercadopago_verify(r.headers, r.path, default_secret("mercadopago")) == pid
            out.append(r.json()["action"])
    return out


def _check_notified(rx: WebhookReceiver, t: Tracked) -> None:
    """The final status reached the receiver: the STK callback's ResultCode, Razorpay's
    payment.captured / payment.failed, Mollie's ping (the payment then fetched), Mercado
    Pago's payment.created then payment.updated."""
    expected: Any = {
        "daraja": [t.final],
        "razorpay": [("payment.failed", *t.final)] if t.final[0] == "failed" else None,
        "mollie": [t.final],
        "mercadopago": ["payment.created", "payment.updated"],
    }[t.shop.provider]
    got = _notified(rx, t.shop, t.pid)
    if expected is None:  # a capture: authorized and captured (in either order)
        assert sorted(e[:2] for e in got) == [("payment.authorized", "authorized"),
                                             ("payment.captured", "captured")], got
    else:
        assert got == expected, (t.rule, t.method, got)


#: The Mercado Pago SDK warns that notification_url is deprecated (dashboard webhooks
#: are the alternative); the per-payment URL is what these tests use.
_NOTIFICATION_URL = pytest.mark.filterwarnings("ignore:notification_url is deprecated")


@exercises("local-method-shoppers.yaml")
@_NOTIFICATION_URL
def test_each_local_method_rule_settles_its_payment_when_it_says(
        payment_simulator, hook_server: WebhookReceiver):
    """Every rule of the file, alone with probability 1 (and Mercado Pago with no rule):
    the payment is pending until the rule's `after`, then paid or failed with the
    provider's own code, or, for shoppers who never finish, expired at the method's
    lifetime; the provider's webhook or callback tells the receiver."""
    sim = payment_simulator
    doc = document("local-method-shoppers.yaml")
    shops = _shops(sim, hook_server)
    tracked = []
    for rule in doc["rules"]:
        provider, method = FAMILIES[rule["name"].split("-")[0]]
        alone = {k: v for k, v in rule.items() if k != "probability"}
        sim.use_scenario({**doc, "rules": [alone]})
        methods = [method, "bancontact"] if rule["name"] == "bank-never-returns" else \
            [method, "oxxo"] if rule["name"] == "voucher-pays-1d" else [method]
        tracked += [_track(shops[provider], sim, m, rule) for m in methods]
    # The rest: no rule takes them, and Mercado Pago leaves them pending until expiry.
    sim.use_scenario({**doc, "rules": [r for r in doc["rules"]
                                       if not r["name"].startswith(("pix", "voucher"))]})
    tracked += [_track(shops["mercadopago"], sim, m, None) for m in ("pix", "bolbradesco")]
    assert {t.final for t in tracked if t.shop.provider == "daraja"} == {
        ("0",), ("1",), ("1032",), ("2001",), ("1037",)}

    _walk(sim, tracked)

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: all(_was_notified(hook_server, t) for t in tracked), 10, "")
    for t in tracked:
        _check_notified(hook_server, t)


def _was_notified(rx: WebhookReceiver, t: Tracked) -> bool:
    try:
        _check_notified(rx, t)
    except AssertionError:
        return False
    return True


def _rules_by_payment(sim: SimulatorServer, provider: str) -> dict[str, str | None]:
    """The rule that decided each payment a provider created (None: no rule), from the
    journal entries of the creations."""
    out: dict[str, str | None] = {}
    for e in sim.journal(provider=provider, limit=5000):
        body = e.get("response")
        if e["method"] != "POST" or not isinstance(body, dict):
            continue
        for key in ("id", "CheckoutRequestID", "razorpay_payment_id"):
            if key in body and e["status"] in (200, 201):
                rules = [r.split("/", 1)[1] for r in e.get("scenario_rules", [])]
                out[str(body[key])] = rules[0] if rules else None
    return out


#: The methods each family pays with in the mix, in turn.
MIX_METHODS = {"mpesa": ["mpesa"], "upi": ["upi"], "bank": ["ideal", "bancontact"],
               "pix": ["pix"], "voucher": ["bolbradesco", "oxxo"]}


@exercises("local-method-shoppers.yaml")
@_NOTIFICATION_URL
def test_local_method_shoppers_pay_fail_and_walk_away_in_the_files_shares(
        payment_simulator, hook_server: WebhookReceiver):
    """The seeded file over 40 payments per family, made in turns as mixed traffic is:
    each payment does what the rule that took it says, on time; per family, the paid,
    failed and expired counts are the rules' hit counters and near the shares the
    file's comment promises."""
    sim = payment_simulator
    doc = document("local-method-shoppers.yaml")
    sim.use_scenario(SCENARIOS / "local-method-shoppers.yaml")
    shops = _shops(sim, hook_server)
    rules = {r["name"]: r for r in doc["rules"]}
    n, made = 40, []
    for i in range(n):
        for family, methods in MIX_METHODS.items():
            shop, method = shops[FAMILIES[family][0]], methods[i % len(methods)]
            started = _now(sim)
            pid = shop.pay(method)
            made.append((family, shop, method, pid, started))
    decided = {pid: rule for provider in shops
               for pid, rule in _rules_by_payment(sim, provider).items()}
    tracked, family_of = [], {}
    for family, shop, method, pid, started in made:
        name = decided[pid]
        assert name is None or name.startswith(family + "-"), (family, name)
        after, kind, decline = _expect(rules.get(name or ""), method)
        tracked.append(Tracked(shop, pid, method, name, started + after,
                               shop.final(kind, decline)))
        family_of[pid] = family

    _walk(sim, tracked)

    counters = {k: v["applied"] for k, v in rule_counters(sim, "local-method-shoppers").items()}
    for family in MIX_METHODS:
        mine = [r for r in doc["rules"] if r["name"].startswith(family + "-")]
        seen = Counter(_kind(rules.get(t.rule or "")) for t in tracked
                       if family_of[t.pid] == family)
        assert sum(seen.values()) == n
        for kind, share in shares(mine, _kind).items():
            hits = sum(counters[r["name"]] for r in mine if _kind(r) == kind)
            assert seen[kind] == hits or kind == "expired", (family, kind, seen, hits)
            lo, hi = band(n, share)
            assert lo <= seen[kind] <= hi, (family, kind, seen[kind], share)
        assert seen["paid"] > n / 2, (family, seen)  # most shoppers pay
    assert {t.final for t in tracked if t.shop.provider == "daraja"} >= {("0",), ("1037",)}


def _kind(rule: dict[str, Any] | None) -> str:
    """paid | declined | expired: how a rule (or no rule) ends a payment."""
    if rule is None:
        return "expired"
    then = rule["outcome"]["pending"].get("then")
    return "expired" if then is None else "paid" if then == "approve" else "declined"


@exercises("local-method-shoppers.yaml")
@_NOTIFICATION_URL
def test_local_method_shoppers_leaves_card_payments_alone(
        payment_simulator, client: stripe.StripeClient):
    """Cards, at the card providers and at the local-method ones, get no rule: Stripe
    approves, Mollie's card checkout stays `open`, Mercado Pago's APRO card is approved."""
    sim = payment_simulator
    sim.use_scenario(SCENARIOS / "local-method-shoppers.yaml")
    assert {authorize(client, "eur").status for _ in range(5)} == {"succeeded"}
    mollie = mollie_client(sim)
    assert mollie_create(mollie, method="creditcard").status == "open"
    mp = mercadopago_sdk(sim.url("mercadopago"))
    token = mp.card_token().create({
        "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123", "cardholder": {"name": "APRO"}})["response"]["id"]
    paid = mp.payment().create({"transaction_amount": 100, "token": token, "installments": 1,
                                "payment_method_id": "master", "payer": PAYER_BR})
    assert (paid["response"]["status"], paid["response"]["status_detail"]) == \
        ("approved", "accredited")
    counters = rule_counters(sim, "local-method-shoppers")
    assert {c["applied"] for c in counters.values()} == {0}


# -- disputes --------------------------------------------------------------------------

@exercises("disputes.yaml")
def test_disputes_open_weeks_later_at_their_rate_and_end_as_the_file_says(
        client, payment_simulator):
    """The file's rules with their dispute rates raised 50 times (its reasons, timings and
    endings as written): disputes open on the virtual clock `after` the capture, an
    answered one ends as its rule says once decided, and `expired` ones are lost with
    no answer possible."""
    doc = document("disputes.yaml")
    for rule in doc["rules"]:
        rule["dispute"]["probability"] *= 50
    payment_simulator.use_scenario(doc)
    n = 120
    paid = {authorize(client, "usd").id for _ in range(n)}
    rules = {r["name"]: r["dispute"] for r in doc["rules"]}
    counters = rule_counters(payment_simulator, "disputes")
    planned = {name: counters[name]["applied"] for name in rules}
    lo, hi = band(n, sum(shares(
        [{"probability": d["probability"]} for d in rules.values()], lambda _: "d").values()))
    assert lo <= sum(planned.values()) <= hi, planned

    def listed() -> list[stripe.Dispute]:
        return list(client.v1.disputes.list(params={"limit": 100}).data)

    elapsed = 0.0
    for after in sorted({seconds(d["after"]) for d in rules.values()}):
        payment_simulator.advance_clock(after - elapsed)
        elapsed = after
        due = sum(planned[name] for name, d in rules.items() if seconds(d["after"]) <= after)
        assert wait_until(lambda due=due: len(listed()) == due, 10, "disputes to open")
        for d in listed():  # the merchant answers whatever it still can
            if d.status in ("needs_response", "warning_needs_response") and \
                    d.evidence_details.due_by > d.created:
                client.v1.disputes.update(d.id, params={
                    "evidence": {"product_description": "Delivered as ordered"}})
    payment_simulator.advance_clock("1d")  # every answered dispute is decided
    closed = {"won", "lost", "warning_closed"}
    assert wait_until(lambda: {d.status for d in listed()} <= closed, 10, "decisions")

    found = listed()
    assert {d.payment_intent for d in found} <= paid
    ended = Counter((d.reason, "expired" if d.evidence_details.submission_count == 0
                     else "won" if d.status in ("won", "warning_closed") else "lost")
                    for d in found)
    wanted = Counter[tuple[str, str]]()
    for name, d in rules.items():
        wanted[(d["reason"], d["ends"])] += planned[name]
    assert ended == +wanted
    inquiries = [d for d in found if d.reason == "unrecognized"]
    assert all(d.balance_transactions == [] for d in inquiries)
    won = [d for d in found if d.status == "won"]
    assert all(len(d.balance_transactions) == 2 for d in won)


# -- renewals --------------------------------------------------------------------------

def _saved_card(client: stripe.StripeClient) -> tuple[str, str]:
    """A customer's first payment, present, that saves the card: (customer, method)."""
    customer = client.v1.customers.create(params={"email": "renew@example.com"})
    pi = client.v1.payment_intents.create(params={
        **PAYMENT, "currency": "usd", "customer": customer.id,
        "setup_future_usage": "off_session"})
    assert pi.status == "succeeded"
    return customer.id, str(pi.payment_method)


def _renew(client: stripe.StripeClient, customer: str, method: str) -> Attempt:
    return authorize(client, "usd", customer=customer, payment_method=method,
                     off_session=True)


@exercises("renewals.yaml")
def test_renewals_decline_merchant_initiated_payments_only_and_fail_stripe_on_renewal_day(
        client, payment_simulator):
    """Its rates raised 4 times: customers' own payments that save cards go through, the
    renewals (off-session, merchant-initiated) are declined expired, authentication
    required or revoked at the file's shares; in the renewal-day phase Stripe's renewals
    fail with 503 or issuer_not_available."""
    customer, method = _saved_card(client)
    doc = document("renewals.yaml")
    phases = doc.pop("phases")
    for rule in doc["rules"]:
        rule["probability"] *= 4
    payment_simulator.use_scenario(doc)
    assert {_saved_card(client)[0] != customer for _ in range(20)} == {True}
    n = 200
    made = [_renew(client, customer, method) for _ in range(n)]
    expected = _declines(doc)
    seen = Counter(a.decline_code for a in made if a.status == "declined")
    for reason, share in expected.items():
        lo, hi = band(n, share)
        assert lo <= seen[reason] <= hi, (reason, seen)
    assert sum(seen.values()) + Counter(a.status for a in made)["succeeded"] == n

    payment_simulator.use_scenario({"name": "renewals", "phases": [
        dict(phases[0], after="0s") | {"for": "10m"}]})
    outage = Counter[str]()
    for _ in range(100):
        try:
            outage[_renew(client, customer, method).decline_code or "approved"] += 1
        except stripe.APIError as err:
            outage[f"http {err.http_status}"] += 1
    phase = phases[0]["rules"]
    for key, share in (("http 503", phase[0]["probability"]), ("issuer_not_available",
                       (1 - phase[0]["probability"]) * phase[1]["probability"])):
        lo, hi = band(100, share)
        assert lo <= outage[key] <= hi, outage
    assert authorize(client, "usd").status == "succeeded"  # a customer's own payment


# -- reconciliation drift -----------------------------------------------------------------

@exercises("reconciliation-drift.yaml")
def test_reconciliation_drift_changes_the_reports_and_the_ledger_says_which(
        client, stripe_key, payment_simulator):
    """Its shares raised until every line and payout is hit by one kind: the admin
    ledger keeps the truth and lists each injected discrepancy by id; the truth's
    balance is the pricing's."""
    doc = document("reconciliation-drift.yaml")
    assert set(doc["settlement"]) == {"missing_line", "duplicated_line", "fee_mismatch",
                                      "fx_rounding", "late_payout", "failed_payout",
                                      "partial_payout"}
    doc["settlement"] = {"fee_mismatch": {"share": 1, "by": 7}, "failed_payout": 1,
                         "missing_line": 1}
    payment_simulator.use_scenario(doc)
    made = [authorize(client, "usd").status for _ in range(3)]
    assert made == ["succeeded"] * 3
    payment_simulator.advance_clock("3d")
    (account,) = payment_simulator.admin("GET", f"/ledger?namespace={stripe_key}")[
        "accounts"]
    kinds = sorted(i["kind"] for i in account["injected"])
    assert kinds == ["failed_payout"] + ["fee_mismatch"] * 3 + ["missing_line"] * 3
    (payout,) = account["payouts"]  # the truth: paid, priced as the pricing says
    assert payout["status"] in ("in_transit", "paid")
    fee = 58 + 30  # 2.9% of 2,000 and 30 cents: pricing.yaml's stripe
    assert payout["amount"] == 3 * (2000 - fee) and account["available"] == {"usd": 0}
