"""Run a suite headless in a Locust subprocess, show progress, gate on SLOs, write the
report. `paysandbox load` is this; so is `python -m paysandbox.loadtests.run`.

    python -m paysandbox.loadtests.run --suite checkout --target http://127.0.0.1:8000 \
        --simulator http://127.0.0.1:12111 --users 20 --spawn-rate 5 --run-time 60s \
        --scenario acquirer-brownout --slo "p95<300ms" --slo "errors<1%" \
        --workers 2 --report reports/run1

Exit status: Locust's (1 when an SLO gate is breached; failed requests alone do not fail
a run that has gates), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from paysandbox.loadtests import disputes as dispute_runs
from paysandbox.loadtests import slo as slo_gates
from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.report import bucket_for, build_report, slo_value
from paysandbox.loadtests.sampler import Sampled, SimulatorSampler

HERE = Path(__file__).resolve().parent
SUITES = {"checkout": HERE / "checkout.py", "providers": HERE / "providers.py",
          "renewals": HERE / "renewals.py"}
PROVIDER_USERS = {"stripe": "StripeUser", "adyen": "AdyenUser", "checkoutcom": "CheckoutcomUser"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", choices=sorted(SUITES), default="checkout")
    parser.add_argument("--target", help="the system under test (checkout: your payment "
                                         "service; providers: the simulator or your "
                                         "provider-facing component)")
    parser.add_argument("--simulator", default=os.environ.get("PAYSANDBOX_URL",
                                                              "http://127.0.0.1:12111"),
                        help="the simulator's base URL (scenarios, admin, the report's "
                             "provider view)")
    parser.add_argument("--users", "-u", type=int, default=10)
    parser.add_argument("--spawn-rate", "-r", type=float, default=5)
    parser.add_argument("--run-time", "-t", default="60s")
    parser.add_argument("--scenario", metavar="FILE",
                        help="load this scenario into the simulator and start its phases "
                             "when the load starts")
    parser.add_argument("--dispute-rate", type=float, default=None, metavar="SHARE",
                        help="dispute this share of captured payments (0.01: 1%%), with the "
                             "reasons and endings of the ready-made disputes scenario, at "
                             "every provider that renders disputes")
    parser.add_argument("--dispute-timeout", type=float,
                        default=dispute_runs.DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help="when the run loaded dispute rules: after the load the "
                             "simulator's clock is advanced twice (disputes open, then are "
                             "decided); how long to wait each time for the webhooks and the "
                             "service's answers (default 60)")
    parser.add_argument("--shape", choices=["ramp", "step", "spike", "soak", "scenario"],
                        help="a load shape instead of a flat --users (peaks at --users, "
                             "lasts --run-time)")
    parser.add_argument("--slo", action="append", default=[],
                        help="'p95<300ms', 'errors<1%%', 'POST /payments:p99<1s' "
                             "(repeatable); a breach exits non-zero")
    parser.add_argument("--workers", type=int, default=0,
                        help="Locust worker processes on this host (--processes)")
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="where the report goes (default reports/<suite>-<time>)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--user-classes", nargs="*", default=None,
                        help="providers suite: which users (default: those the simulator "
                             "imitates)")
    parser.add_argument("--locust-arg", action="append", default=[], metavar="ARG",
                        help="passed to Locust as is (repeatable), e.g. "
                             "--locust-arg=--capture-ratio=0.5")
    parser.add_argument("--request-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="a user's request that gets no answer within this fails as "
                             "'no response: timed out' and the user goes on (default 5), so "
                             "a hung provider does not freeze the load")
    parser.add_argument("--admin-token", default=os.environ.get("PAYSANDBOX_ADMIN_TOKEN"))
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def seconds(text: str) -> float:
    total, found = 0.0, False
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", text):
        total += float(value) * {"h": 3600, "m": 60, "s": 1, "": 1}[unit]
        found = True
    if not found:
        raise ValueError(f"--run-time {text!r}: use 60s, 5m, 1h30m")
    return total


def scenario_name(path: Path) -> str:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise ValueError(f"{path}: a scenario file needs a top-level name")
    return str(doc["name"])


def locust_command(args: argparse.Namespace, report: Path, scenario: str | None,
                   user_classes: Sequence[str]) -> list[str]:
    files = [str(SUITES[args.suite])]
    if args.shape:
        files.append(str(HERE / "shapes.py"))
    cmd = [sys.executable, "-m", "locust", "-f", ",".join(files), "--headless",
           "--host", args.target, "-u", str(args.users), "-r", str(args.spawn_rate),
           "-t", args.run_time, "--csv", str(report / "locust"), "--csv-full-history",
           "--html", str(report / "locust.html"), "--only-summary",
           "--exit-code-on-error", "0", "--stop-timeout", "5",
           "--simulator", args.simulator, "--seed", str(args.seed),
           "--slo-report", str(report / "slo.json"),
           "--errors-report", str(report / "errors.json"),
           "--started-file", str(report / "started"),
           "--request-timeout", str(args.request_timeout)]
    if args.shape:
        cmd += ["--shape", args.shape, "--peak-users", str(args.users),
                "--shape-time", str(seconds(args.run_time))]
    for gate in args.slo:
        cmd += ["--slo", gate]
    if scenario:
        cmd += ["--sim-scenario", scenario]
    if args.admin_token:
        cmd += ["--admin-token", args.admin_token]
    if args.workers:
        cmd += ["--processes", str(args.workers)]
    cmd += args.locust_arg
    cmd += list(user_classes)
    return cmd


def load_started(path: Path) -> float | None:
    """When Locust started the load (the plugin writes it at test start), if it has."""
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None


def progress(report: Path, started: float, total: float) -> str | None:
    """One line from the latest row of Locust's stats history."""
    history = report / "locust_stats_history.csv"
    if not history.exists():
        return None
    last = None
    with history.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("Name") == "Aggregated":
                last = row
    if last is None:
        return None
    n, fails = int(last["Total Request Count"]), int(last["Total Failure Count"])
    return (f"[{time.monotonic() - started:5.0f}s/{total:.0f}s] users {last['User Count']:>4}"
            f"  req/s {float(last['Requests/s']):7.1f}  requests {n:>7}  failures "
            f"{fails / n * 100 if n else 0:5.2f}%  p95 {last['95%']} ms")


