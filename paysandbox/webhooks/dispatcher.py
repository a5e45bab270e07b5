"""Outbox and dispatcher: at-least-once delivery on the virtual clock.

One pooled `aiohttp.ClientSession` serves every delivery. Each provider contributes a
`WebhookScheme` (how to sign, what counts as accepted, when to retry); the dispatcher
does the rest the same way for all of them. Retry delays are virtual seconds, so
`--clock-scale` and `POST /__admin/clock/advance` make a day of retries pass in
seconds.

Everything is bounded, so a receiver that is slow or gone costs memory and CPU in
proportion to the bounds, not to the run's length (and a host that cannot be reached
costs no connections: see `_Breaker`): at most `concurrency` attempts run at
once per receiving host (`--delivery-concurrency`), at most `max_owed` deliveries are
owed (`--delivery-queue`: waiting for their first attempt or a retry; when one more is
published, the oldest owed one fails as "dropped: queue full" and is counted), and the
delivery log keeps the newest `log_size` records (`--delivery-log`) whatever their state.

This queue and log live in the process. With the Redis store a fleet shares them in
Redis instead (`paysandbox.webhooks.outbox.RedisDispatcher`), so a process that dies
owes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from paysandbox import tracing
from paysandbox.core.clock import VirtualClock
from paysandbox.core.payments import Payment
from paysandbox.settings import default_secret
from paysandbox.webhooks.destinations import (
    Destinations,
    GuardedResolver,
    display_url,
    refused_cause,
)

log = logging.getLogger("paysandbox.webhooks")


@dataclass(frozen=True, slots=True)
class Signed:
    """What goes on the wire for one delivery attempt."""

    body: bytes
    headers: Mapping[str, str]


class WebhookScheme(Protocol):
    """What differs between providers' webhooks; everything else is shared."""

    #: Virtual seconds to wait before each retry; its length is the number of retries.
    retry_schedule: Sequence[float]

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        """The body and headers (signature, content type) of one delivery attempt.

        Most schemes sign in a header and send the body as it is; some sign inside the
        body (Adyen's `additionalData.hmacSignature`) and return a new one."""

    def accepted(self, status: int, body: bytes) -> bool:
        """Whether the receiver acknowledged the delivery."""


#: How an event's body is made from the payment it announces: (event id, type, created,
#: the payment as it was, the recipe's argument) -> body.
Recipe = Callable[[str, str, float, Payment, str], bytes]

#: Recipes by name, registered by the providers whose events have one (`recipe`).
RECIPES: dict[str, Recipe] = {}


def recipe(name: str, make: Recipe) -> None:
    """Register how the events whose `recipe` is `name` are rendered, so that a store
    keeping the payment as it was (the Redis store keeps it once per state change) need
    not keep each event's body too: it renders it when it is read, as the memory store
    does with the event itself."""
    RECIPES[name] = make


def rendered(name: str, event_id: str, type_: str, created: float, payment: Payment,
             arg: str) -> bytes:
    """The body of an event kept as its recipe and the payment it announces."""
    make = RECIPES.get(name)
    if make is None:
        raise LookupError(f"no provider loaded in this process renders events of the "
                          f"recipe {name!r} (event {event_id})")
    return make(event_id, type_, created, payment, arg)


#: What the events of one change are rendered from besides their recipe (Event.recipe):
#: its argument (a refund's id, or empty) and the payment as it was when they happened;
#: one tuple shared by the change's events.
Source = tuple[str, Payment]


