"""create_app(settings): one aiohttp application, every provider under its prefix."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from paysandbox import contracts, mcp_http, metrics
from paysandbox.admin import admin_app
from paysandbox.admin.access import AdminAccess
from paysandbox.contract_report import ContractLog
from paysandbox.core.clock import VirtualClock
from paysandbox.engine import Engine, ScenarioEffects
from paysandbox.hosted import hosted_app
from paysandbox.journal import Journal
from paysandbox.ledger import load_books
from paysandbox.providers import base
from paysandbox.scenarios.loader import ScenarioError, load_file, locate
from paysandbox.scenarios.runtime import ScenarioSet
from paysandbox.settings import Settings
from paysandbox.shared import Control, LocalControl, is_fleet_store
from paysandbox.store.base import Store, StoreUnavailable
from paysandbox.store.memory import MemoryStore
from paysandbox.webhooks.destinations import Destinations
from paysandbox.webhooks.dispatcher import Dispatcher, Endpoint, Event

log = logging.getLogger("simulator")

ENGINE = web.AppKey("engine", Engine)
SETTINGS = web.AppKey("settings", Settings)
JOURNAL = web.AppKey("journal", Journal)
PROVIDERS = web.AppKey("providers", dict)
SHUTDOWN_REPORT = web.AppKey("shutdown_report", dict)
SCENARIOS = web.AppKey("scenarios", ScenarioSet)
CONTRACT_LOG = web.AppKey("contract_log", ContractLog)


@dataclass(slots=True)
class Shutdown:
    """Set by whoever stops the server (`paysandbox serve` on SIGTERM): the event loop
    time by which the webhook drain must end, so in-flight requests and the drain share
    one `--drain-timeout`."""

    deadline: float | None = None


SHUTDOWN = web.AppKey("shutdown", Shutdown)


async def watch_files(scenarios: ScenarioSet, paths: tuple[str, ...],
                      interval: float = 0.5, *, control: Control | None = None) -> None:
    """Reload a scenario file when it changes. A bad edit is reported and changes
    nothing: the scenarios that were running keep running. In a fleet (`control`), the
    new text goes to every process, unless another process put the same text first."""
    seen = {p: _mtime(p) for p in paths}
    while True:
        await asyncio.sleep(interval)
        for path in paths:
            mtime = _mtime(path)
            if mtime == seen[path]:
                continue
            seen[path] = mtime
            try:
                doc = load_file(path)
            except ScenarioError as exc:
                log.error("not reloading %s; keeping the running scenarios:\n%s", path,
                          "\n".join(str(p) for p in exc.problems))
                continue
            except OSError as exc:
                log.error("not reloading %s: %s", path, exc)
                continue
            if control is None:
                scenarios.put(doc, source=path)
            else:
                await control.put_scenario(doc, source=path, text=_source_text(path),
                                           if_changed=True)
            log.info("reloaded scenario %s from %s", doc["name"], path)


def _source_text(path: str) -> str:
    """A scenario file's text, as a fleet stores it (load_file read and checked it)."""
    with locate(path).open("rb") as fh:
        return str(fh.read().decode("utf-8"))


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime_ns / 1e9
    except OSError:
        return -1.0