def run(args: argparse.Namespace) -> int:
    if not args.target:
        args.target = args.simulator if args.suite == "providers" else None
    if not args.target:
        print("--target: the URL of the payment service under test, e.g. "
              "http://127.0.0.1:8000", file=sys.stderr)
        return 2
    for gate in args.slo:
        try:
            slo_gates.parse(gate)
        except slo_gates.SloError as exc:
            print(f"--slo: {exc}", file=sys.stderr)
            return 2
    try:
        total = seconds(args.run_time)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not args.request_timeout > 0:
        print("--request-timeout: a number of seconds above 0, e.g. 5", file=sys.stderr)
        return 2
    rate_doc = None
    if args.dispute_rate is not None:
        try:
            rate_doc = dispute_runs.rate_scenario(args.dispute_rate)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    if not args.dispute_timeout > 0:
        print("--dispute-timeout: a number of seconds above 0, e.g. 60", file=sys.stderr)
        return 2
    report = Path(args.report or f"reports/{args.suite}-{time.strftime('%Y%m%d-%H%M%S')}")
    report.mkdir(parents=True, exist_ok=True)
    admin = Admin(args.simulator, token=args.admin_token)
    scenario = None
    if args.scenario:
        path = Path(args.scenario)
        try:
            scenario = scenario_name(path)
            admin.load_scenario(scenario, path.read_text())
        except (OSError, ValueError, RuntimeError) as exc:
            print(f"--scenario {path}: {exc}", file=sys.stderr)
            return 2
    if rate_doc is not None:
        try:
            admin.load_scenario(dispute_runs.RATE_SCENARIO, yaml.safe_dump(rate_doc))
        except (OSError, RuntimeError) as exc:
            print(f"--dispute-rate: the simulator refused its scenario: {exc}", file=sys.stderr)
            return 2
    # Disputes are settled after the load when this run brought dispute rules.
    opens_disputes = rate_doc is not None or (
        args.scenario is not None and dispute_runs.timing(
            [{"document": yaml.safe_load(Path(args.scenario).read_text())}]) is not None)
    classes = args.user_classes
    if args.suite == "providers" and classes is None:
        try:
            mounted = admin.call("GET", "/health")["providers"]
        except (OSError, RuntimeError) as exc:
            print(f"cannot reach the simulator at {args.simulator}: {exc}", file=sys.stderr)
            return 2
        classes = [cls for name, cls in PROVIDER_USERS.items() if name in mounted]
    cmd = locust_command(args, report, scenario, classes or [])
    env = dict(os.environ)
    print(f"locust: {args.suite} suite against {args.target}, {args.users} users, "
          f"{args.run_time}" + (f", scenario {scenario}" if scenario else "")
          + (f", {args.workers} workers" if args.workers else ""), flush=True)
    log = (report / "locust.log").open("w")
    started = time.monotonic()
    origin = time.time()
    started_file = report / "started"
    started_file.unlink(missing_ok=True)
    # The simulator's journal and process, read while the load runs (about one call of
    # each a second; fewer on long runs): the report then covers the whole run.
    sampler = SimulatorSampler(admin, origin=origin, bucket_s=bucket_for(total),
                               interval=max(1.0, total / 600),
                               started=lambda: load_started(started_file))
    sampler.prime()
    sampler.start()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    shown = ""
    try:
        while proc.poll() is None:
            time.sleep(1 if total < 30 else 3)
            line = progress(report, started, total)
            if line and not args.quiet and line.split("]", 1)[1] != shown:
                shown = line.split("]", 1)[1]
                print(line, flush=True)
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(30)
    log.close()
    ended = time.time()
    sampled: Sampled = sampler.stop()
    origin = load_started(started_file) or origin
    # The load stops at --run-time; the seconds Locust takes to wind down are not load.
    ended = min(ended, origin + total)
    code = proc.returncode
    disputes = settle_disputes(admin, args, quiet=args.quiet) if opens_disputes else None
    verdicts = []
    slo_file = report / "slo.json"
    if slo_file.exists():
        verdicts = json.loads(slo_file.read_text())
    try:
        summary = build_report(report, simulator=admin, title=f"{args.suite} suite against "
                               f"{args.target}", scenario=scenario, slo=verdicts,
                               run={"users": args.users, "spawn_rate": args.spawn_rate,
                                    "run_time": args.run_time, "workers": args.workers,
                                    "shape": args.shape,
                                    "request_timeout": f"{args.request_timeout:g} s",
                                    "exit_code": code},
                               window=(origin, ended), sampled=sampled,
                               disputes=disputes)
    except (OSError, RuntimeError, ValueError) as exc:
        summary = f"(the report could not be built: {exc})"
    print(summary)
    breached = [v for v in verdicts if not v["passed"]]
    for v in verdicts:
        print(f"SLO {'PASS' if v['passed'] else 'FAIL'} {v['slo']}: {v['request']} "
              f"{v['metric']} = {slo_value(v['metric'], v['value'])}")
    if code not in (0, 1) or (code == 1 and not breached):
        print(f"locust exited with {code}; its log: {report / 'locust.log'}", file=sys.stderr)
    elif breached:
        print(f"SLO breached: {', '.join(v['slo'] for v in breached)}", file=sys.stderr)
    print(f"report: {report / 'report.html'}  (summary {report / 'summary.md'}, Locust's own "
          f"{report / 'locust.html'})")
    return code


