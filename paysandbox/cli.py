"""paysandbox: the command line.

    paysandbox serve                 run the simulator (127.0.0.1:12111)
    paysandbox providers             list the imitated providers and their base URLs
    paysandbox validate FILE...      check scenario files, every error with file:line:col
    paysandbox scenarios ACTION ...  load/start/list/unload scenarios in a running simulator
    paysandbox load --suite checkout --target URL ...   a headless Locust run (subprocess)
    paysandbox demo                  simulator + reference service + load with an outage
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import cast

from aiohttp import web

from paysandbox import __version__, contract_report
from paysandbox.providers import base
from paysandbox.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    LIMITS,
    Settings,
    SettingsError,
    WebhookTarget,
    default_secret,
    env_values,
    parse_pair,
)

EPILOG = """\
examples:
  paysandbox serve
  paysandbox serve --port 12111 --webhook stripe=http://127.0.0.1:8000/webhooks/stripe
  PAYSANDBOX_WEBHOOK_STRIPE=http://127.0.0.1:8000/hook paysandbox serve --clock-scale 60

Point a Stripe SDK at it by changing only the base URL:
  stripe.StripeClient("sk_test_123", base_addresses={"api": "http://127.0.0.1:12111/stripe"})

Every flag has a PAYSANDBOX_* environment variable (flags win): PAYSANDBOX_HOST,
PAYSANDBOX_PORT, PAYSANDBOX_PROVIDERS (comma-separated), PAYSANDBOX_WEBHOOK_<PROVIDER>,
PAYSANDBOX_WEBHOOK_SECRET_<PROVIDER>, PAYSANDBOX_CLOCK_SCALE, PAYSANDBOX_JOURNAL_SIZE,
PAYSANDBOX_MAX_BODY_BYTES, PAYSANDBOX_ADMIN_TOKEN, PAYSANDBOX_LOG_LEVEL,
PAYSANDBOX_DRAIN_TIMEOUT, PAYSANDBOX_PUBLIC_URL, PAYSANDBOX_SCENARIOS (paths joined by
':'), PAYSANDBOX_WATCH, PAYSANDBOX_CONTRACTS, PAYSANDBOX_CHECK_RESPONSES, PAYSANDBOX_STORE,
and for the limits: PAYSANDBOX_RETAIN_PAYMENTS, PAYSANDBOX_MAX_PAYMENTS,
PAYSANDBOX_IDEMPOTENCY_TTL, PAYSANDBOX_IDEMPOTENCY_LEASE,
PAYSANDBOX_RETAIN_IDEMPOTENCY_KEYS, PAYSANDBOX_MAX_NAMESPACES, PAYSANDBOX_JOURNAL_BYTES,
PAYSANDBOX_JOURNAL_BODY_BYTES, PAYSANDBOX_CONTRACT_GROUPS, PAYSANDBOX_DELIVERY_CONCURRENCY,
PAYSANDBOX_DELIVERY_QUEUE, PAYSANDBOX_DELIVERY_LOG.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paysandbox",
        description="An offline stand-in for payment providers on their real wire APIs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"paysandbox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the simulator", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the simulator: every provider under its prefix on one port, the "
                    "admin API at /__admin, hosted pages at /__hosted.")
    serve.add_argument("--host", help=f"address to bind (default {DEFAULT_HOST}; anything "
                                      "beyond loopback needs --admin-token)")
    serve.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    serve.add_argument("--provider", action="append", metavar="NAME", dest="providers",
                       help="mount only this provider (repeatable; default: all installed)")
    serve.add_argument("--webhook", action="append", metavar="PROVIDER=URL", default=[],
                       help="send PROVIDER's webhooks to URL, for providers whose real "
                            "webhooks are set up in a dashboard (repeatable)")
    serve.add_argument("--webhook-secret", action="append", metavar="PROVIDER=SECRET",
                       default=[], help="signing secret for PROVIDER's webhooks (default: a "
                                        "stable secret printed at start-up)")
    serve.add_argument("--clock-scale", type=float, metavar="X",
                       help="virtual seconds per real second (3600: an hour of webhook "
                            "retries a second)")
    serve.add_argument("--journal-size", type=int, metavar="N",
                       help="requests kept in the journal (default 10000; 0 turns it off)")
    serve.add_argument("--max-body-bytes", type=int, metavar="N",
                       help="largest request body accepted (default 1 MiB)")
    serve.add_argument("--admin-token", metavar="TOKEN",
                       help="require 'Authorization: Bearer TOKEN' on /__admin")
    serve.add_argument("--public-url", metavar="URL",
                       help="the URL clients use to reach this server, when not the bind address")
    serve.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                       help="on shutdown, how long to wait for due webhook deliveries "
                            "(default 5)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--scenario", action="append", metavar="FILE", dest="scenarios",
                       help="load a scenario file (repeatable; see scenarios/ready/README.md)")
    serve.add_argument("--contracts", choices=["strict", "report", "off"],
                       help="strict (default): a request that breaks its contract gets the "
                            "provider's 4xx; report: it is served and the violation recorded "
                            "(see `paysandbox contracts`); off: no checks (capacity runs)")
    serve.add_argument("--check-responses", action="store_true", default=None,
                       help="test mode: check every response and webhook the simulator emits "
                            "against its contract and log each mismatch")
    serve.add_argument("--store", metavar="URL",
                       help="where state lives: memory (default, this process only) or a "
                            "Redis URL (redis://127.0.0.1:6379/0) shared by several "
                            "simulators and kept across restarts")
    serve.add_argument("--watch", action="store_true", default=None,
                       help="reload scenario files when they change (a bad edit is reported "
                            "and the running scenarios stay)")
    limits = serve.add_argument_group(
        "limits and retention", "bounds that keep memory flat however long it runs "
        "(see the README's \"Limits and retention\"); raise any of them")
    limits.add_argument("--retain-payments", type=int, metavar="N",
                        help="payments kept per namespace, newest first (default 10000); an "
                             "older id answers the provider's 404, saying it was evicted")
    limits.add_argument("--max-payments", type=int, metavar="N",
                        help="payments kept in all namespaces together: each keeps at most "
                             "this divided by the number of namespaces, and as many "
                             "idempotency keys, events and objects (default 50000)")
    limits.add_argument("--idempotency-ttl", type=float, metavar="SECONDS",
                        help="virtual seconds an idempotency key is remembered (default "
                             "86400, as Stripe's 24 hours)")
    limits.add_argument("--idempotency-lease", type=float, metavar="SECONDS",
                        help="real seconds a request holds the idempotency key it claimed; "
                             "a claim left unfinished (a crash, a store failure) frees the "
                             "key after it (default 60)")
    limits.add_argument("--retain-idempotency-keys", type=int, metavar="N",
                        help="idempotency keys kept per namespace, newest first (default "
                             "10000)")
    limits.add_argument("--max-namespaces", type=int, metavar="N",
                        help="namespaces (API keys, merchant accounts) kept; the least "
                             "recently used is forgotten beyond it (default 1000)")
    limits.add_argument("--journal-bytes", type=int, metavar="N",
                        help="bytes of request and response bodies the journal keeps, "
                             "oldest entries dropped first (default 64 MiB)")
    limits.add_argument("--journal-body-bytes", type=int, metavar="N",
                        help="each journaled body is cut to this many bytes, with a marker "
                             "(default 16 KiB)")
    limits.add_argument("--contract-groups", type=int, metavar="N",
                        help="distinct groups in the contract report; further violations "
                             "are counted in one overflow group (default 1000)")
    limits.add_argument("--delivery-concurrency", type=int, metavar="N",
                        help="webhook attempts at once per receiving host (default 64)")
    limits.add_argument("--delivery-queue", type=int, metavar="N",
                        help="webhook deliveries owed at once; beyond it the oldest fails as "
                             "'dropped: queue full' (default 10000)")
    limits.add_argument("--delivery-log", type=int, metavar="N",
                        help="webhook delivery records the admin API lists (default 10000)")

    validate = sub.add_parser(
        "validate", help="check scenario files and print every error",
        description="Check scenario files against contracts_data/scenario.schema.json and the "
                    "simulator's own rules; print every error as FILE:LINE:COL $.path: "
                    "message. Exit status 1 when any file has an error.")
    validate.add_argument("files", nargs="+", metavar="FILE")

    sub.add_parser("providers", help="list the imitated providers and their base URLs")
    contract_report.add_command(sub)

    scen = sub.add_parser(
        "scenarios", help="load, start, list or unload scenarios in a running simulator",
        description="Talk to a running simulator's /__admin/scenarios.",
        epilog="examples:\n  paysandbox scenarios load outage-timeline\n"
               "  paysandbox scenarios start outage-timeline\n  paysandbox scenarios list",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    scen.add_argument("action", choices=["list", "load", "start", "unload"])
    scen.add_argument("targets", nargs="*", metavar="FILE_OR_NAME",
                      help="files for load; scenario names for start and unload")
    scen.add_argument("--url", default=None,
                      help="the simulator's base URL (default http://127.0.0.1:12111 or "
                           "PAYSANDBOX_URL)")
    scen.add_argument("--admin-token", default=None, help="admin token, if the server has one")
    add_load_commands(sub)
    return parser


def add_load_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`load` and `demo`: Locust runs in a subprocess (gevent never shares a process with
    the simulator's asyncio); see paysandbox/loadtests/README.md."""
    load = sub.add_parser(
        "load", help="run a Locust suite headless, with SLO gates and a report",
        description="Run the checkout suite (a payment service's API) or the providers "
                    "suite (the provider APIs) headless in a Locust subprocess; exit 1 when "
                    "an SLO gate is breached.",
        epilog="example:\n  paysandbox load --suite checkout --target http://127.0.0.1:8000 "
               "--users 20 --spawn-rate 5 --run-time 60s \\\n"
               "      --scenario acquirer-brownout --slo 'p95<300ms' "
               "--slo 'errors<1%' --report reports/run1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    load.add_argument("--suite", choices=["checkout", "providers"], default="checkout")
    load.add_argument("--target", help="the system under test's base URL (providers suite: "
                                       "default the simulator)")
    load.add_argument("--simulator", help="the simulator's base URL (default "
                                          "http://127.0.0.1:12111 or PAYSANDBOX_URL)")
    load.add_argument("--users", type=int, default=10)
    load.add_argument("--spawn-rate", type=float, default=5)
    load.add_argument("--run-time", default="60s")
    load.add_argument("--scenario", metavar="FILE",
                      help="load it into the simulator and start its phases with the load")
    load.add_argument("--shape", choices=["ramp", "step", "spike", "soak", "scenario"])
    load.add_argument("--slo", action="append", default=[], metavar="GATE",
                      help="'p95<300ms', 'errors<1%%', 'POST /payments:p99<1s' (repeatable)")
    load.add_argument("--workers", type=int, default=0,
                      help="Locust worker processes on this host")
    load.add_argument("--report", metavar="DIR", help="default reports/<suite>-<time>")
    load.add_argument("--seed", type=int, default=1)

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
    argv = [sys.executable, "-m", "paysandbox.loadtests.run", "--suite", args.suite,
            "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
            "--run-time", args.run_time, "--workers", str(args.workers),
            "--seed", str(args.seed)]
    for flag in ("target", "simulator", "scenario", "shape", "report"):
        if getattr(args, flag):
            argv += [f"--{flag}", str(getattr(args, flag))]
    for gate in args.slo:
        argv += ["--slo", gate]
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


def scenarios_command(args: argparse.Namespace) -> int:
    from paysandbox.testing.client import AdminClient, AdminError

    url = args.url or os.environ.get("PAYSANDBOX_URL") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    client = AdminClient(url, token=args.admin_token or os.environ.get("PAYSANDBOX_ADMIN_TOKEN"))
    try:
        if args.action == "list":
            for s in client.scenarios():
                state = f"started {s['elapsed_s']} s ago" if s["started"] else "not started"
                active = [p["name"] for p in s["phases"] if p["active"]]
                print(f"{s['name']:<24} {state}; active phases: {', '.join(active) or 'none'}")
                for rule in [*s["rules"], *(r for p in s["phases"] for r in p["rules"])]:
                    print(f"  {rule['name']:<30} matched {rule['matched']:>6}  "
                          f"applied {rule['applied']:>6}")
            return 0
        if not args.targets:
            print(f"paysandbox scenarios {args.action}: name at least one "
                  f"{'file' if args.action == 'load' else 'scenario'}", file=sys.stderr)
            return 2
        for target in args.targets:
            if args.action == "load":
                print(f"loaded {client.use_scenario(Path(target))} from {target}")
            elif args.action == "start":
                client.start_scenario(target)
                print(f"started {target}")
            else:
                client.call("DELETE", f"/scenarios/{target}")
                print(f"unloaded {target}")
        return 0
    except AdminError as exc:
        print(f"paysandbox: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"paysandbox: cannot reach the simulator at {url}: {exc}", file=sys.stderr)
        return 1


def settings_from(args: argparse.Namespace) -> Settings:
    """Flags over PAYSANDBOX_* variables over defaults, validated once merged."""
    values = env_values()
    for flag in ("host", "port", "clock_scale", "journal_size", "max_body_bytes",
                 "admin_token", "public_url", "drain_timeout", "log_level", "contracts",
                 "check_responses", "store", "idempotency_ttl", "idempotency_lease",
                 *LIMITS):
        value = getattr(args, flag, None)
        if value is not None:
            values[flag] = value
    if getattr(args, "providers", None):
        values["providers"] = tuple(p.lower() for p in args.providers)
    if getattr(args, "scenarios", None):
        values["scenarios"] = tuple(args.scenarios)
    if getattr(args, "watch", None):
        values["watch"] = True
    secrets = dict(parse_pair(s, "--webhook-secret") for s in args.webhook_secret)
    hooks = dict(cast("Mapping[str, WebhookTarget]", values.get("webhooks") or {}))
    for text in args.webhook:
        provider, url = parse_pair(text, "--webhook")
        known = hooks.get(provider)
        secret = secrets.pop(provider, known.secret if known else default_secret(provider))
        hooks[provider] = WebhookTarget(url, secret)
    for provider, secret in secrets.items():
        if provider not in hooks:
            raise SettingsError(f"--webhook-secret {provider}=… has no --webhook {provider}=URL")
        hooks[provider] = WebhookTarget(hooks[provider].url, secret)
    values["webhooks"] = hooks
    return Settings(**values)  # type: ignore[arg-type]


def store_description(store: str) -> str:
    if store == "memory":
        return "memory (this process only; --store redis://… to share it)"
    from paysandbox.store.redis import redacted

    return f"{redacted(store)} (shared with every simulator using it)"


def banner(settings: Settings, port: int) -> str:
    url = settings.replace(port=port).base_url
    lines = [f"paysandbox {__version__} listening on {url}", "", "providers (give a SDK the "
             "base URL):"]
    for provider in base.load(settings.providers or None):
        lines.append(f"  {provider.title:<14} {url}/{provider.name}{provider.base_url_hint()}")
    lines += ["", f"admin           {url}/__admin/  (health, journal, payments, webhooks, clock, "
              "scenarios, contracts)"]
    if settings.admin_token:
        lines.append("                (admin token required)")
    lines.append(f"store           {store_description(settings.store)}")
    lines.append("")
    lines.append("webhooks:")
    if settings.webhooks:
        for name, target in sorted(settings.webhooks.items()):
            lines.append(f"  {name:<14} -> {target.url}  (secret {target.secret})")
    else:
        lines.append("  none configured: use --webhook PROVIDER=URL, PUT /__admin/webhooks/"
                     "{provider}, or the provider's own API (Stripe: POST /v1/webhook_endpoints)")
    if settings.scenarios:
        lines += ["", "scenarios" + (" (watching for changes):" if settings.watch else ":")]
        lines += [f"  {path}" for path in settings.scenarios]
    lines.append("")
    lines.append("Ctrl-C stops it; due webhook deliveries are drained first.")
    return "\n".join(lines)


async def serve(settings: Settings) -> int:
    from paysandbox.app import create_app
    from paysandbox.collector import long_lived_heap
    from paysandbox.scenarios.loader import ScenarioError
    from paysandbox.store.base import StoreUnavailable

    try:
        app = create_app(settings)
    except ScenarioError as exc:
        print("paysandbox: the scenario files have errors; nothing was started:",
              file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"paysandbox: {exc}", file=sys.stderr)
        return 1
    with long_lived_heap():
        return await _run(app, settings)


async def _run(app: web.Application, settings: Settings) -> int:
    from paysandbox.app import SHUTDOWN, SHUTDOWN_REPORT
    from paysandbox.store.base import StoreUnavailable

    # In-flight requests get at most the drain timeout to finish; the webhook drain gets
    # what is left of it (app.Shutdown), so the whole shutdown fits in --drain-timeout.
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=settings.drain_timeout)
    try:
        await runner.setup()
    except StoreUnavailable as exc:
        print(f"paysandbox: {exc}", file=sys.stderr)
        return 1
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port
    # Handlers first: whoever reads the banner may stop the server at once, and must get
    # the clean shutdown it promises.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(banner(settings, port), flush=True)
    await stop.wait()
    app[SHUTDOWN].deadline = loop.time() + settings.drain_timeout
    print(f"\nshutting down: finishing requests and draining webhook deliveries (at most "
          f"{settings.drain_timeout:g} s)…", flush=True)
    await runner.cleanup()
    report = app[SHUTDOWN_REPORT]
    owed = report.get("pending", 0) + report.get("delivering", 0)
    dropped = report.get("dropped", 0)
    print(f"webhooks: {report.get('delivered', 0)} delivered, {report.get('failed', 0)} failed,"
          f" {owed} still owed (not delivered)"
          + (f"; {dropped} of the failed were dropped with the queue full "
             f"(--delivery-queue {settings.delivery_queue})" if dropped else ""), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "scenarios":
        return scenarios_command(args)
    if args.command == "load":
        return load_command(args)
    if args.command == "demo":
        return demo_command(args)
    if args.command == "contracts":
        return contract_report.command(args)
    if args.command == "validate":
        from paysandbox.scenarios.validate import main as validate_main
        return validate_main(args.files)
    try:
        if args.command == "providers":
            settings = Settings.from_env()
            for p in base.load(settings.providers or None):
                print(f"{p.name:<12} {p.title:<14} {settings.base_url}/{p.name}"
                      f"{p.base_url_hint()}")
            return 0
        settings = settings_from(args)
    except (SettingsError, ValueError) as exc:
        print(f"paysandbox: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        return asyncio.run(serve(settings))
    return uvloop.run(serve(settings))


if __name__ == "__main__":
    raise SystemExit(main())