class _MalformedWithoutTraceback(logging.Filter):
    """aiohttp logs a request it cannot parse (a repeated Host, a header line over 8 KiB)
    with a traceback, after answering it 400: bad input is not a server error, so it is
    one line at INFO instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= (exc.code or 0) < 500:
            record.msg = "refused a malformed request with %s: %s"
            record.args = (exc.code, " ".join(str(exc.message).split()))
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _quiet_malformed_requests() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedWithoutTraceback) for f in server_log.filters):
        server_log.addFilter(_MalformedWithoutTraceback())


def _check_webhook(contract_log: ContractLog, event: Event) -> None:
    """Test mode: an event whose payload breaks its contract is logged and counted."""
    if contracts.manifest(event.provider) is None:
        return
    problems = contracts.webhook_problems(event.provider, event.type, event.body)
    if problems:
        log.error("webhook %s (%s) breaks its contract: %s", event.type, event.id,
                  "; ".join(f"{f.field} {f.violation.message}" for f in problems))
        contract_log.add(problems, operation=f"webhook {event.type}",
                         example={"event_id": event.id})


def open_store(settings: Settings) -> tuple[Store, Callable[[], Awaitable[None]] | None]:
    """The configured backend and, for a remote one, the check to run at start-up."""
    if settings.store == "memory":
        return MemoryStore(retain_payments=settings.retain_payments,
                           max_idempotency_keys=settings.retain_idempotency_keys,
                           idempotency_ttl=settings.idempotency_ttl,
                           lease=settings.idempotency_lease,
                           max_namespaces=settings.max_namespaces,
                           max_payments=settings.max_payments), None
    try:
        from paysandbox.store.redis import RedisStore
    except ImportError:
        raise StoreUnavailable("the Redis store needs the `redis` package: pip install "
                               "'payments-sandbox[redis]'") from None
    remote = RedisStore(settings.store, retain_payments=settings.retain_payments,
                        max_idempotency_keys=settings.retain_idempotency_keys,
                        idempotency_ttl=settings.idempotency_ttl,
                        lease=settings.idempotency_lease)
    return remote, remote.ping


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    _quiet_malformed_requests()
    clock = VirtualClock(scale=settings.clock_scale)
    store, check_store = open_store(settings)
    sending: dict[str, Any] = {
        "destinations": Destinations(settings.webhook_allow),
        "keep_replies": settings.keep_webhook_replies,
        "concurrency": settings.delivery_concurrency, "max_owed": settings.delivery_queue,
        "log_size": settings.delivery_log}
    dispatcher: Dispatcher
    outbox = None
    if settings.store != "memory":  # the Redis store: the fleet shares one outbox
        from paysandbox.store.redis import RedisStore
        from paysandbox.webhooks.outbox import RedisDispatcher
        assert isinstance(store, RedisStore)
        dispatcher = outbox = RedisDispatcher(store, clock, lease=settings.delivery_lease,
                                              **sending)
    else:
        dispatcher = Dispatcher(clock, **sending)
    for name, target in settings.webhooks.items():
        dispatcher.configure(Endpoint(url=target.url, secret=target.secret, provider=name))
    dispatcher.remember_configuration()
    # A fleet measures phases on its shared virtual clock, so that they start together.
    fleet_mode = is_fleet_store(store)
    scenarios = ScenarioSet(clock=clock.now) if fleet_mode else ScenarioSet()
    startup = []
    for path in settings.scenarios:  # raises ScenarioError with every problem
        doc = load_file(path)
        if fleet_mode:  # put in when the fleet is joined (paysandbox.shared)
            startup.append((doc, path, _source_text(path)))
        else:
            scenarios.put(doc, source=path)
    raw_store = store
    measured = metrics.Metrics(scenarios, dispatcher, owed_limit=settings.delivery_queue)
    store = metrics.timed_store(store, measured)
    engine = Engine(store=store, clock=clock, dispatcher=dispatcher,
                    scenarios=ScenarioEffects(scenarios),
                    books=load_books(Path(settings.pricing) if settings.pricing else None,
                                     Path(settings.rates) if settings.rates else None))
    journal = Journal(settings.journal_size, max_bytes=settings.journal_bytes,
                      body_bytes=settings.journal_body_bytes)
    providers = {p.name: p for p in base.load(settings.providers or None)}
    fleet = None
    if fleet_mode:
        from paysandbox.shared.fleet import RedisFleet
        fleet = RedisFleet(raw_store, clock=clock, scenarios=scenarios, journal=journal,
                           engine=engine, providers=providers,
                           journal_size=settings.journal_size)
    control: Control = fleet or LocalControl(clock, scenarios, journal)
    owed = None
    if outbox is not None:  # a delivery read from Redis is signed by its provider's name
        outbox.schemes = {name: p.webhooks for name, p in providers.items()}
        from paysandbox.shared.owed import OwedDeliveries
        owed = OwedDeliveries(store, outbox, providers, lease=settings.delivery_lease)
    unknown_hooks = set(settings.webhooks) - set(providers)
    if unknown_hooks:
        raise ValueError(f"Webhook configured for unknown provider(s): "
                         f"{', '.join(sorted(unknown_hooks))}; known: {', '.join(providers)}.")

    async def no_such_provider(request: web.Request) -> web.Response:
        """A catch-all route rather than a middleware: no cost on the requests that do
        reach a provider."""
        first = request.path.strip("/").split("/", 1)[0]
        close = difflib.get_close_matches(first, list(providers), n=3, cutoff=0.4)
        hint = f" Did you mean /{close[0]}?" if close else ""
        return web.Response(status=404, content_type="application/json", body=orjson.dumps(
            {"error": {"message": f"No provider is mounted at /{first}.{hint} Mounted: "
                       + ", ".join(f"/{n}" for n in providers) + ".",
                       "providers": {n: f"{settings.base_url}/{n}" for n in providers}}}))

    app = web.Application(client_max_size=settings.max_body_bytes)
    app[ENGINE] = engine
    app[SETTINGS] = settings
    app[JOURNAL] = journal
    app[PROVIDERS] = providers
    app[SHUTDOWN_REPORT] = {}
    app[SHUTDOWN] = Shutdown()
    app[SCENARIOS] = scenarios
    app[metrics.METRICS] = measured
    contract_log = app[CONTRACT_LOG] = ContractLog(max_groups=settings.contract_groups)
    if settings.check_responses:
        engine.inspect_event = functools.partial(_check_webhook, contract_log)
    for p in providers.values():
        base.mount(app, p, engine, journal, max_body=settings.max_body_bytes,
                   contracts_mode=settings.contracts, contract_log=contract_log,
                   check_responses=settings.check_responses, public_url=settings.public_url)
    admin = admin_app(engine, journal, settings, providers, time.time(), scenarios,
                      contract_log, control=control)
    mcp_http.mount(admin, settings)  # /__admin/mcp, behind the admin API's checks
    app.add_subapp("/__admin", admin)
    app.add_subapp("/__hosted", hosted_app(engine, providers, settings.public_url))
    app.router.add_get("/metrics", measured.handler(AdminAccess(settings)))
    app.router.add_route("*", "/{path:.*}", no_such_provider)  # last: after every prefix

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if check_store is not None:
            await check_store()  # StoreUnavailable: nothing else has started yet
        engine.fingerprint_key = await store.secret("card-fingerprint")
        if fleet is not None:
            await fleet.start(startup=startup)
        await dispatcher.start()
        if owed is not None:
            owed.start()
        watcher = None
        if settings.watch and settings.scenarios:
            watcher = asyncio.create_task(watch_files(scenarios, settings.scenarios,
                                                      control=fleet))
        yield
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if fleet is not None:
            await fleet.stop()
        if owed is not None:
            await owed.stop()
        await engine.close()
        deadline = app[SHUTDOWN].deadline
        drain = settings.drain_timeout if deadline is None else \
            max(0.0, deadline - asyncio.get_running_loop().time())
        report = await dispatcher.stop(drain_timeout=drain)
        app[SHUTDOWN_REPORT].update(report)
        if (report["pending"] or report["delivering"]) and not dispatcher.durable:
            log.warning("shut down with %d webhook deliveries still owed (pending retry or "
                        "cut off); they are lost with this process",
                        report["pending"] + report["delivering"])
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    return app
