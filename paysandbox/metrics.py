"""Prometheus metrics of one simulator, served at `GET /metrics` (prometheus-client).

Each app has a registry of its own (never the library's global one), so several
simulators in one process (a test session) do not mix their numbers.

What costs something per request is a counter and a histogram observed from the
provider envelope (`observe_request`), one histogram per store call (`timed_store`) and
one per webhook attempt (`Dispatcher.observe`). They are plain numbers in lists
(`_Counts`, `_Buckets`), exposed through a collector as prometheus-client's metric
families: its own Counter and Histogram take a lock per value changed, which costs about
1.5 µs an observation, ten times the counting, for a single-threaded event loop that needs
none (a create+confirm makes a dozen store calls). The rest is read when Prometheus
scrapes: the scenarios' own rule counters, the dispatcher's counts, and payments by state,
which are counted as the store changes them (`PaymentCounts`), so a scrape reads a few
dozen numbers whatever the store holds. Scrapes are answered on the event loop, so they
never see a number half-changed.

Label values come from closed sets (providers, their routes, HTTP statuses, fault kinds,
store methods, the loaded scenarios' rules), never from a request's content: no
namespace, no payment id. With `serve --workers N` each process has its own numbers and a
scrape reaches one of them.
"""

from __future__ import annotations

import bisect
import inspect
import itertools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from paysandbox.admin.access import AdminAccess
    from paysandbox.core.payments import Payment
    from paysandbox.scenarios.runtime import ScenarioSet
    from paysandbox.store.base import Committed, Store
    from paysandbox.webhooks.dispatcher import Delivery, Dispatcher

#: Seconds. The simulator answers in well under a millisecond unless a scenario adds
#: latency or a `hang`, so the buckets run from 0.5 ms to a minute.
REQUEST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0, 30.0, 60.0)
STORE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                 0.1, 0.5, 1.0)
ATTEMPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)
#: From the event to the receiver's acknowledgement, retries and injected delays included.
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 300.0, 900.0, 3600.0)

#: The (route, status) pairs whose label children are cached for the request path:
#: routes are fixed at start and statuses few, so this is reached only by a plugin
#: with thousands of routes; past it the children are looked up per request.
_MAX_CACHED = 4096
#: An operation label for a request no route of the provider matched.
UNMATCHED = "unmatched"


class PaymentCounts:
    """Payments by (provider, state), changed as the store creates and moves them, so
    reading them costs nothing however many payments are held.

    Per namespace as well, so that a reset of one namespace takes its payments out. At
    most `max_namespaces` are told apart (the least recently changed first folds into
    the totals only: a later reset of it no longer subtracts). Payments that retention
    forgets stay counted in their last state. In a fleet (Redis) each process counts the
    changes it made, so a payment created by one and captured by another moves between
    two processes' numbers: summed over the fleet they are exact."""

    def __init__(self, max_namespaces: int = 10_000) -> None:
        self._max = max(1, max_namespaces)
        self._spaces: OrderedDict[str, dict[tuple[str, str], int]] = OrderedDict()
        self.totals: dict[tuple[str, str], int] = {}

    def moved(self, namespace: str, provider: str, before: str | None,
              after: str | None) -> None:
        space = self._spaces.get(namespace)
        if space is None:
            space = self._spaces[namespace] = {}
            if len(self._spaces) > self._max:
                self._spaces.popitem(last=False)
        else:
            self._spaces.move_to_end(namespace)
        totals = self.totals
        if before is not None:
            key = (provider, before)
            space[key] = space.get(key, 0) - 1
            totals[key] = totals.get(key, 0) - 1
        if after is not None:
            key = (provider, after)
            space[key] = space.get(key, 0) + 1
            totals[key] = totals.get(key, 0) + 1

    def forget(self, namespace: str | None = None) -> None:
        if namespace is None:
            self._spaces.clear()
            self.totals.clear()
            return
        for key, n in self._spaces.pop(namespace, {}).items():
            self.totals[key] = self.totals.get(key, 0) - n


#: How prometheus-client writes its own `le` labels (a function without annotations).
_go_float = cast("Callable[[float], str]", floatToGoString)


