"""Matching cost: what a big scenario costs each request, in process and end to end.

A scenario of 200 rules whose only matching rule is the last one (199 rules for Stripe
authorizations whose amount, currency, card, metadata, header, path or composed
matchers fail) against a scenario of that one rule alone:

(a) in process: `ScenarioSet.decide(facts)` per call, with the facts the Stripe route
    gives a create+confirm, for 1 and 200 rules (and, to see which matcher costs what,
    200 rules of one kind each);
(b) end to end: wrk (tests/bench/wrk/post_form.lua, create+confirm, as loadbench.py)
    against the simulator with the 1-rule and the 200-rule scenario loaded, in the same
    run, alternating, the store reset before each run.

    python tests/bench/matching_cost.py [--duration 10] [--rounds 3] [--json out.json]

The target: with 200 rules the simulator serves at least 0.8 of the requests/s it
serves with 1 rule. Exit status: 0 when the benchmark ran (PASS or FAIL is printed);
1 with --strict when the target is missed; 2 when the benchmark itself is broken (the
server did not start, a run saw errors, a rule matched what it should not). Every
process it starts is stopped before it exits; only 127.0.0.1 is used; every step has a
time limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from paysandbox.testing.client import AdminClient, AdminError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadbench  # noqa: E402  (a sibling script, not a package)
from loadbench import HOST, BenchError, Server, run_wrk, start_server, stop  # noqa: E402

TARGET_RATIO = 0.8  # req/s with 200 rules over req/s with 1 rule, at least
RULES = 200
NAME = "matching-cost"

# Rules that look at Stripe authorizations (so `provider` and `operation` pass, as they
# would in a real scenario) and then fail on the benchmark's request: amount 2000 USD,
# pm_card_visa (visa, bin 424242, last4 4242, US), no metadata, wrk's four headers.
MISSES: dict[str, str] = {
    "amount": "amount: {gte: 1000000}",
    "amount_between": "amount: {between: [100, 999]}, currency: eur",
    "currency": "currency: [jpy, brl, mxn]",
    "card_brand": "card: {brand: [amex, discover]}",
    "card_bin": 'card: {bin: ["510510", "555555"], country: BR}',
    "metadata": "metadata: {order_type: subscription, tier: gold}",
    "header": 'header: {X-Test-Case: "^slow-"}',
    "path": 'path: "/refunds$"',
    "any": "any: [{country: BR}, {method: pix}, {currency: brl}]",
    "not": "not: {currency: usd}",
}
EFFECTS = ("outcome: {decline: do_not_honor}", "fault: {http: 503}", "latency: 2s")
HIT = "  - name: the-match\n    match: {provider: stripe, operation: authorize}\n" \
      "    outcome: approve\n"


def scenario_yaml(misses: int, kinds: Sequence[str] = tuple(MISSES)) -> str:
    """`misses` failing rules (cycling through `kinds`), then the one that matches."""
    lines = [f"name: {NAME}", f"description: {misses} rules that miss, then one that "
             "matches", "seed: 1", "rules:"]
    for i in range(misses):
        kind = kinds[i % len(kinds)]
        lines += [f"  - name: miss-{i:03d}-{kind}",
                  f"    match: {{provider: stripe, operation: authorize, {MISSES[kind]}}}",
                  f"    {EFFECTS[i % len(EFFECTS)]}"]
    return "\n".join(lines) + "\n" + HIT


# -- (a) in process -------------------------------------------------------------------

def request_facts() -> dict[str, Any]:
    """The facts ScenarioSet.decide sees for wrk's create+confirm (what the Stripe route
    passes to the engine, completed by scenarios.runtime.facts_for)."""
    from multidict import CIMultiDict, CIMultiDictProxy

    from paysandbox.core.commands import Authorize
    from paysandbox.core.payments import CardDetails
    from paysandbox.scenarios.runtime import facts_for

    card = CardDetails(brand="visa", last4="4242", bin="424242", exp_month=12,
                       exp_year=2028, funding="credit", country="US",
                       fingerprint="0123456789abcdef")
    headers = CIMultiDictProxy(CIMultiDict({
        "Host": "127.0.0.1:12111", "Content-Length": str(len(loadbench.BODY)),
        **loadbench.HEADERS}))
    return facts_for("stripe", "sk_test_bench", Authorize("pi_3QkBenchA1b2C3d4E5f6G7h8"), {
        "path": "/v1/payment_intents", "headers": headers, "amount": 2000,
        "currency": "USD", "card": card, "method": "card", "metadata": {},
        "country": card.country})


def per_call_us(fn: Callable[[], object], *, repeat: int, budget_s: float) -> dict[str, float]:
    """Microseconds per call: min and median of `repeat` timings of a loop sized to
    take about budget_s / repeat each."""
    timer = timeit.Timer(fn)
    number, took = timer.autorange()
    number = max(1, round(number * (budget_s / repeat) / max(took, 1e-9)))
    times = [t / number * 1e6 for t in timer.repeat(repeat=repeat, number=number)]
    return {"min": round(min(times), 3), "median": round(statistics.median(times), 3),
            "calls": number * repeat}


def in_process(args: argparse.Namespace) -> dict[str, Any]:
    from paysandbox.scenarios.loader import load_text
    from paysandbox.scenarios.runtime import ScenarioSet

    facts = request_facts()

    def decider(text: str | None) -> Callable[[], object]:
        scenarios = ScenarioSet()
        if text is not None:
            scenarios.put(load_text(text, source="<bench>"))
            decision = scenarios.decide(facts)
            if decision.matched != (f"{NAME}/the-match",) or decision.outcome is None:
                raise BenchError(f"the scenario decided {decision}, not the last rule alone")
        return lambda: scenarios.decide(facts)

    cases = {"no scenario": None, "1 rule": scenario_yaml(0),
             f"{RULES} rules": scenario_yaml(RULES - 1)}
    out: dict[str, Any] = {}
    for label, text in cases.items():
        out[label] = per_call_us(decider(text), repeat=args.repeat, budget_s=args.budget)
    one, many = out["1 rule"]["min"], out[f"{RULES} rules"]["min"]
    out["per_missing_rule_us"] = round((many - one) / (RULES - 1), 3)
    by_kind: dict[str, float] = {}
    for kind in MISSES:
        t = per_call_us(decider(scenario_yaml(RULES - 1, (kind,))), repeat=args.repeat,
                        budget_s=args.budget / 3)
        by_kind[kind] = round((t["min"] - one) / (RULES - 1), 3)
    out["per_missing_rule_us_by_kind"] = by_kind
    return out


# -- (b) end to end -------------------------------------------------------------------

def admin(server: Server, method: str, path: str, body: str | None = None,
          content_type: str = "application/json") -> Any:
    client = AdminClient(f"http://{HOST}:{server.port}", timeout=30)
    try:
        return client.call(method, path, body, content_type=content_type)
    except AdminError as exc:
        raise BenchError(f"{method} /__admin{path}: {exc}") from None


def load(server: Server, text: str) -> None:
    admin(server, "PUT", f"/scenarios/{NAME}", text, "application/yaml")


def check_counters(server: Server, requests: int, in_flight: int) -> None:
    """The last rule applied to every request; no other rule matched one. wrk counts
    the requests it saw answered: up to one per connection and run was still in flight
    when it stopped, and the server answered those too."""
    rules = admin(server, "GET", f"/scenarios/{NAME}")["rules"]
    *misses, hit = rules
    wrong = [r["name"] for r in misses if r["matched"] or r["applied"]]
    if wrong:
        raise BenchError(f"rules that should miss matched requests: {wrong[:5]}")
    if not requests <= hit["applied"] <= requests + in_flight:
        raise BenchError(f"the matching rule applied to {hit['applied']} requests; wrk "
                         f"saw {requests} answered (and at most {in_flight} in flight)")


def measure(args: argparse.Namespace, server: Server, url: str, label: str,
            text: str) -> dict[str, Any]:
    load(server, text)  # a fresh scenario: counters at zero
    admin(server, "POST", "/reset")  # every run starts from the same, small store
    status, body = loadbench.post(url)
    obj = json.loads(body)
    if status != 200 or obj.get("status") != "succeeded":
        raise BenchError(f"{label}: pre-flight create+confirm answered {status}: "
                         f"{body[:400].decode(errors='replace')}")
    requests = 1
    if args.warmup > 0:
        warm = run_wrk(url, duration=args.warmup, connections=args.connections,
                       threads=args.threads, cpu=args.wrk_cpu)
        _check(server, label, warm)
        requests += warm.requests
    with loadbench.CpuMeter(server) as cpu:
        result = run_wrk(url, duration=args.duration, connections=args.connections,
                         threads=args.threads, cpu=args.wrk_cpu)
    _check(server, label, result)
    runs = 2 if args.warmup > 0 else 1
    check_counters(server, requests + result.requests, runs * args.connections)
    return {"rps": round(result.rps, 1), "requests": result.requests,
            "latency_ms": {k: round(v / 1000, 3) for k, v in result.latency_us.items()},
            "cpu_percent": cpu.percent,
            "saturated": cpu.percent["server"] >= loadbench.SATURATED_PERCENT}


def _check(server: Server, label: str, result: loadbench.WrkResult) -> None:
    if result.requests == 0 or result.non_2xx or result.socket_errors:
        raise BenchError(f"{label}: {result.requests} requests, {result.non_2xx} non-2xx, "
                         f"errors {result.errors}; a benchmark of errors measures nothing.\n"
                         f"{server.log_tail()}")


def end_to_end(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server: Server | None = None
    cases = {"1 rule": scenario_yaml(0), f"{RULES} rules": scenario_yaml(RULES - 1)}
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in cases}
    profile = None
    try:
        server = start_server("simulator", [sys.executable, "-m", "paysandbox", "serve",
                                            "--port", "0"], args.server_cpu, workdir)
        url = f"http://{HOST}:{server.port}{loadbench.SIM_PATH}"
        for n in range(1, args.rounds + 1):
            order = list(cases) if n % 2 else list(reversed(cases))  # AB, BA, AB, ...
            for label in order:
                print(f"round {n}/{args.rounds}: {label}, {args.warmup:g} s warm-up + "
                      f"{args.duration:g} s …", flush=True)
                runs[label].append(measure(args, server, url, label, cases[label]))
        if args.profile:
            print(f"profiling the simulator with {RULES} rules: 2 x "
                  f"{args.profile_duration:g} s under load …", flush=True)
            load(server, cases[f"{RULES} rules"])
            admin(server, "POST", "/reset")
            profile = loadbench.profile_simulator(
                server, url, args.profile, duration=args.profile_duration,
                connections=args.connections, threads=args.threads, cpu=args.wrk_cpu)
            profile["payments_in_store"] = 0
    finally:
        if server is not None:
            stop(server)
    out: dict[str, Any] = {}
    for label, rounds in runs.items():
        used = [r for r in rounds if r["saturated"]] or rounds
        out[label] = {"rps": round(statistics.median(r["rps"] for r in used), 1),
                      "p50_ms": statistics.median(r["latency_ms"]["p50"] for r in used),
                      "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in used),
                      "valid": any(r["saturated"] for r in rounds), "rounds": rounds}
    one, many = out["1 rule"]["rps"], out[f"{RULES} rules"]["rps"]
    out["ratio"] = round(many / one, 4)
    out["per_request_us"] = {label: round(1e6 / out[label]["rps"], 1) for label in cases}
    out["round_ratios"] = [round(b["rps"] / a["rps"], 4)
                           for a, b in zip(runs["1 rule"], runs[f"{RULES} rules"],
                                           strict=True)]
    if profile is not None:
        out["profile"] = profile
    return out


# -- report -----------------------------------------------------------------------------

def table(report: dict[str, Any]) -> str:
    a, b, s = report["in_process"], report["end_to_end"], report["settings"]
    m = report["machine"]
    many = f"{RULES} rules"
    lines = [
        f"{report['date']}  commit {m.get('commit', '?')}  {m['cpus']} CPUs  "
        f"Python {m['python']}  aiohttp {m['aiohttp']}",
        "",
        "(a) in process: ScenarioSet.decide(facts) per call, create+confirm facts "
        f"(min / median of {s['repeat']} timings)",
        f"{'':<14}{'min us':>10}{'median us':>11}",
    ]
    for label in ("no scenario", "1 rule", many):
        lines.append(f"{label:<14}{a[label]['min']:>10.2f}{a[label]['median']:>11.2f}")
    lines += [f"{many} / 1 rule: {a[many]['min'] / a['1 rule']['min']:.1f}x; each rule "
              f"that misses costs {a['per_missing_rule_us']:.2f} us",
              "per missing rule, by the matcher that fails (us): " + ", ".join(
                  f"{k} {v:.2f}" for k, v in sorted(a["per_missing_rule_us_by_kind"].items(),
                                                    key=lambda kv: -kv[1])),
              "",
              f"(b) end to end: wrk create+confirm, {s['connections']} connections, "
              f"{s['rounds']} rounds x {s['duration_s']:g} s (after {s['warmup_s']:g} s "
              "warm-up), alternating, store reset before each run; simulator on CPU "
              f"{s['server_cpu']}, wrk on CPU {s['wrk_cpu']}",
              f"{'':<14}{'req/s':>8}{'us/req':>8}{'p50 ms':>8}{'p99 ms':>8}"
              "   req/s by round   CPU % server/wrk/other/steal (median round)"]
    for label in ("1 rule", many):
        r = b[label]
        mid = sorted(r["rounds"], key=lambda x: x["rps"])[len(r["rounds"]) // 2]
        c = mid["cpu_percent"]
        lines.append(f"{label:<14}{r['rps']:>8,.0f}{b['per_request_us'][label]:>8.0f}"
                     f"{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}   "
                     + " ".join(f"{x['rps']:,.0f}" + ("" if x["saturated"] else "*")
                                for x in r["rounds"])
                     + f"   {c['server']:.0f}/{c['wrk']:.0f}/{c['other']:.0f}/"
                       f"{c['steal']:.0f}")
    lines += ["",
              f"ratio {many} / 1 rule   {b['ratio']:.3f}   (by round: "
              + ", ".join(f"{x:.3f}" for x in b["round_ratios"])
              + f")   target >= {TARGET_RATIO}   "
              + ("PASS" if report["pass"] else "FAIL")]
    if not (b["1 rule"]["valid"] and b[many]["valid"]):
        lines.append(f"INVALID: in some case no round had the server at "
                     f"{loadbench.SATURATED_PERCENT:g}% of its CPU (* above); run again "
                     "on a quiet machine.")
    busy = max(x["cpu_percent"]["other"] for label in ("1 rule", many)
               for x in b[label]["rounds"])
    stolen = max(x["cpu_percent"]["steal"] for label in ("1 rule", many)
                 for x in b[label]["rounds"])
    if busy > loadbench.BUSY_PERCENT or stolen > loadbench.BUSY_PERCENT:
        lines.append(f"note: other processes used up to {busy:.0f}% of a CPU and the "
                     f"hypervisor stole up to {stolen:.0f}% during the measured runs; the "
                     "ratio, measured alternating, is less affected than the req/s")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=f"Scenario matching cost, 1 vs {RULES} rules: in process and with wrk.",
        epilog="example: python tests/bench/matching_cost.py --rounds 3 --json match.json")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before each")
    p.add_argument("--rounds", type=int, default=3, help="measured runs per scenario")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--wrk-cpu", type=int, default=1)
    p.add_argument("--repeat", type=int, default=7, help="timings per in-process case")
    p.add_argument("--budget", type=float, default=3.0,
                   help="seconds per in-process case (default 3)")
    p.add_argument("--skip-wrk", action="store_true", help="only the in-process part")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help=f"after measuring, py-spy the simulator with {RULES} rules under "
                        "the same load; DIR/simulator.svg and DIR/simulator.collapsed")
    p.add_argument("--profile-duration", type=float, default=10.0)
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = p.parse_args(argv)
    if not (0 < args.duration <= 120 and 0 <= args.warmup <= 60 and 1 <= args.rounds <= 10
            and 1 <= args.repeat <= 50 and 0 < args.budget <= 60
            and 0 < args.profile_duration <= 60):
        p.error("bounds: 0 < --duration <= 120, 0 <= --warmup <= 60, 1 <= --rounds <= 10, "
                "1 <= --repeat <= 50, 0 < --budget <= 60, 0 < --profile-duration <= 60")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the server


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = dt.datetime.now(dt.UTC)
    try:
        if not args.skip_wrk:
            if shutil.which("wrk") is None:
                raise BenchError("wrk is not installed: apt-get install -y wrk")
            if shutil.which("taskset") is None:
                raise BenchError("taskset is not installed (util-linux)")
            if not {args.server_cpu, args.wrk_cpu} <= os.sched_getaffinity(0) or \
                    args.server_cpu == args.wrk_cpu:
                raise BenchError("need two distinct allowed CPUs for --server-cpu and "
                                 "--wrk-cpu")
        print("in process: ScenarioSet.decide …", flush=True)
        report: dict[str, Any] = {
            "date": started.isoformat(timespec="seconds"), "machine": loadbench.machine(),
            "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                         "rounds": args.rounds, "connections": args.connections,
                         "threads": args.threads, "server_cpu": args.server_cpu,
                         "wrk_cpu": args.wrk_cpu, "repeat": args.repeat,
                         "rules": RULES, "target_ratio": TARGET_RATIO},
            "in_process": in_process(args)}
        if args.skip_wrk:
            print(json.dumps(report["in_process"], indent=2))
            return 0
        with tempfile.TemporaryDirectory(prefix="matching-cost-") as tmp:
            report["end_to_end"] = end_to_end(args, Path(tmp))
    except BenchError as exc:
        print(f"matching_cost: BROKEN: {exc}", file=sys.stderr)
        return 2
    report["pass"] = report["end_to_end"]["ratio"] >= TARGET_RATIO
    print()
    print(table(report))
    if "profile" in report["end_to_end"]:
        print()
        print(loadbench.profile_table(report["end_to_end"]["profile"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if args.strict and not report["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
