"""Latency fidelity: does a scenario's `latency` distribution come out as configured?

For each distribution (fixed, uniform, lognormal, percentiles) this loads a scenario
that adds it to Stripe's `retrieve` (GET /v1/payment_intents/{id}), drives the simulator
at a fixed request rate well below saturation (an open-loop, paced client), and compares
the client-side latency quantiles, less the baseline's share of them (the same requests
with no scenario, measured just before and just after in the same run), with the
distribution's true quantiles, computed analytically:

    fixed        value
    uniform      min + q * (max - min)
    lognormal    median * exp(sigma * z_q)            (z_q: the standard normal quantile)
    percentiles  the configured p50 / p95 / p99 themselves

    python tests/bench/latency_fidelity.py [--rate 400] [--duration 20] [--json out.json]

A quantile passes when it is within 5% or 2 ms of the true value, whichever is larger.
The "drawn" column is the same quantile of the very delays the server drew (the
scenario's seeded generator, replayed here): measured minus drawn is the server's timing
error, drawn minus configured the sampling noise of a finite run, whose 95% range is
printed too. tests/bench/README.md ("Scenario benchmarks") explains each step.

The simulator runs under `taskset -c 0`, the load generator (this file again, with
--client, in its own process) under `taskset -c 1`. Exit status: 0 when the benchmark
ran (PASS or FAIL is printed); 1 with --strict when a quantile fails; 2 when the
benchmark itself is broken (the server did not start, a request failed, the client fell
behind its schedule in every attempt). Every process it starts is stopped before it
exits; only 127.0.0.1 is used; every step has a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import itertools
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from paysandbox.testing.client import AdminClient, AdminError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadbench  # noqa: E402  (a sibling script, not a package)
from loadbench import HOST, BenchError, Server, pinned, start_server, stop  # noqa: E402

QUANTILES = (0.50, 0.95, 0.99)
REL_TOLERANCE = 0.05  # a measured quantile passes within 5% of the true one ...
ABS_TOLERANCE_MS = 2.0  # ... or within 2 ms, whichever is larger
# The client starts each request on a schedule (latency is timed from the moment it
# really starts). A p99 this late (ms) means the load generator could not hold the rate,
# and the run does not count.
LATE_LIMIT_MS = 20.0
# Other processes using more than this (% of one CPU) during a run: the table says so.
BUSY_PERCENT = 10.0
# Pairs drawn to convolve the configured distribution with the baseline sample.
CONVOLUTION_SAMPLES = 200_000

DISTRIBUTIONS: dict[str, dict[str, Any]] = {
    "fixed": {"distribution": "fixed", "value": "50ms"},
    "uniform": {"distribution": "uniform", "min": "20ms", "max": "120ms"},
    "lognormal": {"distribution": "lognormal", "median": "80ms", "sigma": 0.5},
    "percentiles": {"distribution": "percentiles", "p50": "80ms", "p95": "400ms",
                    "p99": "1.2s"},
}


def _ms(value: str) -> float:
    if value.endswith("ms"):
        return float(value[:-2])
    return float(value.removesuffix("s")) * 1000.0


def inverse_cdf(spec: dict[str, Any], u: float) -> float:
    """The distribution's u-quantile in ms, from its parameters (not from sampling).

    `percentiles` is the documented empirical table: linear between the given points,
    from half of p50 at 0 up to p50, and past the last given percentile the last slope
    extended to u = 1 (paysandbox/scenarios/ready/README.md, paysandbox/faults.py)."""
    kind = spec["distribution"]
    if kind == "fixed":
        return _ms(spec["value"])
    if kind == "uniform":
        lo, hi = _ms(spec["min"]), _ms(spec["max"])
        return lo + u * (hi - lo)
    if kind == "lognormal":
        return _ms(spec["median"]) * math.exp(float(spec["sigma"])
                                             * statistics.NormalDist().inv_cdf(u))
    if kind == "percentiles":
        given = sorted((float(k[1:]) / 100, _ms(v)) for k, v in spec.items()
                       if k in ("p50", "p90", "p95", "p99"))
        (q1, v1), (q2, v2) = given[-2], given[-1]
        points = [(0.0, given[0][1] / 2), *given, (1.0, v2 + (v2 - v1) / (q2 - q1) * (1 - q2))]
        for (qa, va), (qb, vb) in itertools.pairwise(points):
            if u <= qb:
                return va + (vb - va) * (u - qa) / (qb - qa)
        return points[-1][1]
    raise ValueError(kind)


def scenario_yaml(name: str, spec: dict[str, Any], seed: int) -> str:
    params = ", ".join(f"{k}: {v}" for k, v in spec.items())
    return (f"name: {name}\n"
            f"description: latency fidelity benchmark, {spec['distribution']} on retrieve\n"
            f"seed: {seed}\n"
            "rules:\n"
            "  - name: retrieve-latency\n"
            "    match: {provider: stripe, operation: retrieve}\n"
            f"    latency: {{{params}}}\n")


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, type 7)."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def drawn_delays(spec: dict[str, Any], seed: int, skip: int, count: int) -> list[float]:
    """The delays (ms) the server drew for requests skip..skip+count-1, in order: the
    scenario's generator is random.Random(seed), and the matching rule draws once per
    request, as requests arrive (the client sends them 1/rate apart, so in its order)."""
    from paysandbox.faults import distribution

    sampler, rng = distribution(spec), random.Random(seed)
    for _ in range(skip):
        sampler(rng)
    return [sampler(rng) * 1000.0 for _ in range(count)]


def sampling_range(spec: dict[str, Any], q: float, n: int) -> tuple[float, float]:
    """Where the q-quantile of n draws from the configured distribution falls 95% of
    the time (order statistics: the rank is binomial), before any timing error. Where
    the density is low above the quantile (percentiles at p95) this range is wide, and
    no run of bounded length can hold that quantile to 5%."""
    half = 1.96 * math.sqrt(q * (1 - q) / n)
    return (inverse_cdf(spec, max(q - half, 1e-9)), inverse_cdf(spec, min(q + half, 1 - 1e-9)))


# -- the load generator (its own process) -----------------------------------------------

async def _paced(url: str, headers: dict[str, str], rate: float, warmup: float,
                 duration: float, timeout: float) -> dict[str, Any]:
    import aiohttp

    loop = asyncio.get_running_loop()
    n_warm, n_meas = round(rate * warmup), round(rate * duration)
    total = n_warm + n_meas
    latency = [math.nan] * total
    late = [0.0] * total
    status: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout,
                                     headers=headers) as session:

        async def one(i: int, due: float) -> None:
            started = time.perf_counter()
            late[i] = loop.time() - due
            try:
                async with session.get(url) as response:
                    await response.read()
                    code = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                code = type(exc).__name__
            latency[i] = (time.perf_counter() - started) * 1000.0
            if i >= n_warm:
                status[code] += 1

        # A pause of this process (its garbage collector walking thousands of tasks)
        # would delay the completion of every request in flight, and with a delay
        # configured there are dozens: the client would add to the tail it measures.
        # Without one, requests in flight are few, so the baseline would not show it.
        # Nothing here builds cycles that must be collected during a bounded run.
        gc.collect()
        gc.freeze()
        gc.disable()
        pending: set[asyncio.Task[None]] = set()
        start = loop.time() + 0.05
        for i in range(total):
            due = start + i / rate
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            task = loop.create_task(one(i, due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
        gc.enable()
    measured_late = sorted(late[n_warm:])
    return {"warmup_requests": n_warm, "requests": n_meas, "status": dict(status),
            "latency_ms": latency[n_warm:],
            "late_ms": {"p50": quantile(measured_late, 0.5) * 1000,
                        "p99": quantile(measured_late, 0.99) * 1000,
                        "max": measured_late[-1] * 1000}}


def client_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="latency_fidelity.py --client")
    p.add_argument("--url", required=True)
    p.add_argument("--auth", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--warmup", type=float, required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args(argv)
    runner: Callable[..., Any] = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop
        runner = uvloop.run
    result = runner(_paced(a.url, {"Authorization": a.auth}, a.rate, a.warmup, a.duration,
                           a.timeout))
    a.out.write_text(json.dumps(result))
    return 0


def run_client(args: argparse.Namespace, url: str, out: Path,
               duration: float) -> dict[str, Any]:
    argv = pinned(args.client_cpu, [sys.executable, str(Path(__file__).resolve()),
                                    "--client", "--url", url, "--auth", AUTH,
                                    "--rate", f"{args.rate:g}", "--warmup", f"{args.warmup:g}",
                                    "--duration", f"{duration:g}", "--out", str(out)])
    limit = args.warmup + duration + 40
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        output, _ = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"the load generator did not finish within {limit:.0f} s") from exc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    if proc.returncode != 0 or not out.exists():
        raise BenchError(f"the load generator failed (status {proc.returncode}):\n"
                         f"{output.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- the benchmark ------------------------------------------------------------------------

AUTH = "Bearer sk_test_latency"


def admin(server: Server, method: str, path: str, body: str | None = None,
          content_type: str = "application/json") -> Any:
    client = AdminClient(f"http://{HOST}:{server.port}", timeout=10)
    try:
        return client.call(method, path, body, content_type=content_type)
    except AdminError as exc:
        raise BenchError(f"{method} /__admin{path}: {exc}") from None


def create_payment(server: Server) -> str:
    req = urllib.request.Request(
        f"http://{HOST}:{server.port}{loadbench.SIM_PATH}", data=loadbench.BODY,
        method="POST", headers={**loadbench.HEADERS, "Authorization": AUTH})
    with urllib.request.urlopen(req, timeout=10) as response:
        body = json.loads(response.read())
    if body.get("status") != "succeeded":
        raise BenchError(f"create+confirm did not succeed: {body}")
    return str(body["id"])


def measure(args: argparse.Namespace, server: Server, url: str, label: str,
            workdir: Path, scenario: tuple[str, str] | None = None) -> dict[str, Any]:
    """One run at the paced rate, with `scenario` (name, YAML) loaded fresh (counters
    and seeded generator at their start) or none. A run whose client fell behind its
    schedule (a busy machine) is run again, up to --retries times."""
    duration = args.duration if scenario is not None else args.baseline_duration
    for attempt in range(args.retries + 1):
        admin(server, "DELETE", "/scenarios")
        if scenario is not None:
            admin(server, "PUT", f"/scenarios/{scenario[0]}", scenario[1], "application/yaml")
        print(f"  {label}: {args.warmup:g} s warm-up + {duration:g} s at "
              f"{args.rate:g} req/s …", flush=True)
        with loadbench.CpuMeter(server) as cpu:
            result = run_client(args, url, workdir / f"{label}.json", duration)
        result["cpu_percent"] = {"server": cpu.percent["server"],
                                 "client": cpu.percent["wrk"],
                                 "other": cpu.percent["other"], "steal": cpu.percent["steal"]}
        bad = {k: v for k, v in result["status"].items() if k != "200"}
        if bad:
            raise BenchError(f"{label}: answers other than 200: {bad}\n{server.log_tail()}")
        if scenario is not None:
            hits = admin(server, "GET", f"/scenarios/{scenario[0]}")["rules"][0]["applied"]
            sent = result["warmup_requests"] + result["requests"]
            if hits != sent:
                raise BenchError(f"{scenario[0]}: the rule applied to {hits} requests, "
                                 f"not the {sent} sent")
        late = result["late_ms"]["p99"]
        if late <= LATE_LIMIT_MS:
            result["sorted_ms"] = sorted(result["latency_ms"])
            result["label"] = label
            result["attempts"] = attempt + 1
            return result
        print(f"  {label}: the client fell behind its schedule (p99 {late:.1f} ms late; "
              f"other processes {result['cpu_percent']['other']:.0f}%, stolen "
              f"{result['cpu_percent']['steal']:.0f}% of a CPU)", flush=True)
    raise BenchError(f"{label}: the load generator fell behind its schedule in "
                     f"{args.retries + 1} attempts; lower --rate or quiet the machine")


def baseline_share(spec: dict[str, Any], baseline: Sequence[float],
                   rng: random.Random) -> dict[float, float]:
    """What the baseline adds to each quantile of the configured distribution.

    A request's latency is its delay X plus what it costs without one, B (the baseline,
    measured). Quantiles do not add, so the share is the q-quantile of X + B (X by
    stratified inverse-CDF sampling, B drawn from the baseline sample) minus that of X:
    for a fixed delay it is exactly B's own q-quantile, for a wide distribution close
    to B's mean."""
    n = CONVOLUTION_SAMPLES
    xs = [inverse_cdf(spec, (i + 0.5) / n) for i in range(n)]  # ascending
    sums = sorted(x + rng.choice(baseline) for x in xs)
    return {q: quantile(sums, q) - quantile(xs, q) for q in QUANTILES}