class Event:
    """One event as a provider would emit it.

    The body is rendered on first use from a snapshot taken when the event happened
    (payments are immutable), so emitting an event costs nothing on the request path
    when no one is listening. An event with a `recipe` (and its `source`) says how, so
    that a store may keep that instead of the body.
    """

    __slots__ = ("_body", "_render", "created", "id", "namespace", "provider", "recipe",
                 "source", "type", "url")

    def __init__(self, *, id: str, provider: str, namespace: str, type: str, created: float,
                 render: Callable[[], bytes], url: str | None = None,
                 recipe: str | None = None, source: Source | None = None) -> None:
        self.id = id
        self.provider = provider
        self.namespace = namespace
        self.type = type
        self.created = created
        # Where the request that caused it said to send it (Mollie's webhookUrl, Daraja's
        # CallBackURL, Mercado Pago's notification_url): it goes there and nowhere else.
        self.url = url
        self.recipe = recipe
        self.source = source
        self._render: Callable[[], bytes] | None = render
        self._body = b""

    @property
    def body(self) -> bytes:
        if self._render is not None:
            self._body = self._render()
            self._render = None
        return self._body

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "provider": self.provider, "type": self.type,
                "created": self.created}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where one provider's webhooks go. `namespace` None means every namespace."""

    url: str
    secret: str
    provider: str
    namespace: str | None = None
    events: frozenset[str] = frozenset({"*"})
    id: str = ""

    def wants(self, event: Event) -> bool:
        if self.namespace is not None and self.namespace != event.namespace:
            return False
        return "*" in self.events or event.type in self.events


@dataclass(slots=True)
class Attempt:
    at: float
    status: int | None
    error: str | None
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "status": self.status, "error": self.error,
                "duration_ms": round(self.duration_ms, 2)}


DROPPED = "dropped: queue full"


@dataclass(slots=True)
class Delivery:
    id: str
    event: Event
    endpoint: Endpoint
    scheme: WebhookScheme
    state: str = "pending"  # pending | delivering | delivered | failed
    next_attempt_at: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    # Webhook chaos from a scenario: attempts that fail without being sent, a wrong
    # signature, a timestamp signed ten minutes in the past.
    fail_first: int = 0
    bad_signature: bool = False
    stale: bool = False
    failure: str | None = None  # why it failed for good: the last error, or DROPPED
    #: W3C trace context: the trace of the request that caused the event, or a new one;
    #: each attempt is sent as a new span of it (tracing.child).
    traceparent: str = field(default_factory=lambda: tracing.child(tracing.current()))
    queued_at: float = field(default_factory=time.perf_counter)  # for delivery latency

    def matches(self, *, provider: str | None = None, namespace: str | None = None,
                event_id: str | None = None, state: str | None = None) -> bool:
        """Whether the delivery log's filters (None: any) select it."""
        return (not provider or self.event.provider == provider) and \
            (not namespace or self.event.namespace == namespace) and \
            (not event_id or self.event.id == event_id) and (not state or self.state == state)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.event.provider,
            "namespace": self.event.namespace,
            "event_id": self.event.id,
            "event_type": self.event.type,
            "url": display_url(self.endpoint.url),
            "state": self.state,
            "next_attempt_at": self.next_attempt_at if self.state == "pending" else None,
            "attempts": [a.to_json() for a in self.attempts],
            "failure": self.failure,
            "trace_id": tracing.trace_id(self.traceparent),
        }


class _Breaker:
    """A receiving host that cannot be reached (refused, timed out) `THRESHOLD` times in a
    row costs no more connections: its deliveries' attempts fail at once, without one,
    except one probe a `PROBE_EVERY` seconds; the first that gets through closes it. So a
    dead receiver costs the simulator about nothing per delivery."""

    THRESHOLD = 5
    PROBE_EVERY = 1.0

    __slots__ = ("failures", "host", "last_error", "next_probe")

    def __init__(self, host: str) -> None:
        self.host = host
        self.failures = 0
        self.last_error: str | None = None
        self.next_probe = 0.0

    def holds(self) -> bool:
        if self.failures < self.THRESHOLD:
            return False
        now = time.monotonic()
        if now >= self.next_probe:
            self.next_probe = now + self.PROBE_EVERY  # this attempt is the probe
            return False
        return True

    def record(self, *, unreachable: bool, error: str | None) -> None:
        if unreachable:
            self.failures += 1
            self.last_error = error
            if self.failures == self.THRESHOLD:
                self.next_probe = time.monotonic() + self.PROBE_EVERY
                log.warning("webhook receiver %s unreachable %d times in a row (%s): its "
                            "deliveries fail without a connection, one probe a second, "
                            "until it answers", self.host, self.failures, error)
        else:
            if self.failures >= self.THRESHOLD:
                log.warning("webhook receiver %s answers again", self.host)
            self.failures = 0

    @property
    def reason(self) -> str:
        return (f"not sent: {self.host} unreachable for the last {self.failures} attempts "
                f"({self.last_error}); one probe a second until it answers")


