"""paysandbox: the command line.

    paysandbox serve                 run the simulator (127.0.0.1:12111)
    paysandbox providers             list the imitated providers and their base URLs
    paysandbox ca path|export        the local CA that `serve --tls` issues its certificate from
    paysandbox validate FILE...      check scenario files, every error with file:line:col
    paysandbox scenarios ACTION ...  load/start/list/unload scenarios in a running simulator
    paysandbox load --suite checkout --target URL ...   a headless Locust run (subprocess)
    paysandbox demo                  simulator + reference service + load with an outage
    paysandbox mcp                   an MCP server (stdio) for coding agents
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
from typing import TYPE_CHECKING, cast

from aiohttp import web

from paysandbox import __version__, contract_report, fleet, loadrun
from paysandbox.ledger import export as ledger_export
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

if TYPE_CHECKING:
    from paysandbox.proxy import ConnectProxy

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
PAYSANDBOX_DRAIN_TIMEOUT, PAYSANDBOX_PUBLIC_URL, PAYSANDBOX_PRICING, PAYSANDBOX_RATES,
PAYSANDBOX_SCENARIOS (paths joined by ':'), PAYSANDBOX_WATCH, PAYSANDBOX_CONTRACTS,
PAYSANDBOX_CHECK_RESPONSES, PAYSANDBOX_STORE, PAYSANDBOX_ALLOWED_HOSTS and
PAYSANDBOX_WEBHOOK_ALLOW (comma-separated),
PAYSANDBOX_KEEP_WEBHOOK_REPLIES, PAYSANDBOX_WORKERS;
HTTPS on the real hostnames: PAYSANDBOX_TLS, PAYSANDBOX_TLS_PORT, PAYSANDBOX_PROXY_PORT,
PAYSANDBOX_CA_DIR;
and for the limits: PAYSANDBOX_RETAIN_PAYMENTS, PAYSANDBOX_MAX_PAYMENTS,
PAYSANDBOX_IDEMPOTENCY_TTL, PAYSANDBOX_IDEMPOTENCY_LEASE,
PAYSANDBOX_RETAIN_IDEMPOTENCY_KEYS, PAYSANDBOX_MAX_NAMESPACES, PAYSANDBOX_JOURNAL_BYTES,
PAYSANDBOX_JOURNAL_BODY_BYTES, PAYSANDBOX_CONTRACT_GROUPS, PAYSANDBOX_DELIVERY_CONCURRENCY,
PAYSANDBOX_DELIVERY_QUEUE, PAYSANDBOX_DELIVERY_LOG, PAYSANDBOX_DELIVERY_LEASE.
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
                    "admin API at /__admin, hosted pages at /__hosted; with --tls, also "
                    "every provider on its real hostnames over HTTPS.")
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
    serve.add_argument("--pricing", metavar="FILE",
                       help="what each provider charges and how it settles, for the ledger "
                            "(GET /__admin/ledger); default: paysandbox/ledger/pricing.yaml")
    serve.add_argument("--rates", metavar="FILE",
                       help="the exchange rates the ledger converts with; default: "
                            "paysandbox/ledger/rates.yaml")
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
    serve.add_argument("--workers", type=int, metavar="N",
                       help="N processes serving one port (SO_REUSEPORT) with one state in "
                            "Redis: --store's, else a private redis-server from PATH, started "
                            "and stopped with them (default 1: this process alone)")
    serve.add_argument("--watch", action="store_true", default=None,
                       help="reload scenario files when they change (a bad edit is reported "
                            "and the running scenarios stay)")
    serve.add_argument("--tls", action="store_true", default=None,
                       help="also serve HTTPS on --tls-port for the providers' real hostnames "
                            "(api.stripe.com, …), with a certificate from the local CA")
    serve.add_argument("--tls-port", type=int, metavar="PORT",
                       help="the HTTPS port of --tls (default 12112; 443 where it may bind)")
    serve.add_argument("--proxy-port", type=int, metavar="PORT",
                       help="also an HTTPS proxy (HTTPS_PROXY=http://127.0.0.1:PORT) that "
                            "tunnels CONNECT to the providers' hostnames into the TLS site "
                            "and refuses every other host (implies --tls)")
    serve.add_argument("--ca-dir", metavar="DIR",
                       help="where the local CA is made once and kept (default "
                            "$XDG_DATA_HOME/paysandbox or ~/.local/share/paysandbox)")
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
    limits.add_argument("--delivery-lease", type=float, metavar="SECONDS",
                        help="with the Redis store, real seconds a process holds a webhook "
                             "delivery without renewing it before another process sends it "
                             "(default 30)")

    validate = sub.add_parser(
        "validate", help="check scenario files and print every error",
        description="Check scenario files against contracts_data/scenario.schema.json and the "
                    "simulator's own rules; print every error as FILE:LINE:COL $.path: "
                    "message. Exit status 1 when any file has an error.")
    validate.add_argument("files", nargs="+", metavar="FILE_OR_NAME",
                          help="scenario files, folders of them, or ready-made names")

    sub.add_parser("providers", help="list the imitated providers and their base URLs")
    ca = sub.add_parser(
        "ca", help="the local CA that `serve --tls` issues its certificate from",
        description="The local certificate authority (made on first use and kept): "
                    "clients trust it through SSL_CERT_FILE, REQUESTS_CA_BUNDLE, "
                    "NODE_EXTRA_CA_CERTS or a JVM truststore.")
    ca.add_argument("action", choices=["path", "export"],
                    help="path: print the CA certificate's path; export: print its PEM")
    ca.add_argument("--ca-dir", metavar="DIR",
                    help="the CA's folder (default PAYSANDBOX_CA_DIR, else "
                         "$XDG_DATA_HOME/paysandbox or ~/.local/share/paysandbox)")
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
    ledger_export.add_commands(sub, lambda p: _connection_options(p, default=None))
    mcp = sub.add_parser(
        "mcp", help="an MCP server (stdio) whose tools drive a running simulator",
        description="Serve the simulator's MCP tools over stdin/stdout for a coding agent: "
                    "they call the admin API of the simulator at --url (the simulator "
                    "also serves them itself over HTTP at /__admin/mcp). Needs the `mcp` "
                    "extra: pip install 'payments-sandbox[mcp]'.")
    _connection_options(mcp, default=None)
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
    from paysandbox.testing.client import AdminClient

    if args.action == "ready":
        from paysandbox.scenarios import ready

        print("\n".join(ready.names()))
        return 0

    def act(client: AdminClient) -> int:
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

    return AdminClient.for_command(args.url, args.admin_token,
                                   f"http://{DEFAULT_HOST}:{DEFAULT_PORT}").command(act)


def ca_command(args: argparse.Namespace) -> int:
    from paysandbox import tls

    folder = args.ca_dir or os.environ.get("PAYSANDBOX_CA_DIR") or None
    try:
        tls.load_or_create_ca(folder)
    except OSError as exc:
        print(f"paysandbox ca: cannot make or read the CA in {tls.ca_dir(folder)}: {exc}; "
              "choose another folder with --ca-dir (or PAYSANDBOX_CA_DIR)", file=sys.stderr)
        return 1
    path = tls.ca_cert_path(folder)
    if args.action == "path":
        print(path)
    else:
        sys.stdout.write(path.read_text(encoding="ascii"))
    return 0


def settings_from(args: argparse.Namespace) -> Settings:
    """Flags over PAYSANDBOX_* variables over defaults, validated once merged."""
    values = env_values()
    for flag in ("host", "port", "clock_scale", "journal_size", "max_body_bytes",
                 "admin_token", "public_url", "pricing", "rates", "drain_timeout",
                 "log_level", "contracts",
                 "check_responses", "store", "workers", "idempotency_ttl",
                 "idempotency_lease", "delivery_lease",
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
    for flag in ("allowed_hosts", "webhook_allow"):
        if getattr(args, flag, None):
            values[flag] = tuple(getattr(args, flag))
    if getattr(args, "keep_webhook_replies", None):
        values["keep_webhook_replies"] = True
    if getattr(args, "tls", None):
        values["tls"] = True
    for flag in ("tls_port", "ca_dir", "proxy_port"):  # HTTPS on the real hostnames
        if getattr(args, flag, None) is not None:
            values[flag] = getattr(args, flag)
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
    """The banner's store line (a fleet's parent writes its own, paysandbox.fleet)."""
    if store == "memory":
        return "memory (this process only; --store redis://… to share it)"
    from paysandbox.store.redis import redacted

    return f"{redacted(store)} (shared with every simulator using it)"


def banner(settings: Settings, port: int, tls_port: int | None = None,
           proxy_port: int | None = None) -> str:
    from paysandbox.webhooks.destinations import display_url

    url = settings.replace(port=port).base_url
    lines = [f"paysandbox {__version__} listening on {url}", "", "providers (give a SDK the "
             "base URL):"]
    for provider in base.load(settings.providers or None):
        lines.append(f"  {provider.title:<14} {url}/{provider.name}{provider.base_url_hint()}")
    lines += ["", f"admin           {url}/__admin/  (health, journal, payments, webhooks, clock, "
              "scenarios, contracts)",
              f"dashboard       {url}/__admin/ui  (in a browser)"]
    if settings.admin_token_generated:
        lines.append(f"admin token     {settings.admin_token}  (made up for this run: binding "
                     "beyond loopback needs one; choose it with --admin-token or "
                     "PAYSANDBOX_ADMIN_TOKEN)")
    elif settings.admin_token:
        lines.append("                (admin token required)")
    lines.append(f"store           {store_description(settings.store)}")
    if tls_port is not None:
        lines += tls_banner(settings, tls_port)
    if proxy_port is not None:
        lines.append(f"  proxy          HTTPS_PROXY=http://{_local(settings.host)}:{proxy_port}"
                     "  (provider hosts only; every other host is refused)")
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


def tls_banner(settings: Settings, tls_port: int) -> list[str]:
    from paysandbox import tls

    providers = base.load(settings.providers or None)
    names = [h for p in providers for h in base.hostnames(p)]
    bind = _local(settings.host)
    lines = ["", f"TLS             https://{bind}:{tls_port} answers the providers' real "
             "hostnames, no prefix:"]
    for p in providers:
        if base.hostnames(p):
            lines.append(f"  {p.title:<14} {', '.join(base.hostnames(p))}")
    lines += [f"  CA             {tls.ca_cert_path(settings.ca_dir)}  (SSL_CERT_FILE, "
              "REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS)",
              f"  hosts entry    {bind} " + " ".join(n for n in names if "*" not in n)]
    if tls_port != 443:
        lines.append("                 (clients use port 443: --tls-port 443, or forward 443 "
                     f"to {tls_port})")
    return lines


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
    worker = fleet.worker_identity()
    if worker is not None:  # which process served a response (README, "Scaling out")
        served_by = f"{worker[0]}:{os.getpid()}"

        async def tag(request: web.Request, response: web.StreamResponse) -> None:
            response.headers[fleet.WORKER_HEADER] = served_by

        app.on_response_prepare.append(tag)
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
    worker = fleet.worker_identity()
    # A fleet's workers all bind the same port; the kernel spreads connections over them.
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, reuse_address=True,
                       reuse_port=worker is not None)
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
    tls_port = proxy = None
    if settings.tls or settings.proxy_port is not None:
        tls_port = await _start_tls(app, runner, settings)
        if tls_port is None:
            await runner.cleanup()
            return 1
    if settings.proxy_port is not None:
        assert tls_port is not None
        proxy = await _start_proxy(app, settings, tls_port)
        if proxy is None:
            await runner.cleanup()
            return 1
    # Handlers first: whoever reads the banner may stop the server at once, and must get
    # the clean shutdown it promises.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    proxy_port = proxy[0].sockets[0].getsockname()[1] if proxy is not None else None
    if worker is None:
        print(banner(settings, port, tls_port, proxy_port), flush=True)
    else:  # the fleet's parent prints the banner once all its workers listen
        print(f"worker {worker[0]}/{worker[1]} (pid {os.getpid()}) listening on port {port}",
              flush=True)
        fleet.announce_ready()
    await stop.wait()
    app[SHUTDOWN].deadline = loop.time() + settings.drain_timeout
    print(f"\nshutting down: finishing requests and draining webhook deliveries (at most "
          f"{settings.drain_timeout:g} s)…", flush=True)
    if proxy is not None:
        proxy[0].close()
        proxy[1].close_tunnels()
    await runner.cleanup()
    report = app[SHUTDOWN_REPORT]
    owed = report.get("pending", 0) + report.get("delivering", 0)
    dropped = report.get("dropped", 0)
    print(f"webhooks: {report.get('delivered', 0)} delivered, {report.get('failed', 0)} failed,"
          f" {owed} still owed (not delivered)"
          + (f"; {dropped} of the failed were dropped with the queue full "
             f"(--delivery-queue {settings.delivery_queue})" if dropped else ""), flush=True)
    return 0


async def _start_tls(app: web.Application, runner: web.AppRunner,
                     settings: Settings) -> int | None:
    """The HTTPS site of --tls on the same application; its port, or None when it cannot
    start (said on stderr)."""
    from paysandbox import tls
    from paysandbox.app import PROVIDERS

    try:
        ca = tls.load_or_create_ca(settings.ca_dir)
    except OSError as exc:
        print(f"paysandbox: cannot make or read the local CA in {tls.ca_dir(settings.ca_dir)}:"
              f" {exc}; choose another folder with --ca-dir (or PAYSANDBOX_CA_DIR)",
              file=sys.stderr)
        return None
    names = [h for p in app[PROVIDERS].values() for h in base.hostnames(p)]
    before = len(runner.addresses)
    site = web.TCPSite(runner, settings.host, settings.tls_port,
                       ssl_context=tls.server_context(ca, names), backlog=1024,
                       reuse_address=True, reuse_port=fleet.worker_identity() is not None)
    try:
        await site.start()
    except OSError as exc:
        reason = ("is in use" if exc.errno == errno.EADDRINUSE
                  else f"cannot be bound ({exc.strerror or exc})")
        print(f"paysandbox: TLS port {settings.tls_port} on {settings.host} {reason}; choose "
              "another with --tls-port (or PAYSANDBOX_TLS_PORT; 0 picks a free one)",
              file=sys.stderr)
        return None
    return int(runner.addresses[before][1])


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


async def _start_proxy(app: web.Application, settings: Settings,
                       tls_port: int) -> tuple[asyncio.Server, ConnectProxy] | None:
    from paysandbox.app import PROVIDERS
    from paysandbox.proxy import MAX_HEAD_BYTES, ConnectProxy

    names = [h for p in app[PROVIDERS].values() for h in base.hostnames(p)]
    proxy = ConnectProxy(names, (_local(settings.host), tls_port))
    try:
        server = await asyncio.start_server(proxy.handle, settings.host, settings.proxy_port,
                                            limit=MAX_HEAD_BYTES, backlog=256,
                                            reuse_port=fleet.worker_identity() is not None)
    except OSError as exc:
        reason = ("is in use" if exc.errno == errno.EADDRINUSE
                  else f"cannot be bound ({exc.strerror or exc})")
        print(f"paysandbox: proxy port {settings.proxy_port} on {settings.host} {reason}; "
              "choose another with --proxy-port (or PAYSANDBOX_PROXY_PORT; 0 picks a free "
              "one)", file=sys.stderr)
        return None
    return server, proxy


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
    if args.command == "ca":
        return ca_command(args)
    if args.command == "ledger":
        return ledger_export.command(args, f"http://{DEFAULT_HOST}:{DEFAULT_PORT}")
    if args.command == "mcp":
        try:
            from paysandbox import mcp_server
        except ImportError as exc:
            print(f"paysandbox mcp needs the `mcp` extra ({exc.name} is missing): pip "
                  "install 'payments-sandbox[mcp]'", file=sys.stderr)
            return 2
        return mcp_server.command(args)
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
    if settings.workers > 1 and fleet.worker_identity() is None:
        if settings.store == "memory" and (args.store or os.environ.get("PAYSANDBOX_STORE")):
            print(f"paysandbox: --workers {settings.workers} cannot share --store memory (each "
                  "process would have its own payments): leave --store out for a private "
                  "redis-server, or give a Redis URL", file=sys.stderr)
            return 2
        return asyncio.run(fleet.run(sys.argv[1:] if argv is None else list(argv), settings,
                                     private_redis=settings.store == "memory"))
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        return asyncio.run(serve(settings))
    return uvloop.run(serve(settings))


if __name__ == "__main__":
    raise SystemExit(main())