def settle_disputes(admin: Admin, args: argparse.Namespace, *,
                    quiet: bool = False) -> dict[str, Any]:
    """After the load: advance the simulator's clock until the run's disputes are decided,
    then count them there and, when the service under test has a `/stats` like the
    reference service's, as it booked them."""
    try:
        settled = dispute_runs.settle(admin, timeout=args.dispute_timeout)
    except (OSError, RuntimeError, ValueError) as exc:
        return {"note": f"the disputes could not be settled: {exc}"}
    finally:
        if args.dispute_rate is not None:
            with contextlib.suppress(OSError, RuntimeError):
                admin.call("DELETE", f"/scenarios/{dispute_runs.RATE_SCENARIO}")
    note = ""
    if settled is not None:
        steps = " then ".join(dispute_runs.duration_words(s) for s in settled.advanced)
        note = (f"After the load the simulator's clock was advanced {steps} so that every "
                "dispute opened and was decided"
                + (f" (a wait for the webhooks and answers gave up after "
                   f"{args.dispute_timeout:g} s)" if settled.timed_out else "") + ".")
        if not quiet:
            print(f"disputes: {note}", flush=True)
    service = dispute_runs.service_stats(args.target) if args.suite == "checkout" else None
    try:
        simulator = dispute_runs.simulator_counts(admin.call("GET", "/payments/summary"))
    except (OSError, RuntimeError) as exc:
        return {"note": f"{note} The simulator's dispute counts are missing: {exc}".strip()}
    return {"simulator": simulator, "note": note,
            "service": None if service is None else dispute_runs.service_counts(service)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paysandbox.loadtests.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