class _Counts:
    """A labelled counter: label values -> count."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self.series: dict[tuple[str, ...], list[float]] = {}

    def cell(self, *values: str) -> list[float]:
        """The one-element list to add to (`cell[0] += 1`), kept by callers."""
        found = self.series.get(values)
        if found is None:
            found = self.series[values] = [0.0]
        return found

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, cell in sorted(self.series.items()):
            family.add_metric(values, cell[0])
        return family


class _Buckets:
    """A labelled histogram: per label values, a count per bucket (`le` the bound, the
    last one +Inf) and then the sum."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...],
                 bounds: tuple[float, ...]) -> None:
        self.name, self.documentation, self.labels = name, documentation, labels
        self.bounds = bounds
        self._les = [_go_float(b) for b in bounds] + ["+Inf"]
        self.series: dict[tuple[str, ...], list[float]] = {}

    def cell(self, *values: str) -> list[float]:
        found = self.series.get(values)
        if found is None:
            found = self.series[values] = [0.0] * (len(self.bounds) + 2)
        return found

    def observe(self, cell: list[float], value: float) -> None:
        cell[bisect.bisect_left(self.bounds, value)] += 1  # the first bound >= value
        cell[-1] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for values, cell in sorted(self.series.items()):
            cumulative = itertools.accumulate(cell[:-1])
            family.add_metric(values, list(zip(self._les, cumulative, strict=True)),
                              sum_value=cell[-1])
        return family


