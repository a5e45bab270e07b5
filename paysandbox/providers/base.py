"""The Provider protocol, the plugin registry, and the HTTP plumbing every provider shares.

A provider is a small object: a name (its URL prefix and its `provider:` in
scenarios), its real API hostnames, routes, one error renderer and one webhook scheme.
Providers are plugins found through the `payments_sandbox.providers` entry point group
and imported only when mounted, so an in-house acquirer can ship as a package of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import functools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from importlib import resources
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from aiohttp import web

from paysandbox import contracts, faults, metrics, nesting, tracing
from paysandbox.contract_report import ContractLog
from paysandbox.core.commands import Command, Result
from paysandbox.engine import APPLIED, InjectedFault
from paysandbox.errors import ApiError, InvalidRequest, PayloadTooLarge, RouteMissing
from paysandbox.faults import Fault
from paysandbox.journal import Journal
from paysandbox.objects import Objects
from paysandbox.providers.seam import (
    HOST_BASE,
    Admits,
    Context,
    Dialect,
    Reply,
    Route,
    provider_path,
)
from paysandbox.store.base import (
    LEASE_SECONDS,
    Claim,
    IdempotencyRecord,
    KeyTaken,
    Store,
    StoreUnavailable,
)
from paysandbox.store.codec import BadRecord
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

log = logging.getLogger("paysandbox.providers")

ENTRY_POINT_GROUP = "payments_sandbox.providers"

# What a provider's handler tells the shared middleware about one request.
REQUEST_ID = web.RequestKey("request_id", str)
NAMESPACE = web.RequestKey("namespace", str)
RAW_BODY = web.RequestKey("raw_body", bytes)
JOURNAL_NOTES = web.RequestKey("journal_notes", dict)


class Provider(Protocol):
    name: str
    title: str
    webhooks: WebhookScheme
    #: The provider's real API hostnames (`*.` before a name: any one label there), each
    #: with the path below the provider's prefix its root maps to (Adyen's
    #: checkout-test.adyen.com/v71 is /adyen/checkout/v71). A request whose Host is one
    #: of them is served on the provider's own paths, without the prefix; a plugin
    #: without this attribute is reached through its prefix only.
    hostnames: Mapping[str, str]

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type `events_for` can emit: each has a payload contract."""

    #: How the provider's API speaks HTTP (seam.Dialect).
    dialect: Dialect

    def routes(self) -> Iterable[Route]:
        """The provider's real paths, relative to its prefix, each with its handler."""

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        """Events a state change emits (rendered lazily)."""

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        """Endpoints registered through the provider's own API, if it has one."""

    def base_url_hint(self) -> str:
        """What follows the prefix in the base URL a SDK is given (may be empty)."""



@functools.cache
def data_table(module: str, name: str = "codes.yaml") -> Mapping[str, Mapping[str, Any]]:
    """A provider's data file beside its code (`module` is the caller's `__name__`), read
    once through importlib.resources, so it is found in a wheel or a zip as in a checkout:
    `codes.yaml` maps each canonical decline reason to the provider's own code and words."""
    package = module.rpartition(".")[0]
    with resources.files(package).joinpath(name).open("r", encoding="utf-8") as fh:
        loaded: Mapping[str, Mapping[str, Any]] = yaml.safe_load(fh)
    return loaded


def available() -> dict[str, Any]:
    """Installed provider plugins by name, not yet imported."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load(names: Sequence[str] | None = None) -> list[Provider]:
    found = available()
    wanted = list(found) if not names else list(names)
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ValueError(
            f"Unknown provider(s): {', '.join(unknown)}. Installed: {', '.join(sorted(found))}."
        )
    return [found[n].load() for n in wanted]


def trailing_slash(provider: Provider) -> bool:
    """Whether the provider's real API answers each path ending in `/` as the same
    request (its SDKs call either); an optional attribute, false when absent."""
    return bool(getattr(provider, "trailing_slash", False))


def hostnames(provider: Provider) -> Mapping[str, str]:
    """The provider's real API hostnames and the base each maps to (none for a plugin
    that declares none)."""
    return getattr(provider, "hostnames", None) or {}


def host_matches(pattern: str, host: str) -> bool:
    """Whether `host` (no port, lower case) is `pattern`, where a leading `*.` stands for
    exactly one label, as TLS clients read a wildcard certificate name."""
    if pattern.startswith("*."):
        label, dot, rest = host.partition(".")
        return bool(label) and bool(dot) and rest == pattern[2:]
    return host == pattern


def bare_host(host: str) -> str:
    """A Host header's name without its port or a final dot, in lower case
    (`[::1]:443` -> `::1`, `API.Stripe.com.:443` -> `api.stripe.com`)."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    name = host.rpartition(":")[0] if host.count(":") == 1 else host
    return name.rstrip(".").lower()