def analyse(args: argparse.Namespace, runs: dict[str, dict[str, Any]],
            baselines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each distribution against the baseline runs just before and just after it."""
    rows = []
    excess: dict[str, Any] = {}
    rng = random.Random(0)
    for i, (name, spec) in enumerate(DISTRIBUTIONS.items()):
        run = runs[name]
        baseline = sorted([*baselines[i]["sorted_ms"], *baselines[i + 1]["sorted_ms"]])
        lat = run["sorted_ms"]
        sequence = drawn_delays(spec, args.seed, run["warmup_requests"], run["requests"])
        drawn = sorted(sequence)
        share = baseline_share(spec, baseline, rng)
        # Each request's latency minus the delay the server drew for it: with an exact
        # sleep, this is distributed like the baseline.
        over = sorted(lt - d for lt, d in zip(run["latency_ms"], sequence, strict=True))
        excess[name] = {
            "over_drawn": {f"p{round(q * 100)}": round(quantile(over, q), 3)
                           for q in (0.01, *QUANTILES)},
            "baseline": {f"p{round(q * 100)}": round(quantile(baseline, q), 3)
                         for q in (0.01, *QUANTILES)}}
        for q in QUANTILES:
            configured = inverse_cdf(spec, q)
            raw = quantile(lat, q)
            measured = raw - share[q]
            error = measured - configured
            allowed = max(REL_TOLERANCE * configured, ABS_TOLERANCE_MS)
            lo, hi = sampling_range(spec, q, run["requests"])
            rows.append({
                "distribution": name, "quantile": f"p{round(q * 100)}",
                "configured_ms": round(configured, 3), "measured_ms": round(measured, 3),
                "error_ms": round(error, 3), "error_percent": round(100 * error / configured, 2),
                "allowed_ms": round(allowed, 3), "pass": abs(error) <= allowed,
                "client_ms": round(raw, 3), "baseline_share_ms": round(share[q], 3),
                "measured_minus_baseline_p50_ms": round(raw - quantile(baseline, 0.5), 3),
                "measured_minus_baseline_same_q_ms": round(raw - quantile(baseline, q), 3),
                "drawn_ms": round(quantile(drawn, q), 3),
                "timing_error_ms": round(measured - quantile(drawn, q), 3),
                "timing_pass": abs(measured - quantile(drawn, q)) <= allowed,
                "sampling_range_ms": [round(lo, 3), round(hi, 3)]})
    return rows, excess


def table(report: dict[str, Any]) -> str:
    b = report["baseline"]
    s = report["settings"]
    lines = [
        f"{report['date']}  commit {report['machine'].get('commit', '?')}  "
        f"{report['machine']['cpus']} CPUs  Python {report['machine']['python']}",
        f"retrieve at {s['rate_per_s']:g} req/s for {s['duration_s']:g} s per distribution "
        f"(after {s['warmup_s']:g} s warm-up), seed {s['seed']}; simulator on CPU "
        f"{s['server_cpu']}, client on CPU {s['client_cpu']}",
        f"baseline (no scenario; {s['baseline_duration_s']:g} s before the first "
        f"distribution and after each; {b['requests']:,} requests in all): p50 "
        f"{b['p50']:.2f} ms, p95 {b['p95']:.2f} ms, p99 {b['p99']:.2f} ms, max "
        f"{b['max']:.2f} ms",
        "",
        f"{'distribution':<13}{'quantile':>8}{'configured ms':>15}{'measured ms':>13}"
        f"{'error ms':>10}{'error %':>9}  {'result':<7}{'client ms':>10}{'drawn ms':>10}"
        f"   sampling 95% ms",
    ]
    for r in report["rows"]:
        lo, hi = r["sampling_range_ms"]
        lines.append(
            f"{r['distribution']:<13}{r['quantile']:>8}{r['configured_ms']:>15.2f}"
            f"{r['measured_ms']:>13.2f}{r['error_ms']:>+10.2f}{r['error_percent']:>+9.2f}"
            f"  {'PASS' if r['pass'] else 'FAIL':<7}{r['client_ms']:>10.2f}"
            f"{r['drawn_ms']:>10.2f}   {lo:.1f}-{hi:.1f}")
    passed = sum(r["pass"] for r in report["rows"])
    timing = sum(r["timing_pass"] for r in report["rows"])
    n = len(report["rows"])
    lines += [
        "",
        f"against the configured quantiles: {passed}/{n} within max(5%, 2 ms): "
        f"{'PASS' if passed == n else 'FAIL'}",
        f"against the drawn quantiles (timing alone): {timing}/{n} within max(5%, 2 ms)",
        "",
        "measured: the client-side quantile ('client ms') minus the baseline's share of "
        "it (the configured",
        "  distribution convolved with the baseline runs just before and after; for "
        "fixed, the baseline's own quantile).",
        "drawn: the same quantile of the delays the server drew in the measured window "
        "(its seeded",
        "  generator, replayed here). measured - drawn is the server's timing error; "
        "drawn - configured",
        "  is sampling noise, and 'sampling 95%' is where the quantile of that many "
        "draws falls 95% of the time.",
        "",
        "per request, latency minus the delay drawn for it, beside the adjacent baselines "
        "(ms; with an exact sleep the two match):",
    ]
    for name, e in report["excess_over_drawn_ms"].items():
        o, bb = e["over_drawn"], e["baseline"]
        lines.append(f"  {name:<13}" + "  ".join(
            f"{k} {o[k]:>6.2f} / {bb[k]:<6.2f}" for k in ("p1", "p50", "p95", "p99")))
    cpu = report["cpu_percent"]
    lines += ["", "CPU % of one CPU by run (server/client/other processes/stolen by the "
                  "hypervisor): " + "; ".join(
                      f"{name} {c['server']:.0f}/{c['client']:.0f}/{c['other']:.0f}/"
                      f"{c['steal']:.0f}" for name, c in cpu.items())]
    busy = max(c["other"] for c in cpu.values())
    stolen = max(c["steal"] for c in cpu.values())
    if busy > BUSY_PERCENT or stolen > BUSY_PERCENT:
        lines.append(f"note: other processes used up to {busy:.0f}% of a CPU and the "
                     f"hypervisor stole up to {stolen:.0f}% during the runs; the tails "
                     "include that interference. Run again on a quiet machine.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC)
    server: Server | None = None
    runs: dict[str, dict[str, Any]] = {}
    baselines: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="latency-fidelity-") as tmp:
        workdir = Path(tmp)
        try:
            server = start_server("simulator", [sys.executable, "-m", "paysandbox", "serve",
                                                "--port", "0"], args.server_cpu, workdir)
            pi = create_payment(server)
            url = f"http://{HOST}:{server.port}{loadbench.SIM_PATH}/{pi}"
            # Bring the server to its steady state first: until its bounded journal is
            # full (10,000 requests) its heap grows, and the collector's full passes
            # land on whichever run comes first.
            if args.prefill > 0:
                seconds = math.ceil(args.prefill / args.rate)
                print(f"  prefill: {seconds} s at {args.rate:g} req/s (not measured) …",
                      flush=True)
                run_client(argparse.Namespace(**{**vars(args), "warmup": 0}), url,
                           workdir / "prefill.json", seconds)
            # baseline, distribution, baseline, distribution, ..., baseline
            baselines.append(measure(args, server, url, "baseline-0", workdir))
            for i, (name, spec) in enumerate(DISTRIBUTIONS.items(), 1):
                scenario = f"latency-{name}"
                runs[name] = measure(args, server, url, name, workdir,
                                     (scenario, scenario_yaml(scenario, spec, args.seed)))
                baselines.append(measure(args, server, url, f"baseline-{i}", workdir))
            admin(server, "DELETE", "/scenarios")
        finally:
            if server is not None:
                stop(server)
    baseline = sorted(v for b in baselines for v in b["latency_ms"])
    rows, excess = analyse(args, runs, baselines)
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": loadbench.machine(),
        "settings": {"rate_per_s": args.rate, "duration_s": args.duration,
                     "prefill_requests": args.prefill,
                     "baseline_duration_s": args.baseline_duration,
                     "warmup_s": args.warmup, "seed": args.seed,
                     "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
                     "request": "GET /stripe/v1/payment_intents/{id}",
                     "tolerance": {"relative": REL_TOLERANCE, "absolute_ms": ABS_TOLERANCE_MS},
                     "distributions": DISTRIBUTIONS},
        "baseline": {"requests": len(baseline),
                     **{f"p{round(q * 100)}": round(quantile(baseline, q), 3)
                        for q in QUANTILES},
                     "max": round(baseline[-1], 3),
                     "p1": round(quantile(baseline, 0.01), 3),
                     "by_run_p50": [round(quantile(b["sorted_ms"], 0.5), 3)
                                    for b in baselines]},
        "client_late_ms": {name: r["late_ms"] for name, r in runs.items()},
        "attempts": {r["label"]: r["attempts"] for r in [*baselines, *runs.values()]},
        "cpu_percent": {**{b["label"]: b["cpu_percent"] for b in baselines},
                        **{name: r["cpu_percent"] for name, r in runs.items()}},
        "rows": rows,
        "excess_over_drawn_ms": excess,
        "pass": all(r["pass"] for r in rows),
    }
    print()
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Latency fidelity of scenario distributions, measured on loopback.",
        epilog="example: python tests/bench/latency_fidelity.py --rate 400 --duration 20")
    p.add_argument("--rate", type=float, default=400.0, help="requests/s (below 1,000)")
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
    p.add_argument("--baseline-duration", type=float, default=10.0,
                   help="measured seconds per baseline run (one before and after each "
                        "distribution)")
    p.add_argument("--warmup", type=float, default=3.0,
                   help="seconds at the same rate before each measured run")
    p.add_argument("--seed", type=int, default=1, help="the scenarios' seed")
    p.add_argument("--prefill", type=int, default=12_000,
                   help="requests sent before the first measured run, to bring the "
                        "server's journal and heap to their steady size (default 12,000)")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--retries", type=int, default=2,
                   help="runs again a run whose client fell behind its schedule (default 2)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--strict", action="store_true", help="exit 1 when a quantile fails")
    args = p.parse_args(argv)
    if not (0 < args.rate < 1000 and 0 < args.duration <= 120 and 0 <= args.warmup <= 30
            and 0 <= args.retries <= 5 and 0 < args.baseline_duration <= 120
            and 0 <= args.prefill <= 100_000):
        p.error("bounds: 0 < --rate < 1000, 0 < --duration <= 120, 0 < --baseline-duration "
                "<= 120, 0 <= --warmup <= 30, 0 <= --retries <= 5, "
                "0 <= --prefill <= 100,000")
    if args.rate * args.duration < 1000:
        p.error("too few samples for a p99: --rate x --duration must be at least 1,000")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the server


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--client"]:
        return client_main(argv[1:])
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if shutil.which("taskset") is None:
            raise BenchError("taskset is not installed (util-linux)")
        if not {args.server_cpu, args.client_cpu} <= os.sched_getaffinity(0) or \
                args.server_cpu == args.client_cpu:
            raise BenchError("need two distinct allowed CPUs for --server-cpu and "
                             "--client-cpu")
        report = run(args)
    except BenchError as exc:
        print(f"latency_fidelity: BROKEN: {exc}", file=sys.stderr)
        return 2
    return 1 if args.strict and not report["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