_MAX_BREAKERS = 1024


class _Lane:
    """The deliveries due for one receiving host, and how many workers send them."""

    __slots__ = ("ready", "workers")

    def __init__(self) -> None:
        self.ready: deque[Delivery] = deque()
        self.workers = 0


@functools.lru_cache(maxsize=4096)
def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


class Dispatcher:
    """Schedules deliveries on the virtual clock and sends them with retries."""

    def __init__(self, clock: VirtualClock, *, concurrency: int = 64,
                 max_owed: int = 10_000, timeout: float = 10.0, log_size: int = 10_000,
                 destinations: Destinations | None = None, keep_replies: bool = False,
                 resolver: AbstractResolver | None = None) -> None:
        self._clock = clock
        self._resolver = resolver  # the name lookup the destination check wraps
        #: Where deliveries may go; providers check callback URLs from requests with it.
        self.destinations = destinations or Destinations()
        self._keep_replies = keep_replies
        self._timeout = timeout
        self._concurrency = max(1, concurrency)
        self._max_owed = max(1, max_owed)
        self._endpoints: dict[str, list[Endpoint]] = {}
        self._defaults: dict[str, list[Endpoint]] = {}
        self._deliveries: OrderedDict[str, Delivery] = OrderedDict()  # the log, newest last
        self._log_size = max(1, log_size)
        # Owed deliveries not being sent right now, oldest first: the ones a full queue
        # drops. Each is also in `_queue` (waiting for its time) or in a lane (due).
        self._owed: OrderedDict[str, Delivery] = OrderedDict()
        self._queue: list[tuple[float, int, Delivery]] = []
        self._lanes: dict[str, _Lane] = {}
        self._breakers: dict[str, _Breaker] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._workers: set[asyncio.Task[None]] = set()
        self._delivering = 0
        self._counts = {"delivered": 0, "failed": 0, "dropped": 0}
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._unsubscribe = clock.on_advance(lambda _now: self._wake.set())
        #: Told of every attempt's end (the app's metrics); a no-op unless set.
        self.observe: Callable[[Delivery, bool], None] = lambda _d, _ok: None

    # -- configuration -------------------------------------------------------------

    def configure(self, endpoint: Endpoint) -> None:
        """Set the dashboard-configured endpoint of a provider (replaces the previous)."""
        self._endpoints[endpoint.provider] = [endpoint]

    def unconfigure(self, provider: str) -> bool:
        return self._endpoints.pop(provider, None) is not None

    def configured(self) -> dict[str, list[Endpoint]]:
        return {k: list(v) for k, v in self._endpoints.items()}

    def remember_configuration(self) -> None:
        """Mark the endpoints configured now (at start-up) as the ones a reset restores."""
        self._defaults = {k: list(v) for k, v in self._endpoints.items()}

    def restore_configuration(self) -> None:
        self._endpoints = {k: list(v) for k, v in self._defaults.items()}

    # What the admin API calls: the same, and with a fleet's outbox, for every process.

    async def set_endpoint(self, endpoint: Endpoint) -> None:
        self.configure(endpoint)

    async def remove_endpoint(self, provider: str) -> bool:
        return self.unconfigure(provider)

    async def restore_endpoints(self) -> None:
        self.restore_configuration()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100,
                                           resolver=GuardedResolver(self.destinations,
                                                                    self._resolver)),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
        )
        self._loop_task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self, *, drain_timeout: float = 5.0) -> dict[str, int]:
        """Deliver what is due now (up to `drain_timeout`), then report what is left:
        attempts still running then are cut off and counted as owed."""
        self._unsubscribe()
        if self._loop_task is not None:
            # The loop waits on an Event, never in asyncio.wait_for (whose 3.11 version
            # can swallow this cancellation), so it ends here on every Python.
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        self._release_due(self._clock.now())
        cut_off = await self._end_workers(drain_timeout)
        summary = self.summary()
        summary["delivering"] = cut_off
        if self._session is not None:
            await self._session.close()
        return summary

    async def _end_workers(self, drain_timeout: float) -> int:
        """Let the senders finish within `drain_timeout`, then cut off the rest; how
        many attempts were cut off."""
        if self._workers:
            await asyncio.wait(set(self._workers), timeout=max(0.0, drain_timeout))
        cut_off = self._delivering
        for task in list(self._workers):
            task.cancel()
        if self._workers:
            await asyncio.wait(set(self._workers))
        return cut_off

    def summary(self) -> dict[str, int]:
        """Counts since start (or a full reset): `pending` and `delivering` are owed now;
        `failed` includes the `dropped` ones (queue full)."""
        return {"pending": len(self._owed), "delivering": self._delivering,
                **self._counts}

    # -- publishing ----------------------------------------------------------------

    def publish(self, event: Event, scheme: WebhookScheme,
                endpoints: Sequence[Endpoint] = (), *, delay: float = 0.0,
                fail_first: int = 0, bad_signature: bool = False,
                stale: bool = False) -> list[Delivery]:
        """Queue `event` for every endpoint that wants it: the provider's configured
        one plus `endpoints` (those registered through the provider's own API); or, when
        the API named a URL for it, that URL only, signed with the provider's configured
        secret (the dashboard's) or else its default one."""
        created = []
        for endpoint in self._targets(event, endpoints):
            d = Delivery("whd_" + secrets.token_hex(8), event, endpoint, scheme,
                         fail_first=fail_first, bad_signature=bad_signature, stale=stale)
            self._remember(d)
            created.append(d)
            breaker = self._breakers.get(_host_of(endpoint.url)) if not delay else None
            if breaker is not None and breaker.holds():  # fails now, as it would when sent
                d.attempts.append(Attempt(self._clock.now(), None, breaker.reason, 0.0))
                self._after_attempt(d, False, breaker.reason)
                continue
            self._schedule(d, self._clock.now() + delay)
        return created

    def _targets(self, event: Event, endpoints: Sequence[Endpoint]) -> list[Endpoint]:
        """The endpoints that get `event` (see `publish`)."""
        configured = self._endpoints.get(event.provider, ())
        if event.url:
            secret = configured[0].secret if configured else default_secret(event.provider)
            return [Endpoint(url=event.url, secret=secret, provider=event.provider,
                             namespace=event.namespace)]
        return [e for e in (*configured, *endpoints) if e.wants(event)]

    #: Whether deliveries outlive this process (the fleet's Redis outbox): then the engine
    #: awaits `flush` before it lists a request's events.
    durable = False

    async def flush(self) -> None:
        """Nothing to write: this dispatcher's outbox is the process's memory."""

    # The admin API's view of the delivery log: awaited, since a fleet's log is in Redis.

    async def list_deliveries(self, *, provider: str | None = None,
                              namespace: str | None = None, event_id: str | None = None,
                              state: str | None = None, limit: int = 100) -> list[Delivery]:
        return self.deliveries(provider=provider, namespace=namespace, event_id=event_id,
                               state=state, limit=limit)

    async def find(self, delivery_id: str) -> Delivery | None:
        return self.get(delivery_id)

    async def send_again(self, delivery_id: str) -> Delivery | None:
        return self.redeliver(delivery_id)

    async def discard(self, namespace: str | None = None) -> None:
        self.forget(namespace)

    def has_targets(self, provider: str) -> bool:
        return bool(self._endpoints.get(provider))

    def deliveries(self, *, provider: str | None = None, namespace: str | None = None,
                   event_id: str | None = None, state: str | None = None,
                   limit: int = 100) -> list[Delivery]:
        found = []
        for d in reversed(self._deliveries.values()):
            if d.matches(provider=provider, namespace=namespace, event_id=event_id,
                         state=state):
                found.append(d)
                if len(found) >= limit:
                    break
        return found

    def get(self, delivery_id: str) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    def redeliver(self, delivery_id: str) -> Delivery | None:
        """Send a delivery again now, whatever became of it (a new delivery record)."""
        old = self._deliveries.get(delivery_id)
        if old is None:
            return None
        d = Delivery("whd_" + secrets.token_hex(8), old.event, old.endpoint, old.scheme,
                     traceparent=tracing.child(old.traceparent))
        self._remember(d)
        self._schedule(d, self._clock.now())
        return d

    def forget(self, namespace: str | None = None) -> None:
        """Drop deliveries (all, or one namespace's) on reset; pending ones are cancelled."""
        for key, d in list(self._deliveries.items()):
            if namespace is None or d.event.namespace == namespace:
                if d.state == "pending":
                    d.state = "failed"
                    self._owed.pop(d.id, None)
                del self._deliveries[key]
        for key, d in list(self._owed.items()):  # owed, but already out of the log
            if namespace is None or d.event.namespace == namespace:
                d.state = "failed"
                del self._owed[key]
        if namespace is None:
            self._counts = dict.fromkeys(self._counts, 0)
        self._compact()

    # -- internals -----------------------------------------------------------------

    def _remember(self, d: Delivery) -> None:
        """Log it; the oldest record goes when the log is full, owed or not (an owed
        delivery is still sent; only its record is no longer listed)."""
        self._deliveries[d.id] = d
        if len(self._deliveries) > self._log_size:
            self._deliveries.popitem(last=False)

    def _schedule(self, d: Delivery, at: float) -> None:
        if len(self._owed) >= self._max_owed:
            self._drop_oldest()
        d.state = "pending"
        d.next_attempt_at = at
        self._owed[d.id] = d
        heapq.heappush(self._queue, (at, next(self._seq), d))
        if len(self._queue) > 2 * self._max_owed + 1024:
            self._compact()  # dropped deliveries still waiting for their time
            self._wake.set()
        elif self._queue[0][2] is d:  # sooner than anything the loop waits for
            self._wake.set()

    def _drop_oldest(self) -> None:
        _, d = self._owed.popitem(last=False)
        d.state = "failed"
        d.failure = DROPPED
        self._counts["failed"] += 1
        self._counts["dropped"] += 1
        dropped = self._counts["dropped"]
        if dropped & (dropped - 1) == 0:  # the 1st, 2nd, 4th, 8th…: a log line, not a flood
            log.warning("webhook queue full (%d owed deliveries, --delivery-queue): dropped "
                        "the oldest, %s to %s; %d dropped so far", self._max_owed, d.event.id,
                        d.endpoint.url, dropped)

    def _compact(self) -> None:
        """Forget queue entries of deliveries no longer owed (dropped, reset)."""
        self._queue = [entry for entry in self._queue if entry[2].state == "pending"]
        heapq.heapify(self._queue)
        for host, lane in list(self._lanes.items()):
            lane.ready = deque(d for d in lane.ready if d.state == "pending")
            if not lane.ready and not lane.workers:
                del self._lanes[host]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            self._release_due(self._clock.now())
            timer = None
            if self._queue:
                timer = loop.call_later(self._clock.real_seconds_until(self._queue[0][0]),
                                        self._wake.set)
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _release_due(self, now: float) -> None:
        """Hand every delivery whose time has come to its host's lane."""
        while self._queue and self._queue[0][0] <= now:
            _, _, d = heapq.heappop(self._queue)
            if d.state != "pending":
                continue  # dropped or reset meanwhile
            host = _host_of(d.endpoint.url)
            lane = self._lanes.get(host)
            if lane is None:
                lane = self._lanes[host] = _Lane()
            lane.ready.append(d)
            if len(lane.ready) > 2 * self._max_owed + 1024:
                self._compact()
            if lane.workers < self._concurrency:
                lane.workers += 1
                task = asyncio.create_task(self._work(host, lane))
                self._workers.add(task)
                task.add_done_callback(self._workers.discard)

    async def _work(self, host: str, lane: _Lane) -> None:
        """One of a host's at most `concurrency` senders: due deliveries, oldest first."""
        try:
            while lane.ready:
                d = lane.ready.popleft()
                if d.state != "pending":
                    continue
                self._owed.pop(d.id, None)
                ok, error = await self._try(host, d)
                self._after_attempt(d, ok, error)
        finally:
            lane.workers -= 1
            if not lane.workers and not lane.ready and self._lanes.get(host) is lane:
                del self._lanes[host]

    async def _try(self, host: str, d: Delivery) -> tuple[bool, str | None]:
        """One attempt, unless the host's breaker holds it back (recorded as failed)."""
        breaker = self._breaker(host)
        if breaker.holds():
            d.attempts.append(Attempt(self._due(d), None, breaker.reason, 0.0))
            return False, breaker.reason
        d.state = "delivering"
        self._delivering += 1
        try:
            ok, error = await self._attempt(d)
        finally:
            self._delivering -= 1
        last = d.attempts[-1]
        breaker.record(unreachable=last.status is None and len(d.attempts) > d.fail_first,
                       error=error)
        return ok, error

    def _due(self, d: Delivery) -> float:
        """When an attempt happens: when it fell due, so that after an advance of the
        clock past several retries, each one's successor is due (and runs) within it."""
        return min(d.next_attempt_at, self._clock.now())

    def _breaker(self, host: str) -> _Breaker:
        breaker = self._breakers.get(host)
        if breaker is None:
            breaker = self._breakers[host] = _Breaker(host)
            if len(self._breakers) > _MAX_BREAKERS:
                del self._breakers[next(iter(self._breakers))]
        return breaker

    async def _attempt(self, d: Delivery) -> tuple[bool, str | None]:
        started = time.perf_counter()
        at = self._due(d)
        secret = d.endpoint.secret + ("-wrong" if d.bad_signature else "")
        # Receivers check the signature's age against their own wall clock, so it is
        # signed with real time even when the virtual clock has been advanced.
        signed_at = int(time.time()) - (600 if d.stale else 0)
        signed = d.scheme.sign(d.event.body, secret, signed_at)
        status: int | None = None
        error: str | None = None
        ok = False
        if len(d.attempts) < d.fail_first:
            error = "failed by a scenario (webhooks.fail_first): not sent"
        else:
            ok, status, error = await self._post(d, signed)
        d.attempts.append(Attempt(at, status, error, (time.perf_counter() - started) * 1000))
        return ok, error

    async def _post(self, d: Delivery, signed: Signed) -> tuple[bool, int | None, str | None]:
        """One attempt. Credentials in the endpoint's URL (`http://user:pass@host/…`)
        are sent as Basic auth, as providers do for receivers that ask for it. Only to
        an allowed destination (checked on the address connected to), and a redirect is
        an answer, never followed."""
        assert self._session is not None
        # A scheme may address each delivery itself (Mercado Pago adds `?data.id=…`).
        address: Callable[[Event, str], str] | None = getattr(d.scheme, "address", None)
        url = address(d.event, d.endpoint.url) if address is not None else d.endpoint.url
        refusal = self.destinations.url_refusal(url)  # an address: aiohttp resolves no name
        if refusal is not None:
            return False, None, f"destination not allowed: {refusal}"
        try:
            async with self._session.post(url, data=signed.body, allow_redirects=False,
                                          headers={**signed.headers, "traceparent":
                                                   tracing.child(d.traceparent)}) as resp:
                body = await resp.read()
                if d.scheme.accepted(resp.status, body):
                    return True, resp.status, None
                moved = " (a redirect: not followed)" if 300 <= resp.status < 400 else ""
                reply = f": {body[:200]!r}" if self._keep_replies else \
                    f" ({len(body)} bytes)"
                return False, resp.status, f"receiver answered {resp.status}{moved}{reply}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            refused = refused_cause(exc)
            if refused is not None:
                return False, None, str(refused)
            text = str(exc).replace(d.endpoint.url, display_url(d.endpoint.url))
            return False, None, f"{type(exc).__name__}: {text}" if text else \
                type(exc).__name__

    def _after_attempt(self, d: Delivery, ok: bool, error: str | None) -> None:
        self.observe(d, ok)
        retries_done = len(d.attempts) - 1
        if ok:
            d.state = "delivered"
            self._counts["delivered"] += 1
            log.debug("delivered %s %s to %s", d.event.type, d.event.id,
                      display_url(d.endpoint.url))
        elif retries_done < len(d.scheme.retry_schedule):
            self._schedule(d, d.attempts[-1].at + d.scheme.retry_schedule[retries_done])
            log.debug("webhook %s to %s failed (%s); retry %d at virtual +%.0fs", d.event.id,
                      display_url(d.endpoint.url), error, retries_done + 1,
                      d.scheme.retry_schedule[retries_done])
        else:
            d.state = "failed"
            d.failure = error
            self._counts["failed"] += 1
            log.warning("webhook %s to %s failed for good after %d attempts: %s",
                        d.event.id, display_url(d.endpoint.url), len(d.attempts), error)