def request_id() -> str:
    return secrets.token_hex(7)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def mount(app: web.Application, provider: Provider, engine: Engine, journal: Journal, *,
          max_body: int, contracts_mode: str = contracts.STRICT,
          contract_log: ContractLog | None = None, check_responses: bool = False,
          public_url: str | None = None) -> None:
    """Serve one provider under `/{provider.name}` on `app`: its routes, each wrapped in
    the shared envelope that renders every failure in the provider's envelope and
    journals every exchange, and a last route that answers any other path below the
    prefix with the provider's own 404 naming the closest routes.

    The routes sit on `app` itself rather than in a sub-application behind a middleware:
    a sub-application costs every request a second route lookup and two middleware
    calls, about a twentieth of what a create+confirm costs (tests/bench/README.md).

    Request contracts are checked in `contracts_mode`; with `check_responses` (test
    mode) every response is checked against its contract too. Findings go to the
    journal entry and to `contract_log`."""
    prefix = "/" + provider.name
    # A plugin's contracts (and data, and pages) sit beside its code, in its package.
    module = type(provider).__module__
    contracts.shipped_with(provider.name, module.rpartition(".")[0] or module)
    dialect = provider.dialect
    render_error = dialect.render_error

    def wrap(handler: Handler, operation: str | None, host_base: str | None = None) -> Handler:
        if host_base is None:
            async def handle(request: web.Request) -> web.StreamResponse:
                return await envelope(request, handler, operation)
            return handle

        async def handle_on_host(request: web.Request) -> web.StreamResponse:
            request[HOST_BASE] = host_base
            return await envelope(request, handler, operation)
        return handle_on_host

    async def envelope(request: web.Request, handler: Handler,
                       operation: str | None) -> web.StreamResponse:
        started = time.perf_counter()
        tracing.begin(request)
        request[REQUEST_ID] = request_id()
        token = APPLIED.set(None)
        observed = contracts.Observed(contracts_mode)
        observing = contracts.OBSERVED.set(observed)
        try:
            response = await serve(request, handler)
            applied = APPLIED.get()
        finally:
            APPLIED.reset(token)
            contracts.OBSERVED.reset(observing)
        if check_responses and operation is not None:
            check_response(request, operation, response, observed)
        notes = request.get(JOURNAL_NOTES)
        if observed.findings:
            notes = contract_notes(request, operation, observed.findings, notes)
        if applied is not None:
            notes = {**(notes or {}), "scenario_rules": list(applied.matched)}
            if applied.near_misses:
                notes["near_misses"] = list(applied.near_misses)
            fault = applied.fault
            if isinstance(fault, Fault):
                notes["fault"] = fault.kind
            if isinstance(fault, Fault) and not fault.ends_early and \
                    isinstance(response, web.Response):
                if fault.kind == "malformed_body":
                    response.body = faults.truncate(response.body)  # type: ignore[arg-type]
                else:
                    record(request, started, response, notes)
                    await faults.dribble(request, response, fault.duration)
                    return response
        record(request, started, response, notes)
        return response

    def check_response(request: web.Request, operation: str, response: web.StreamResponse,
                       observed: contracts.Observed) -> None:
        body = getattr(response, "body", None)
        if response.status == _BROKEN or not isinstance(body, bytes) or \
                contracts.manifest(provider.name) is None:
            return
        problems = contracts.response_problems(provider.name, operation, response.status,
                                               body, response.content_type)
        if problems:
            log.error("%s %s: the simulator's response breaks its contract: %s",
                      request.method, request.path,
                      "; ".join(f"{f.field} {f.violation.message}" for f in problems))
            observed.findings += problems

    def contract_notes(request: web.Request, operation: str | None,
                       findings: list[contracts.Finding],
                       notes: dict[str, Any] | None) -> dict[str, Any]:
        operation = operation or ""
        if contract_log is not None:
            contract_log.add(findings, operation=operation, example={
                "request_id": request[REQUEST_ID], "method": request.method,
                "path": provider_path(request)})
        return {**(notes or {}), "operation": operation,
                "contract_violations": [f.to_json() for f in findings]}

    def record(request: web.Request, started: float, response: web.StreamResponse,
               notes: dict[str, Any] | None) -> None:
        metrics.observe_request(request, provider.name, response, started, notes)
        if journal.enabled:
            body = getattr(response, "body", b"")
            journal.record(
                at=engine.clock.now(), provider=provider.name,
                namespace=request.get(NAMESPACE), method=request.method,
                path=provider_path(request), query=request.query_string,
                status=response.status,
                request_id=request[REQUEST_ID], request_body=request.get(RAW_BODY, b""),
                response_body=body if isinstance(body, bytes) else b"",
                duration_ms=(time.perf_counter() - started) * 1000, notes=notes)

    async def serve(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            await refuse_malformed(request)
            return await handler(request)
        except InjectedFault as exc:
            return await inject(request, exc.fault)
        except ApiError as exc:
            if exc.status == 404 and NAMESPACE in request:
                await explain_eviction(engine.store, request[NAMESPACE], request.path, exc)
            return render_error(exc, request)
        except web.HTTPRequestEntityTooLarge:
            return render_error(PayloadTooLarge(
                f"Request body exceeds the limit of {max_body} bytes."), request)
        except web.HTTPException:
            raise
        except BadRecord as exc:  # it holds a record it refuses: retrying will not help
            log.error("store: %s", exc)
            return render_error(ApiError(
                f"The simulator's store cannot serve this request: {exc}", status=503,
                code="store_unavailable"), request)
        except StoreUnavailable as exc:  # logged once by the store when it goes away
            return render_error(ApiError(
                f"The request could not be completed ({exc}). Retry it with the same "
                "idempotency key: it is answered once the store is back.", status=500),
                request)
        except Exception:  # a bug: say so in the provider's envelope, never a traceback
            log.exception("unhandled error serving %s %s", request.method, request.path)
            return render_error(
                ApiError("The simulator failed to handle this request; see its log.",
                         status=500, code="simulator_error"), request)

    async def inject(request: web.Request, fault: Fault) -> web.StreamResponse:
        """A fault that ends the request: an HTTP error in the provider's envelope, or
        a broken connection."""
        if fault.kind == "http":
            error = ApiError(_HTTP_MESSAGES.get(fault.status, f"The provider answered "
                                                f"{fault.status} (injected by a scenario)."),
                             status=fault.status, code=_HTTP_CODES.get(fault.status))
            response = render_error(error, request)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, round(fault.retry_after)))
            return response
        if fault.kind == "connection_reset":
            faults.reset(request)
        elif fault.kind == "hang":
            await faults.hang(request)
        else:
            faults.close_silently(request)
        # The connection is gone: aiohttp finds it closed when it writes this, and
        # drops it quietly as a client disconnection. The journal keeps the status.
        return web.Response(status=_BROKEN)

    async def route_missing(request: web.Request) -> web.StreamResponse:
        raise _route_missing(request, app, prefix)

    routes = [_route_def(provider, dialect, r, engine, public_url) for r in provider.routes()]
    for r in routes:
        operation = r.kwargs.get("name")
        app.router.add_route(r.method, prefix + r.path, wrap(r.handler, operation),
                             name=f"{provider.name}.{operation}" if operation else None)
    if trailing_slash(provider):
        routes += [web.route(r.method, r.path + "/", r.handler, **r.kwargs) for r in routes]
        for r in routes[len(routes) // 2:]:
            app.router.add_route(r.method, prefix + r.path, wrap(r.handler, r.kwargs.get("name")))
    # Last below the prefix (the router tries the most specific paths first): an unknown
    # path, or a known one with another method, in the provider's own envelope.
    app.router.add_route("*", prefix + "{tail:(/.*)?}", wrap(route_missing, None))

    # The same routes again on the provider's own hostnames, without the prefix. They
    # sit in the one router (a request on the prefix pays nothing for them) and answer
    # only when the Host header names the provider.
    by_base: dict[str, list[str]] = {}
    for pattern, base in hostnames(provider).items():
        by_base.setdefault(base.rstrip("/"), []).append(pattern.lower())
    for base, patterns in by_base.items():
        hosts = tuple(patterns)
        resources: dict[str, web.Resource] = {}
        for r in routes:
            if not r.path.startswith(base + "/"):
                continue
            path = r.path[len(base):]
            if path not in resources:
                resources[path] = _host_resource(app, path, hosts)
            resources[path].add_route(r.method, wrap(r.handler, r.kwargs.get("name"),
                                                     prefix + base))
        _host_resource(app, "/{tail:.*}", hosts).add_route(
            "*", wrap(route_missing, None, prefix + base))


def _route_def(provider: Provider, dialect: Dialect, r: Route, engine: Engine,
               public_url: str | None) -> web.RouteDef:
    """The aiohttp route for one of a provider's routes: authenticate -> decode ->
    validate against the route's request contract -> let scenarios intercept a read ->
    idempotency -> the handler with its context -> render. Errors raised anywhere are
    rendered by the envelope around it (`mount`)."""
    if not isinstance(r, Route):
        raise TypeError(f"{provider.name}: routes() must give seam.Route, not {r!r}")
    found = contracts.manifest(provider.name)
    operation = found.operations.get(r.name) if found is not None else None
    schema = operation.request if operation is not None else None
    name, handler, read = provider.name, r.handler, r.read
    key_header = dialect.idempotency_header if r.idempotent else None

    admit = dialect.admit if isinstance(dialect, Admits) else None

    async def handle(request: web.Request) -> web.StreamResponse:
        request[NAMESPACE] = ns = dialect.authenticate(request)
        ctx = Context(engine, provider, request, ns, public_url)
        if admit is not None:
            await admit(ctx)
        if request.body_exists:
            request[RAW_BODY] = await request.read()
        params = await dialect.decode(request, schema)
        if schema is not None:
            try:
                params = contracts.check(name, schema, params)
            except contracts.ContractViolation as exc:
                raise dialect.invalid(exc.violation) from None
        if read is not None:
            await ctx.intercept(read)

        async def run() -> web.Response:
            try:
                return _reply(dialect, request, await handler(ctx, params))
            except ApiError:
                if not ctx.read_kept or ctx.executed:
                    raise
            # Refused before any change, on a payment read from this process's copy
            # (Store.get's `to_change`): once more on what is stored.
            ctx.read_stored()
            return _reply(dialect, request, await handler(ctx, params))

        key = request.headers.get(key_header) if key_header is not None else None
        if key is None:
            return await run()
        return await idempotent(
            ctx, engine.store, ns, key, dialect.fingerprint(request, params),
            engine.clock.now(), run, replay_header=dialect.replay_header,
            mismatch=lambda: dialect.idempotency_errors(key)[0],
            in_flight=lambda: dialect.idempotency_errors(key)[1],
            render=lambda exc: dialect.render_error(exc, request))

    return web.route(r.method, r.path, handle, name=r.name)


def _reply(dialect: Dialect, request: web.Request, out: Any) -> web.Response:
    if isinstance(out, web.Response):
        return out
    if isinstance(out, Reply):
        response = dialect.respond(out.body, request, out.status)
        response.headers.update(out.headers)
        return response
    return dialect.respond(out, request)


#: The status journaled for a connection broken on purpose (nginx's "no response").
_BROKEN = 444


_HTTP_MESSAGES = {
    429: "Too many requests hit the API too quickly. Retry after a pause "
         "(rate limit injected by a scenario).",
    500: "An unexpected error occurred on the provider's side (injected by a scenario).",
    502: "Bad gateway: the provider's edge could not reach its backend (injected by a "
         "scenario).",
    503: "The provider is temporarily unavailable (injected by a scenario).",
    504: "The provider timed out answering (injected by a scenario).",
}
_HTTP_CODES = {429: "rate_limit", 409: "lock_timeout"}


class _HostPlainResource(web.PlainResource):
    """A path that answers only on the provider's hostnames."""
    hosts: tuple[str, ...] = ()

    async def resolve(self, request: web.Request) -> Any:
        if not _on_hosts(self.hosts, request):
            return None, set()
        return await super().resolve(request)


class _HostDynamicResource(web.DynamicResource):
    hosts: tuple[str, ...] = ()

    async def resolve(self, request: web.Request) -> Any:
        if not _on_hosts(self.hosts, request):
            return None, set()
        return await super().resolve(request)


def _on_hosts(hosts: tuple[str, ...], request: web.Request) -> bool:
    # The header itself: request.host would look the machine's name up when it is absent.
    host = bare_host(request.headers.get("Host", ""))
    return any(host_matches(pattern, host) for pattern in hosts)


def _host_resource(app: web.Application, path: str,
                   hosts: tuple[str, ...]) -> web.Resource:
    resource: _HostPlainResource | _HostDynamicResource = \
        _HostDynamicResource(path) if "{" in path else _HostPlainResource(path)
    resource.hosts = hosts
    app.router.register_resource(resource)
    return resource


def _route_missing(request: web.Request, app: web.Application, prefix: str) -> RouteMissing:
    here = f"{request.method} {provider_path(request).removeprefix(prefix)}"
    known = sorted({f"{r.method} {r.resource.canonical.removeprefix(prefix)}"
                    for r in app.router.routes()
                    if r.resource is not None and r.method not in ("HEAD", "*")
                    and r.resource.canonical.startswith(prefix + "/")})
    close = difflib.get_close_matches(here, known, n=3, cutoff=0.5)
    path = provider_path(request).removeprefix(prefix)
    return RouteMissing(f"Unrecognized request URL ({request.method}: {path}).",
                        extra={"closest": close})


async def refuse_malformed(request: web.Request) -> None:
    """The provider's own 4xx for what no handler should meet: a Host that is not an
    ASCII host name (it is echoed in links), or a body or query string nested beyond
    `nesting.MAX_NESTING` levels (the handler reads the body again from aiohttp's
    cache)."""
    host = request.host
    if not (host.isascii() and host.isprintable()) or " " in host:
        raise InvalidRequest("Invalid Host header: send the host name (and port) the "
                             "client connected to, in ASCII.")
    depth = nesting.excess(request.query_string.encode()) if request.query_string else 0
    if not depth and request.body_exists:
        depth = nesting.excess(await request.read())
    if depth:
        raise InvalidRequest(
            f"The request nests objects or arrays more than {nesting.MAX_NESTING} levels "
            "deep; send flat values (metadata takes flat key-value pairs).")


_ID = re.compile(r"[\w-]{4,}")
EVICTED = (" It was evicted by retention: the simulator keeps the newest payments of each "
           "API key or account (raise --retain-payments to keep more).")


async def explain_eviction(store: Store, namespace: str, path: str, error: ApiError) -> None:
    """Say so in a 404 whose id (in the path or named in the message) was forgotten by
    retention rather than never created."""
    candidates = dict.fromkeys([*path.split("/"), *_ID.findall(error.message)][:16])
    for candidate in candidates:
        if candidate and await store.evicted(namespace, candidate):
            error.message += EVICTED
            error.args = (error.message,)
            return


async def idempotent(ctx: Context, store: Store, namespace: str, key: str, fingerprint: str,
                     now: float, run: Callable[[], Awaitable[web.Response]], *,
                     replay_header: str | None, mismatch: Callable[[], ApiError],
                     in_flight: Callable[[], ApiError],
                     render: Callable[[ApiError], web.Response]) -> web.Response:
    """Run `run` at most once per idempotency key and replay its response after.

    The same key with another request is the provider's `mismatch` error; the same key
    while the first request is still running is its `in_flight` error. Errors raised
    by `run` (a decline, an invalid transition) are responses too and are replayed.

    The key is claimed with the request's first change of state, in the same store
    call (`ctx.claim`; before any other write, Context.claim_key), so a request costs
    no call of its own for it: when the key turns out to be held, the request stops
    there with nothing written and the held record answers it.
    """
    async def respond() -> web.Response:
        try:
            return await run()
        except ApiError as exc:
            if exc.status == 404:
                await explain_eviction(store, namespace, "", exc)
            return render(exc)

    def held(record: IdempotencyRecord) -> web.Response:
        if record.fingerprint != fingerprint:
            raise mismatch()
        if not record.finished:
            raise in_flight()
        assert record.status is not None and record.body is not None
        headers = dict(record.headers or {})
        if replay_header:
            headers[replay_header] = "true"
        return web.Response(status=record.status, body=record.body, headers=headers)

    async def release() -> None:
        # Nothing to replay. If the store cannot even forget the claim, its lease ends
        # it (store.base.LEASE_SECONDS): a retry is never refused as in progress for good.
        if claim.taken:
            with contextlib.suppress(StoreUnavailable):
                await store.idempotency_release(namespace, key)

    unwritten = _UNWRITTEN.get((id(store), namespace, key))
    if unwritten is not None and unwritten.fingerprint == fingerprint:
        # StoreUnavailable: still down, the same retryable error
        return (await unwritten.write()).replay(replay_header)
    claim = ctx.claim = Claim(key, fingerprint, now)
    try:
        response = await respond()
    except KeyTaken as taken:
        return held(taken.record)
    except BaseException:
        await release()
        raise
    if response.status >= 500 or (response.status >= 400 and not ctx.executed):
        # Nothing happened that a retry must not repeat: a failure on the provider's
        # side, or a request refused before it reached the engine (its parameters):
        # as Stripe documents, such a result is not saved, and the key stays usable.
        await release()
        return response
    if not claim.taken:  # no write claimed it (the engine refused the change)
        record = await store.idempotency_begin(namespace, key, fingerprint, now)
        if record is not None:
            return held(record)
    body = response.body if isinstance(response.body, bytes) else b""
    kept = {k: v for k, v in response.headers.items()
            if k.lower() not in ("content-length", "date", "server")}
    try:
        await store.idempotency_finish(namespace, key, response.status, body, kept)
    except StoreUnavailable:
        # The change happened but its record could not be written: the client gets the
        # provider's retryable error, and the record is written once the store is back,
        # so its retry with the same key replays this response instead of repeating it.
        _Unwritten(store, namespace, key, fingerprint, now, response.status, body,
                   kept).keep()
        raise
    return response


class _Unwritten:
    """An idempotency record the store failed to take, kept in this process and written
    again (every half second, for at most LEASE_SECONDS) until the store takes it; a
    retry meanwhile gets the same retryable error, or once written, the replay. At most
    `_MAX_UNWRITTEN` are kept (the oldest go first; their keys' leases still free them)."""

    def __init__(self, store: Store, namespace: str, key: str, fingerprint: str, now: float,
                 status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.store, self.namespace, self.key, self.now = store, namespace, key, now
        self.fingerprint, self.status, self.body, self.headers = (fingerprint, status, body,
                                                                  headers)
        self.ident = (id(store), namespace, key)

    def keep(self) -> None:
        _UNWRITTEN[self.ident] = self
        while len(_UNWRITTEN) > _MAX_UNWRITTEN:
            del _UNWRITTEN[next(iter(_UNWRITTEN))]
        task = asyncio.get_running_loop().create_task(self._again())
        _RETRYING.add(task)
        task.add_done_callback(_RETRYING.discard)

    async def write(self) -> _Unwritten:
        """Store the record, claiming the key again if the store lost the claim (a
        restarted Redis); if the key already holds a finished record, that one stands.
        Returns what a retry replays."""
        found = await self.store.idempotency_begin(self.namespace, self.key,
                                                   self.fingerprint, self.now)
        if found is not None and found.finished:
            assert found.status is not None and found.body is not None
            result = _Unwritten(self.store, self.namespace, self.key, found.fingerprint,
                                found.created, found.status, found.body,
                                dict(found.headers or {}))
        else:
            await self.store.idempotency_finish(self.namespace, self.key, self.status,
                                                self.body, self.headers)
            result = self
        if _UNWRITTEN.get(self.ident) is self:
            del _UNWRITTEN[self.ident]
        return result

    def replay(self, replay_header: str | None) -> web.Response:
        headers = dict(self.headers)
        if replay_header:
            headers[replay_header] = "true"
        return web.Response(status=self.status, body=self.body, headers=headers)

    async def _again(self) -> None:
        deadline = time.monotonic() + LEASE_SECONDS
        while time.monotonic() < deadline and _UNWRITTEN.get(self.ident) is self:
            await asyncio.sleep(0.5)
            with contextlib.suppress(StoreUnavailable):
                await self.write()
                return
        if _UNWRITTEN.get(self.ident) is self:
            del _UNWRITTEN[self.ident]
            log.warning("an idempotency record was not written within %.0f s of the store "
                        "failing; the key's lease lets a retry run the request again",
                        LEASE_SECONDS)


_MAX_UNWRITTEN = 10_000
_UNWRITTEN: dict[tuple[int, str, str], _Unwritten] = {}
_RETRYING: set[asyncio.Task[None]] = set()