class Metrics:
    """One simulator's registry and the instruments the request path feeds."""

    def __init__(self, scenarios: ScenarioSet, dispatcher: Dispatcher, *,
                 owed_limit: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = _Counts(
            "paysandbox_requests", "Requests a provider answered, by its route (operation) "
            "and the status answered (444: a connection broken by a scenario's fault).",
            ("provider", "operation", "status"))
        self.latency = _Buckets(
            "paysandbox_request_duration_seconds", "Time to answer a provider request, "
            "injected latency included.", ("provider", "operation"), REQUEST_BUCKETS)
        self.faults = _Counts(
            "paysandbox_faults_injected", "Faults scenarios injected into answers, by kind "
            "(http, connection_reset, empty_response, malformed_body, hang, slow_body).",
            ("provider", "kind"))
        self.store_latency = _Buckets(
            "paysandbox_store_operation_duration_seconds", "Time of one call to the store, "
            "by store method.", ("operation",), STORE_BUCKETS)
        self.webhook_attempts = _Buckets(
            "paysandbox_webhook_attempt_duration_seconds", "One webhook delivery attempt, "
            "by outcome: accepted, refused (the receiver answered otherwise) or error (no "
            "answer: unreachable, timed out, not sent).", ("provider", "outcome"),
            ATTEMPT_BUCKETS)
        self.webhook_latency = _Buckets(
            "paysandbox_webhook_delivery_latency_seconds", "From a delivery being queued "
            "to the receiver accepting it, retries and scenario delays included (real "
            "seconds).", ("provider",), DELIVERY_BUCKETS)
        self.payments = PaymentCounts()
        r.register(_StateCollector(
            self.payments, scenarios, dispatcher, owed_limit,
            (self.requests, self.latency, self.faults, self.store_latency,
             self.webhook_attempts, self.webhook_latency)))
        ProcessCollector(registry=r)  # CPU seconds and resident memory (Linux)
        PlatformCollector(registry=r)
        GCCollector(registry=r)  # the collector sets the simulator's tail latency
        self._cells: dict[tuple[Any, int], tuple[list[float], list[float]]] = {}
        self._operations: dict[Any, str] = {}
        self._store_cells: dict[str, list[float]] = {}
        dispatcher.observe = self.delivery_attempt

    # -- the request path ----------------------------------------------------------

    def request(self, request: web.Request, provider: str, status: int, seconds: float,
                notes: Mapping[str, Any] | None) -> None:
        route = request.match_info.route
        cells = self._cells.get((route, status))
        if cells is None:
            operation = self._operation(request, provider, route)
            cells = (self.requests.cell(provider, operation, str(status)),
                     self.latency.cell(provider, operation))
            if len(self._cells) < _MAX_CACHED:
                self._cells[(route, status)] = cells
        cells[0][0] += 1
        self.latency.observe(cells[1], seconds)
        if notes:
            kind = notes.get("fault")
            if kind:
                self.faults.cell(provider, kind)[0] += 1

    def _operation(self, request: web.Request, provider: str, route: Any) -> str:
        """The route's name (its handler's, as the contracts manifest lists it). The
        same route reached on the provider's own hostname or with a trailing slash is
        registered without one: it is the named route whose path ends the same way."""
        found = self._operations.get(route)
        if found is not None:
            return found
        name = route.name
        if name:
            found = name.partition(".")[2] or name
        else:
            resource = route.resource
            path = (resource.canonical if resource is not None else "").rstrip("/")
            prefix = f"/{provider}/"
            candidates = sorted(
                (r.resource.canonical, r.name.partition(".")[2])
                for r in request.app.router.routes()
                if r.name and r.method == request.method and r.resource is not None
                and r.resource.canonical.startswith(prefix)
                and r.resource.canonical.endswith(path) and path)
            found = min(candidates, key=lambda c: len(c[0]))[1] if candidates else UNMATCHED
        if len(self._operations) < _MAX_CACHED:
            self._operations[route] = found
        return found

    def store_call(self, operation: str, seconds: float) -> None:
        cell = self._store_cells.get(operation)
        if cell is None:
            cell = self._store_cells[operation] = self.store_latency.cell(operation)
        self.store_latency.observe(cell, seconds)

    def delivery_attempt(self, delivery: Delivery, ok: bool) -> None:
        provider = delivery.event.provider
        attempt = delivery.attempts[-1] if delivery.attempts else None
        if attempt is not None:
            outcome = "accepted" if ok else "refused" if attempt.status is not None \
                else "error"
            self.webhook_attempts.observe(self.webhook_attempts.cell(provider, outcome),
                                          attempt.duration_ms / 1000)
        if ok:
            self.webhook_latency.observe(self.webhook_latency.cell(provider),
                                         time.perf_counter() - delivery.queued_at)

    def handler(self, access: AdminAccess) -> Callable[[web.Request],
                                                       Awaitable[web.StreamResponse]]:
        """`GET /metrics`: the text exposition format (OpenMetrics when Prometheus asks
        for it), under the admin API's rules: a loopback or allowed Host, and beyond
        loopback the admin token (Prometheus: `authorization: {credentials: …}`)."""
        serve = make_aiohttp_handler(self.registry)

        async def metrics(request: web.Request) -> web.StreamResponse:
            refused = access.refusal(request)
            if refused is not None:
                return web.Response(status=refused[0], text=refused[1] + "\n")
            return await serve(request)
        return metrics


METRICS = web.AppKey("metrics", Metrics)


def observe_request(request: web.Request, provider: str, response: web.StreamResponse,
                    started: float, notes: Mapping[str, Any] | None) -> None:
    """Count one provider request (called by the provider envelope as it journals it)."""
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.request(request, provider, response.status, time.perf_counter() - started,
                        notes)


class _StateCollector(Collector):
    """What is read at scrape time: a few dozen numbers, whatever the simulator holds."""

    def __init__(self, payments: PaymentCounts, scenarios: ScenarioSet,
                 dispatcher: Dispatcher, owed_limit: int,
                 instruments: tuple[_Counts | _Buckets, ...]) -> None:
        self._instruments = instruments
        self._payments = payments
        self._scenarios = scenarios
        self._dispatcher = dispatcher
        self._owed_limit = owed_limit

    def collect(self) -> Iterator[Metric]:
        for instrument in self._instruments:
            yield instrument.family()
        payments = GaugeMetricFamily(
            "paysandbox_payments", "Payments by provider and current state, as this "
            "process created and moved them since start or the last reset (those retention "
            "has forgotten stay in their last state).", labels=["provider", "state"])
        for (provider, state), n in sorted(self._payments.totals.items()):
            payments.add_metric([provider, state], n)
        yield payments

        summary = self._dispatcher.summary()
        done = CounterMetricFamily(
            "paysandbox_webhook_deliveries", "Webhook deliveries that ended, by state: "
            "delivered, failed (retries exhausted, dropped included) and dropped (the owed "
            "queue was full). A full reset starts them again.", labels=["state"])
        for state in ("delivered", "failed", "dropped"):
            done.add_metric([state], summary[state])
        yield done
        yield GaugeMetricFamily(
            "paysandbox_webhook_owed_deliveries", "Deliveries waiting for their first "
            "attempt or a retry (the owed queue; the oldest is dropped beyond "
            "paysandbox_webhook_owed_limit).", value=summary["pending"])
        yield GaugeMetricFamily("paysandbox_webhook_owed_limit",
                                "The owed queue's bound (--delivery-queue).",
                                value=self._owed_limit)
        yield GaugeMetricFamily("paysandbox_webhook_deliveries_in_flight",
                                "Delivery attempts being sent now.",
                                value=summary["delivering"])

        applied: dict[tuple[str, str], int] = {}
        matched: dict[tuple[str, str], int] = {}
        for scenario in self._scenarios.status():
            rules = [*scenario["rules"], *(r for p in scenario["phases"] for r in p["rules"])]
            for rule in rules:
                key = (scenario["name"], rule["name"])
                applied[key] = applied.get(key, 0) + rule["applied"]
                matched[key] = matched.get(key, 0) + rule["matched"]
        hits = CounterMetricFamily(
            "paysandbox_scenario_rule_hits", "Requests a loaded scenario's rule applied to "
            "(its `match` held and its probability or count said yes); a reload starts "
            "them again.", labels=["scenario", "rule"])
        seen = CounterMetricFamily(
            "paysandbox_scenario_rule_matches", "Requests that satisfied a loaded "
            "scenario rule's `match`.", labels=["scenario", "rule"])
        for key in sorted(applied):
            hits.add_metric(list(key), applied[key])
            seen.add_metric(list(key), matched[key])
        yield hits
        yield seen


class _TimedStore:
    """The store, with each call timed and payments counted as they are created, moved
    and reset. Any other coroutine method is timed under its own name; everything else
    passes through."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        self._metrics = metrics
        self._payments = metrics.payments

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        # `_Buckets.observe` inlined: this runs a dozen times a create+confirm.
        cell = self._metrics.store_latency.cell(name)
        bounds, clock, where = self._metrics.store_latency.bounds, time.perf_counter, \
            bisect.bisect_left

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return await attr(*args, **kwargs)
            finally:
                elapsed = clock() - started
                cell[where(bounds, elapsed)] += 1
                cell[-1] += elapsed
        setattr(self, name, timed)  # found without __getattr__ from now on
        return timed

    async def create(self, payment: Payment) -> None:
        started = time.perf_counter()
        try:
            await self._store.create(payment)
        finally:
            self._metrics.store_call("create", time.perf_counter() - started)
        self._payments.moved(payment.namespace, payment.provider, None, payment.status)

    async def transition(self, namespace: str, payment_id: str,
                         fn: Callable[[Payment], Payment]) -> tuple[Payment, Payment]:
        started = time.perf_counter()
        try:
            before, after = await self._store.transition(namespace, payment_id, fn)
        finally:
            self._metrics.store_call("transition", time.perf_counter() - started)
        self._moved(before, after)
        return before, after

    async def commit(self, *args: Any, **kwargs: Any) -> Committed:
        """The atomic unit (a created payment, or a transition, with its writes)."""
        started = time.perf_counter()
        try:
            done = await self._store.commit(*args, **kwargs)
        finally:
            self._metrics.store_call("commit", time.perf_counter() - started)
        self._moved(done.before, done.after)
        return done

    def _moved(self, before: Payment | None, after: Payment) -> None:
        if before is None or before.status != after.status:
            self._payments.moved(after.namespace, after.provider,
                                 None if before is None else before.status, after.status)

    async def reset(self, namespace: str | None = None) -> None:
        started = time.perf_counter()
        try:
            await self._store.reset(namespace)
        finally:
            self._metrics.store_call("reset", time.perf_counter() - started)
        self._payments.forget(namespace)


def timed_store(store: Store, metrics: Metrics) -> Store:
    """`store` behind a thin proxy that feeds `metrics` (built once, at app start)."""
    return cast("Store", _TimedStore(store, metrics))
