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
import errno
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import cast

from aiohttp import web

from paysandbox import __version__, contract_report, loadrun
from paysandbox.providers import base
from paysandbox.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
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
PAYSANDBOX_ALLOWED_HOSTS and PAYSANDBOX_WEBHOOK_ALLOW (comma-separated),
PAYSANDBOX_KEEP_WEBHOOK_REPLIES.
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
                       help="require 'Authorization: Bearer TOKEN' on /__admin (beyond "
                            "loopback one is required: without it a fresh one is made up "
                            "and printed at start-up)")
    serve.add_argument("--allowed-host", action="append", metavar="HOST", dest="allowed_hosts",
                       help="a Host name the admin API answers besides loopback names and "
                            "addresses and the --public-url host (repeatable)")
    serve.add_argument("--webhook-allow", action="append", metavar="CIDR|HOST",
                       dest="webhook_allow",
                       help="let webhooks go to this range or host too (repeatable; default: "
                            "loopback, private ranges and single-label names only; never "
                            "link-local such as 169.254.169.254)")
    serve.add_argument("--keep-webhook-replies", action="store_true", default=None,
                       help="keep the first 200 bytes of receivers' replies in the delivery "
                            "log (default: status and size only)")
    serve.add_argument("--public-url", metavar="URL",
                       help="the URL clients use to reach this server, when not the bind address")
    serve.add_argument("--drain-timeout", type=float, metavar="SECONDS",
                       help="on shutdown, how long to wait for due webhook deliveries "
                            "(default 5)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--scenario", action="append", metavar="FILE_OR_NAME", dest="scenarios",
                       help="load a scenario file or a ready-made scenario by name "
                            "(repeatable; `paysandbox scenarios ready` lists the names)")
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

    validate = sub.add_parser(
        "validate", help="check scenario files and print every error",
        description="Check scenario files against contracts_data/scenario.schema.json and the "
                    "simulator's own rules; print every error as FILE:LINE:COL $.path: "
                    "message. Exit status 1 when any file has an error.")
    validate.add_argument("files", nargs="+", metavar="FILE_OR_NAME",
                          help="scenario files, folders of them, or ready-made names")

    sub.add_parser("providers", help="list the imitated providers and their base URLs")
    contract_report.add_command(sub)

    scen = sub.add_parser(
        "scenarios", help="load, start, list or unload scenarios in a running simulator",
        description="Talk to a running simulator's /__admin/scenarios. A scenario is a file "
                    "or the name of a ready-made one (`paysandbox scenarios ready` lists them).",
        epilog="examples:\n  paysandbox scenarios load outage-timeline\n"
               "  paysandbox scenarios load --url http://127.0.0.1:12111 my-scenario.yaml\n"
               "  paysandbox scenarios start outage-timeline\n  paysandbox scenarios list",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _connection_options(scen, default=None)
    actions = scen.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text, metavar in (
            ("list", "what is loaded, its phases and per-rule hit counters", None),
            ("load", "load scenario files or ready-made scenarios by name", "FILE_OR_NAME"),
            ("start", "start the phases of `start: manual` scenarios", "NAME"),
            ("unload", "unload scenarios", "NAME")):
        parser_ = actions.add_parser(action, help=help_text, description=help_text)
        _connection_options(parser_, default=argparse.SUPPRESS)
        if metavar:
            parser_.add_argument("targets", nargs="+", metavar=metavar)
    actions.add_parser("ready", help="the ready-made scenarios shipped with the package",
                       description="List the ready-made scenarios, usable by name wherever "
                                   "a scenario file is.")
    loadrun.add_commands(sub)
    return parser


def _connection_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """--url and --admin-token, accepted before and after the action (the action's own
    copy defaults to SUPPRESS, so it never overwrites a value given before it)."""
    parser.add_argument("--url", default=default,
                        help="the simulator's base URL (default http://127.0.0.1:12111 or "
                             "PAYSANDBOX_URL)")
    parser.add_argument("--admin-token", default=default,
                        help="admin token, if the server has one (or PAYSANDBOX_ADMIN_TOKEN)")


def scenarios_command(args: argparse.Namespace) -> int:
    from paysandbox.scenarios.loader import locate
    from paysandbox.testing.client import AdminClient, AdminError

    if args.action == "ready":
        from paysandbox.scenarios import ready

        print("\n".join(ready.names()))
        return 0
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
        for target in args.targets:
            if args.action == "load":
                try:
                    text = locate(target).read_text(encoding="utf-8")
                except FileNotFoundError as exc:
                    print(f"paysandbox scenarios load: {exc}", file=sys.stderr)
                    return 2
                print(f"loaded {client.use_scenario(text)} from {target}")
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
                 "check_responses", "store"):
        value = getattr(args, flag, None)
        if value is not None:
            values[flag] = value
    if getattr(args, "providers", None):
        values["providers"] = tuple(p.lower() for p in args.providers)
    if getattr(args, "scenarios", None):
        values["scenarios"] = tuple(args.scenarios)
    if getattr(args, "watch", None):
        values["watch"] = True
    for flag in ("allowed_hosts", "webhook_allow"):
        if getattr(args, flag, None):
            values[flag] = tuple(getattr(args, flag))
    if getattr(args, "keep_webhook_replies", None):
        values["keep_webhook_replies"] = True
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
    from paysandbox.webhooks.destinations import display_url

    url = settings.replace(port=port).base_url
    lines = [f"paysandbox {__version__} listening on {url}", "", "providers (give a SDK the "
             "base URL):"]
    for provider in base.load(settings.providers or None):
        lines.append(f"  {provider.title:<14} {url}/{provider.name}{provider.base_url_hint()}")
    lines += ["", f"admin           {url}/__admin/  (health, journal, payments, webhooks, clock, "
              "scenarios, contracts)"]
    if settings.admin_token_generated:
        lines.append(f"admin token     {settings.admin_token}  (made up for this run: binding "
                     "beyond loopback needs one; choose it with --admin-token or "
                     "PAYSANDBOX_ADMIN_TOKEN)")
    elif settings.admin_token:
        lines.append("                (admin token required)")
    lines.append(f"store           {store_description(settings.store)}")
    lines.append("")
    lines.append("webhooks:")
    if settings.webhooks:
        for name, target in sorted(settings.webhooks.items()):
            lines.append(f"  {name:<14} -> {display_url(target.url)}  "
                         f"(secret {target.secret})")
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
    from paysandbox.app import SHUTDOWN_REPORT
    from paysandbox.store.base import StoreUnavailable

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    try:
        await runner.setup()
    except StoreUnavailable as exc:
        print(f"paysandbox: {exc}", file=sys.stderr)
        return 1
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = ("is in use" if exc.errno == errno.EADDRINUSE
                  else f"cannot be bound ({exc.strerror or exc})")
        print(f"paysandbox: port {settings.port} on {settings.host} {reason}; choose another "
              "with --port (or PAYSANDBOX_PORT; 0 picks a free one)", file=sys.stderr)
        return 1
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
    print("\nshutting down: draining webhook deliveries…", flush=True)
    await runner.cleanup()
    report = app[SHUTDOWN_REPORT]
    owed = report.get("pending", 0) + report.get("delivering", 0)
    print(f"webhooks: {report.get('delivered', 0)} delivered, {report.get('failed', 0)} failed,"
          f" {owed} still owed (not delivered)", flush=True)
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
        return loadrun.load_command(args)
    if args.command == "demo":
        return loadrun.demo_command(args)
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
