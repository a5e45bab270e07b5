"""`paysandbox load` and `paysandbox demo`: Locust runs in a subprocess (gevent never shares
a process with the simulator's asyncio), started here; see paysandbox/loadtests/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

from paysandbox.settings import DEFAULT_HOST


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `load` and `demo` subcommands and their options."""
    load = sub.add_parser(
        "load", help="run a Locust suite headless, with SLO gates and a report",
        description="Run the checkout suite (a payment service's API), the renewals suite "
                    "(saved cards and subscriptions through the reference service) or the "
                    "providers suite (the provider APIs) headless in a Locust subprocess; "
                    "exit 1 when an SLO gate is breached.",
        epilog="example:\n  paysandbox load --suite checkout --target http://127.0.0.1:8000 "
               "--users 20 --spawn-rate 5 --run-time 60s \\\n"
               "      --scenario acquirer-brownout --slo 'p95<300ms' "
               "--slo 'errors<1%' --report reports/run1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    load.add_argument("--suite", choices=["checkout", "providers", "renewals"],
                      default="checkout")
    load.add_argument("--target", help="the system under test's base URL (providers suite: "
                                       "default the simulator)")
    load.add_argument("--simulator", help="the simulator's base URL (default "
                                          "http://127.0.0.1:12111 or PAYSANDBOX_URL)")
    load.add_argument("--users", type=int, default=10)
    load.add_argument("--spawn-rate", type=float, default=5)
    load.add_argument("--run-time", default="60s")
    load.add_argument("--scenario", metavar="FILE_OR_NAME",
                      help="load it (a file or a ready-made scenario's name) into the "
                           "simulator and start its phases with the load")
    load.add_argument("--dispute-rate", type=float, metavar="SHARE",
                      help="dispute this share of captured payments (0.01: 1%%), with the "
                           "reasons and endings of the ready-made disputes scenario; after "
                           "the load the simulator's clock is advanced until every dispute "
                           "is decided, and the report counts them")
    load.add_argument("--dispute-timeout", type=float, default=60, metavar="SECONDS",
                      help="how long to wait, after each advance of the clock, for the "
                           "dispute webhooks and the service's answers (default 60)")
    load.add_argument("--shape", choices=["ramp", "step", "spike", "soak", "scenario"])
    load.add_argument("--slo", action="append", default=[], metavar="GATE",
                      help="'p95<300ms', 'errors<1%%', 'POST /payments:p99<1s' (repeatable)")
    load.add_argument("--workers", type=int, default=0,
                      help="Locust worker processes on this host")
    load.add_argument("--report", metavar="DIR", help="default reports/<suite>-<time>")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--request-timeout", type=float, default=5.0, metavar="SECONDS",
                      help="a request unanswered this long fails and the user goes on "
                           "(default 5): a hung provider does not freeze the load")

    demo = sub.add_parser(
        "demo", help="simulator + reference payment service + a load with an acquirer outage",
        description="Start a simulator and the reference payment service paysandbox.examples, run "
                    "the checkout suite while Stripe goes down for a third of the run, and "
                    "print a summary and the report's path: the service fails over to its "
                    "second acquirer.")
    demo.add_argument("--run-time", default="60s")
    demo.add_argument("--users", type=int, default=10)
    demo.add_argument("--report", metavar="DIR", help="default reports/demo-<time>")


def load_command(args: argparse.Namespace) -> int:
    from paysandbox.scenarios.loader import locate

    argv = [sys.executable, "-m", "paysandbox.loadtests.run", "--suite", args.suite,
            "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
            "--run-time", args.run_time, "--workers", str(args.workers),
            "--seed", str(args.seed), "--request-timeout", str(args.request_timeout),
            "--dispute-timeout", str(args.dispute_timeout)]
    for flag in ("target", "simulator", "shape", "report", "dispute_rate"):
        if getattr(args, flag) not in (None, ""):
            argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    for gate in args.slo:
        argv += ["--slo", gate]
    with contextlib.ExitStack() as stack:
        if args.scenario:  # a file, or a ready-made scenario's name (a file for Locust)
            try:
                found = locate(args.scenario)
            except FileNotFoundError as exc:
                print(f"paysandbox load --scenario: {exc}", file=sys.stderr)
                return 2
            argv += ["--scenario", str(stack.enter_context(resources.as_file(found)))]
        return subprocess.call(argv, env=dict(os.environ))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((DEFAULT_HOST, 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"it exited before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s")


def demo_command(args: argparse.Namespace) -> int:
    import tempfile
    import time

    import yaml

    from paysandbox.scenarios.durations import DurationError, seconds

    template = resources.files("paysandbox.loadtests").joinpath(
        "scenarios/demo-acquirer-outage.yaml")
    try:
        total = seconds(args.run_time)
    except DurationError as exc:
        print(f"paysandbox demo --run-time: {exc}", file=sys.stderr)
        return 2
    doc = yaml.safe_load(template.read_text(encoding="utf-8"))
    for phase in doc.get("phases", []):  # the template is written for 60 s
        for key in ("after", "for"):
            phase[key] = f"{seconds(phase[key]) * total / 60:.3f}s"
    scenario = Path(tempfile.mkdtemp(prefix="paysandbox-demo-")) / "demo.yaml"
    scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    sim_port, svc_port = _free_port(), _free_port()
    sim_url, svc_url = f"http://{DEFAULT_HOST}:{sim_port}", f"http://{DEFAULT_HOST}:{svc_port}"
    env = dict(os.environ)
    report = args.report or f"reports/demo-{time.strftime('%Y%m%d-%H%M%S')}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen([sys.executable, "-m", "paysandbox", "serve", "--port",
                                       str(sim_port), "--log-level", "warning"],
                                      stdout=subprocess.DEVNULL, env=env))
        _wait_for(f"{sim_url}/__admin/health", procs[-1])
        procs.append(subprocess.Popen([sys.executable, "-m", "paysandbox.examples.payment_service",
                                       "--port", str(svc_port), "--simulator", sim_url,
                                       "--breaker-reset", str(max(2.0, total / 12))],
                                      stdout=subprocess.DEVNULL, env=env))
        _wait_for(f"{svc_url}/health", procs[-1])
        print(f"simulator {sim_url}, reference payment service {svc_url}", flush=True)
        code = subprocess.call([sys.executable, "-m", "paysandbox.loadtests.run",
                                "--suite", "checkout",
                                "--target", svc_url, "--simulator", sim_url,
                                "--users", str(args.users), "--spawn-rate", str(args.users),
                                "--run-time", args.run_time, "--scenario", str(scenario),
                                "--report", report, "--slo", "POST /payments:errors<5%"],
                               env=env)
        with contextlib.suppress(OSError):
            import json
            import urllib.request

            with urllib.request.urlopen(f"{svc_url}/stats", timeout=5) as resp:
                stats = json.loads(resp.read())
            for name, breaker in stats["breakers"].items():
                moves = " -> ".join(t["state"] for t in breaker["transitions"]) or "never moved"
                print(f"circuit breaker {name}: {moves}")
        return code
    except RuntimeError as exc:
        print(f"paysandbox demo: a process did not start: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in reversed(procs):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
