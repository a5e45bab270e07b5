"""The fleet's webhook outbox: deliveries live in Redis, so a process that dies owes nothing.

With the Redis store every simulator process of a fleet shares one outbox, under the
store's fleet keys (one Redis Cluster slot, so each script below may touch all of them):

    outbox:due        a stream of deliveries whose time has come; every process reads it
                      through one consumer group (`senders`), each as its own consumer
    outbox:later      deliveries waiting for their time (a first attempt with a delay, a
                      retry), scored by virtual due time: owned by no process while they
                      wait; whichever process finds one due moves it to the stream (a Lua
                      script, so it moves once)
    outbox:log        the delivery log, delivery id -> record (hash), with
    outbox:log-order  its ids by a sequence number (sorted set, from outbox:log-seq) and
    outbox:log-ns     each one's namespace (hash): the newest `log_size` records are kept
    outbox:counts     delivered / failed / dropped, fleet-wide since the last full reset
    outbox:endpoints  provider -> the receivers set with --webhook or the admin API (JSON)

A process reads due entries with XREADGROUP, so each is held by one process, sends them
with the same lanes, breakers and signing as the in-process dispatcher, and acknowledges
an entry (XACK and XDEL) when it is delivered, given up on, or moved back to `later` for
its retry, in one script. While it holds entries it renews their lease (XCLAIM JUSTID
every third of `lease`); entries a process has not renewed for `lease` real seconds (it
died, or stalled) are taken over by another with XAUTOCLAIM and sent again. So delivery
is at least once across process death: an attempt that reached the receiver just before
its sender died is sent again, and the receiver sees that event twice (as it may from the
real providers; receivers dedupe by event id).

What stays per process: the receiving-host lanes (`--delivery-concurrency` per host per
process) and the breakers for unreachable hosts. The endpoints set through the admin API
are the fleet's (`outbox:endpoints`, followed every half second); those given with
`--webhook` join it at a process's start unless the fleet set that provider already
(each delivery carries its URL and secret, so whichever process sends it needs no
configuration). A delivery names its signing scheme by provider and is signed with that
provider's scheme in the process that sends it.

Bounds: at most `max_owed` deliveries owed fleet-wide (due or waiting); one more queued
beyond that (a new delivery or a retry) fails as "dropped: queue full" and is counted.
The log keeps the newest `log_size` records with their bodies; older records go,
owed or not (an owed delivery is still sent). Each process holds at most `held` entries
at once (four per allowed concurrent attempt, 16 or more), so one process cannot take the
fleet's whole queue.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from aiohttp.abc import AbstractResolver
from redis.exceptions import RedisError, ResponseError

from paysandbox import tracing
from paysandbox.core.clock import VirtualClock
from paysandbox.store.base import StoreUnavailable
from paysandbox.webhooks.destinations import Destinations
from paysandbox.webhooks.dispatcher import (
    DROPPED,
    Attempt,
    Delivery,
    Dispatcher,
    Endpoint,
    Event,
    WebhookScheme,
    _host_of,
    _Lane,
)

log = logging.getLogger("paysandbox.webhooks")

GROUP = "senders"
LEASE_SECONDS = 30.0

# KEYS: due stream, later, log, log order, counts, log namespaces, log sequence. ARGV:
# now, max owed, log size, then per delivery its id, due time, record, the record it has
# if the queue is full, and its namespace.
_ENQUEUE = """
local now, max, logmax = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local dropped = 0
for i = 4, #ARGV, 5 do
  local record = ARGV[i + 2]
  if redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= max then
    record = ARGV[i + 3]
    dropped = dropped + 1
    redis.call('HINCRBY', KEYS[5], 'failed', 1)
    redis.call('HINCRBY', KEYS[5], 'dropped', 1)
  elseif tonumber(ARGV[i + 1]) <= now then
    redis.call('XADD', KEYS[1], '*', 'd', record)
  else
    redis.call('ZADD', KEYS[2], ARGV[i + 1], record)
  end
  if redis.call('HSET', KEYS[3], ARGV[i], record) == 1 then
    redis.call('ZADD', KEYS[4], redis.call('INCR', KEYS[7]), ARGV[i])
    redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 4])
  end
  while redis.call('ZCARD', KEYS[4]) > logmax do
    local old = redis.call('ZPOPMIN', KEYS[4])[1]
    redis.call('HDEL', KEYS[3], old)
    redis.call('HDEL', KEYS[6], old)
  end
end
return dropped
"""

# KEYS: due stream, later. ARGV: now, how many at most. Returns how many moved and the
# next due time (or nil).
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, record in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'd', record)
  redis.call('ZREM', KEYS[2], record)
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or false}
"""

# KEYS: due stream, later, log, counts. ARGV: group, entry id, delivery id, record,
# outcome (delivered | failed | retry), due time of the retry. An entry already
# acknowledged (another process took it over after its lease and finished first, or a
# reset emptied the outbox) changes nothing: its outcome is the other one's.
_FINISH = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 0 then return 0 end
if ARGV[5] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[4])
else
  redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
end
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
return 1
"""

# KEYS: due stream. ARGV: group, then pairs of entry id and record: entries a stopping
# process read but never began, put back unowned (a new entry), so that another process
# reads them now rather than after the lease.
_HAND_BACK = """
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    redis.call('XADD', KEYS[1], '*', 'd', ARGV[i + 1])
  end
end
return 0
"""


class FleetStore(Protocol):
    """What the outbox needs of the Redis store: its connections and the fleet's keys."""

    @property
    def client(self) -> aioredis.Redis: ...

    def fleet_key(self, name: str) -> str: ...


@dataclass(slots=True)
class FleetDelivery(Delivery):
    """A delivery read from the fleet's outbox: which stream entry holds it, and which
    process made each attempt."""

    entry: str = ""
    by: list[str] = field(default_factory=list)
    scheme_name: str = ""

    def to_json(self) -> dict[str, Any]:
        doc = Delivery.to_json(self)
        for attempt, process in zip(doc["attempts"], self.by, strict=False):
            attempt["process"] = process
        return doc


def _endpoint_doc(endpoints: Sequence[Endpoint]) -> bytes:
    return orjson.dumps([{"url": e.url, "secret": e.secret, "namespace": e.namespace}
                         for e in endpoints])


class RedisDispatcher(Dispatcher):
    """The dispatcher of a fleet: the same sending, with the queue and log in Redis."""

    durable = True

    def __init__(self, store: FleetStore, clock: VirtualClock, *, lease: float = LEASE_SECONDS,
                 concurrency: int = 64, max_owed: int = 10_000, timeout: float = 10.0,
                 log_size: int = 10_000, destinations: Destinations | None = None,
                 keep_replies: bool = False, resolver: AbstractResolver | None = None) -> None:
        super().__init__(clock, concurrency=concurrency, max_owed=max_owed, timeout=timeout,
                         log_size=log_size, destinations=destinations,
                         keep_replies=keep_replies, resolver=resolver)
        self._redis = store.client
        self._stream = store.fleet_key("outbox:due")
        self._later = store.fleet_key("outbox:later")
        self._log = store.fleet_key("outbox:log")
        self._log_order = store.fleet_key("outbox:log-order")
        self._log_ns = store.fleet_key("outbox:log-ns")
        self._log_seq = store.fleet_key("outbox:log-seq")
        self._count_key = store.fleet_key("outbox:counts")
        self._endpoints_key = store.fleet_key("outbox:endpoints")
        self._lease = max(0.1, lease)
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._enqueue = self._redis.register_script(_ENQUEUE)
        self._promote = self._redis.register_script(_PROMOTE)
        self._finish = self._redis.register_script(_FINISH)
        self._hand_back = self._redis.register_script(_HAND_BACK)
        #: The providers' signing schemes by name (set by the app once providers load).
        self.schemes: Mapping[str, WebhookScheme] = {}
        self._unwritten: list[tuple[FleetDelivery, float]] = []
        self._writes: set[asyncio.Task[None]] = set()
        self._held: dict[str, FleetDelivery] = {}  # entry id -> delivery, read and not done
        self._room = max(16, 4 * self._concurrency)
        self._next_due: float | None = None
        self._fleet = {"pending": 0, "delivering": 0, "delivered": 0, "failed": 0,
                       "dropped": 0}
        self._trouble: str | None = None  # why the outbox cannot reach Redis, while so
        self._warned = False
        self._claim_from = "0-0"  # where the next XAUTOCLAIM goes on from
        self._stopping = False

    # -- publishing ----------------------------------------------------------------

    def publish(self, event: Event, scheme: WebhookScheme,
                endpoints: Sequence[Endpoint] = (), *, delay: float = 0.0,
                fail_first: int = 0, bad_signature: bool = False,
                stale: bool = False) -> list[Delivery]:
        """As the in-process dispatcher, but the deliveries are written to the fleet's
        outbox by the next `flush`, which the engine awaits before the event is listed."""
        if self.schemes.get(event.provider, scheme) is not scheme and not self._warned:
            self._warned = True
            log.warning("a %s event came with a webhook scheme other than %s's own; the "
                        "fleet's outbox signs every delivery with its provider's scheme",
                        event.provider, event.provider)
        created: list[Delivery] = []
        due = self._clock.now() + delay
        for endpoint in self._targets(event, endpoints):
            d = FleetDelivery("whd_" + secrets.token_hex(8), event, endpoint, scheme,
                              fail_first=fail_first, bad_signature=bad_signature,
                              stale=stale, next_attempt_at=due, scheme_name=event.provider)
            self._unwritten.append((d, due))
            created.append(d)
        return created

    async def flush(self) -> None:
        """Write what `publish` queued; returns when every write begun so far is done, so
        a request's deliveries are in Redis before its events are listed."""
        if self._unwritten:
            batch, self._unwritten = self._unwritten, []
            task = asyncio.ensure_future(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        if self._writes:
            await asyncio.gather(*self._writes)

    async def _write(self, batch: Sequence[tuple[FleetDelivery, float]]) -> None:
        args: list[Any] = [repr(self._clock.now()), self._max_owed, self._log_size]
        for d, due in batch:
            args += [d.id, repr(due), _dump(d, state="pending")]
            args += [_dump(d, state="failed", failure=DROPPED), d.event.namespace]
        try:
            dropped = await self._enqueue(
                keys=[self._stream, self._later, self._log, self._log_order, self._count_key,
                      self._log_ns, self._log_seq],
                args=args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"the webhook outbox (Redis) is unreachable: {exc}") from None
        if dropped:
            log.warning("webhook outbox full (%d owed deliveries in the fleet, "
                        "--delivery-queue): %d new deliveries dropped", self._max_owed,
                        dropped)

    # -- the admin API's view: the fleet's log -------------------------------------

    async def list_deliveries(self, *, provider: str | None = None,
                              namespace: str | None = None, event_id: str | None = None,
                              state: str | None = None, limit: int = 100) -> list[Delivery]:
        found: list[Delivery] = []
        seen: set[str] = set()
        start = 0
        while len(found) < limit:  # newest first, 500 at a time
            ids: Any = await self._redis.zrevrange(self._log_order, start, start + 499)
            start += 500
            if not ids:
                break
            for raw in await self._redis.hmget(self._log, ids):
                d = self._load(raw) if raw else None
                if d is None or d.id in seen:
                    continue
                seen.add(d.id)
                if not d.matches(provider=provider, namespace=namespace, event_id=event_id,
                                 state=state):
                    continue
                found.append(d)
                if len(found) >= limit:
                    break
        return found

    async def find(self, delivery_id: str) -> Delivery | None:
        raw = await self._redis.hget(self._log, delivery_id)
        return self._load(raw) if raw else None

    async def send_again(self, delivery_id: str) -> Delivery | None:
        old = await self.find(delivery_id)
        if not isinstance(old, FleetDelivery):
            return None
        now = self._clock.now()
        d = FleetDelivery("whd_" + secrets.token_hex(8), old.event, old.endpoint, old.scheme,
                          traceparent=tracing.child(old.traceparent), next_attempt_at=now,
                          scheme_name=old.scheme_name)
        self._unwritten.append((d, now))
        await self.flush()
        return d

    async def discard(self, namespace: str | None = None) -> None:
        """Forget deliveries on reset, the fleet's (all, or one namespace's): owed ones are
        not sent."""
        for d in self._held.values():
            if namespace is None or d.event.namespace == namespace:
                d.state = "failed"  # its sender skips it; the reset removed its entry
        if namespace is None:
            await self._redis.delete(self._stream, self._later, self._log, self._log_order,
                                     self._log_ns, self._log_seq, self._count_key)
            await self._ensure_group()
            self._fleet = dict.fromkeys(self._fleet, 0)
            return
        # redis-py types these replies loosely (bytes or str): they are bytes here.
        owners: Any = await self._redis.hgetall(self._log_ns)
        gone = [key for key, ns in owners.items() if ns == namespace.encode()]
        for at in range(0, len(gone), 1000):
            chunk = gone[at:at + 1000]
            pipe = self._redis.pipeline(transaction=False)
            pipe.hdel(self._log, *chunk)
            pipe.hdel(self._log_ns, *chunk)
            pipe.zrem(self._log_order, *chunk)
            await pipe.execute()
        waiting: Any = await self._redis.zrange(self._later, 0, -1)
        for raw in waiting:
            if _namespace_of(raw) == namespace:
                await self._redis.zrem(self._later, raw)
        due: Any = await self._redis.xrange(self._stream)
        for entry, fields in due:
            if _namespace_of(fields.get(b"d", b"")) == namespace:
                await self._redis.xack(self._stream, GROUP, entry)
                await self._redis.xdel(self._stream, entry)

    def deliveries(self, *, provider: str | None = None, namespace: str | None = None,
                   event_id: str | None = None, state: str | None = None,
                   limit: int = 100) -> list[Delivery]:
        raise TypeError("the fleet's delivery log is in Redis: use list_deliveries")

    def summary(self) -> dict[str, int]:
        """The fleet's counts as last read from Redis (at most half a second old):
        `pending` waiting for their time or a sender, `delivering` held by a sender."""
        return dict(self._fleet)

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        info: Any = await self._redis.info("server")
        version = tuple(int(p) for p in str(info.get("redis_version", "0")).split(".")[:2]
                        if p.isdigit())
        if version < (6, 2):  # XAUTOCLAIM, which takes over a dead process's deliveries
            raise StoreUnavailable(f"the webhook outbox needs Redis 6.2 or later; this one "
                                   f"is {info.get('redis_version')}")
        await self._ensure_group()
        # The endpoints given at start-up (--webhook) join the fleet's, unless the fleet
        # set that provider's already (through the admin API of any process).
        for provider, endpoints in self._defaults.items():
            await self._redis.hsetnx(self._endpoints_key, provider, _endpoint_doc(endpoints))
        self._follow_endpoints(await self._redis.hgetall(self._endpoints_key))
        await super().start()

    # -- endpoints set through the admin API: the fleet's ---------------------------

    async def set_endpoint(self, endpoint: Endpoint) -> None:
        await self._redis.hset(self._endpoints_key, endpoint.provider,
                               _endpoint_doc([endpoint]))
        self.configure(endpoint)

    async def remove_endpoint(self, provider: str) -> bool:
        removed = bool(await self._redis.hdel(self._endpoints_key, provider))
        return self.unconfigure(provider) or removed

    async def restore_endpoints(self) -> None:
        self.restore_configuration()
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(self._endpoints_key)
        for provider, endpoints in self._defaults.items():
            pipe.hset(self._endpoints_key, provider, _endpoint_doc(endpoints))
        await pipe.execute()

    def _follow_endpoints(self, stored: Mapping[Any, Any]) -> None:
        """Take the fleet's endpoints as this process's (every half second, with the
        counts): one set through any process's admin API reaches the others."""
        endpoints: dict[str, list[Endpoint]] = {}
        for provider, doc in stored.items():
            name = provider.decode() if isinstance(provider, bytes) else str(provider)
            try:
                endpoints[name] = [Endpoint(url=e["url"], secret=e["secret"], provider=name,
                                            namespace=e.get("namespace"))
                                   for e in orjson.loads(doc)]
            except (KeyError, TypeError, ValueError):
                continue  # not one of ours: skipped, as a reader cannot fix it
        self._endpoints = endpoints

    async def stop(self, *, drain_timeout: float = 5.0) -> dict[str, int]:
        """Finish the attempts under way (up to `drain_timeout`); what this process still
        holds stays in the outbox, and another process (or this one, restarted) sends it
        once its lease ends."""
        self._unsubscribe()
        self._stopping = True
        if self._loop_task is not None:
            # redis-py may turn a cancellation that lands inside a command into a
            # connection error, which the loop survives; the flag ends it either way.
            for _ in range(3):
                self._loop_task.cancel()
                self._wake.set()
                await asyncio.wait({self._loop_task}, timeout=1.0)
                if self._loop_task.done():
                    break
            self._loop_task = None
        unstarted: list[Any] = []
        for lane in self._lanes.values():
            for d in lane.ready:
                if isinstance(d, FleetDelivery) and d.state == "pending":
                    unstarted += [d.entry, _dump(d, state="pending")]
            lane.ready.clear()
        if unstarted:  # else they wait for the lease, as if this process had died
            with contextlib.suppress(RedisError, OSError):
                await self._hand_back(keys=[self._stream], args=[GROUP, *unstarted])
        cut_off = await self._end_workers(drain_timeout)
        if self._session is not None:
            await self._session.close()
        with contextlib.suppress(RedisError, OSError):
            await self._count()
        # The fleet's counts: what is still owed stays in Redis for the other processes.
        return {**self._fleet, "delivering": max(cut_off, self._fleet["delivering"])}

    async def _ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- the sending loop ----------------------------------------------------------

    async def _run(self) -> None:
        next_renewal = next_takeover = next_count = 0.0
        while not self._stopping:
            try:
                now = time.monotonic()
                await self._release()
                if now >= next_renewal:
                    await self._renew()
                    next_renewal = now + self._lease / 3
                if now >= next_takeover:
                    await self._take_over()
                    # a whole pass over the pending entries every half lease
                    next_takeover = now + (self._lease / 2 if self._claim_from == "0-0"
                                           else 0.0)
                if now >= next_count:
                    await self._count()
                    next_count = now + 0.5
                await self._read()
                if self._trouble is not None:
                    log.warning("webhook outbox: Redis answers again")
                    self._trouble = None
            except ResponseError as exc:
                if "NOGROUP" in str(exc) or "UNBLOCKED" in str(exc):
                    # A full reset (or a Redis restarted empty) took the stream away.
                    await self._ensure_group()
                    continue
                await self._wait_out(exc)
            except (RedisError, OSError) as exc:
                await self._wait_out(exc)
            except Exception:  # a bug must not stop the fleet's deliveries for good
                if self._stopping:
                    return
                log.exception("webhook outbox: unexpected error; carrying on in a second")
                await self._pause(1.0)

    async def _wait_out(self, exc: BaseException) -> None:
        if self._stopping:
            return
        reason = f"{type(exc).__name__}: {exc}"
        if self._trouble is None:  # a warning: the store's own line is the error
            log.warning("webhook outbox: Redis unreachable (%s); deliveries wait in Redis "
                        "and are sent when it answers", reason)
        self._trouble = reason
        await self._pause(1.0)

    async def _pause(self, seconds: float) -> None:
        """Wait on the wake-up event (a clock advance, a sender with room) or `seconds`;
        never in asyncio.wait_for (see Dispatcher.stop)."""
        self._wake.clear()
        timer = asyncio.get_running_loop().call_later(seconds, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    async def _release(self) -> None:
        """Move what is due from `later` to the stream (any process may, once each)."""
        moved, nxt = await self._promote(keys=[self._stream, self._later],
                                         args=[repr(self._clock.now()), 500])
        self._next_due = float(nxt) if nxt is not None else None
        if int(moved) >= 500:
            self._next_due = self._clock.now()  # more are due: come back at once

    async def _renew(self) -> None:
        """Keep this process's lease on what it holds."""
        if self._held:
            await self._redis.xclaim(self._stream, GROUP, self.consumer, 0,
                                     list(self._held), justid=True)

    async def _take_over(self) -> None:
        """Take what a process holds and has not renewed for the lease (it died)."""
        room = self._room - len(self._held)
        if room <= 0:
            return
        # XAUTOCLAIM looks at a window of the pending entries per call: go on from where
        # the last call stopped, so that a long list of live ones hides no dead one.
        reply = await self._redis.xautoclaim(self._stream, GROUP, self.consumer,
                                             int(self._lease * 1000), self._claim_from,
                                             count=room)
        cursor = reply[0]
        self._claim_from = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        taken = [m for m in reply[1] if m and m[1]]
        if taken:
            log.warning("webhook outbox: took over %d deliveries whose sender stopped "
                        "renewing its lease (%.0f s)", len(taken), self._lease)
            self._dispatch(taken)
        if self._claim_from != "0-0":
            return
        # Once a pass: consumers of processes long gone that hold nothing are forgotten,
        # so the group's list of them stays as short as the fleet.
        consumers: Any = await self._redis.xinfo_consumers(self._stream, GROUP)
        for c in consumers:
            name = c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])
            if name != self.consumer and not c["pending"] and \
                    c["idle"] > 10_000 * self._lease:
                await self._redis.xgroup_delconsumer(self._stream, GROUP, name)

    async def _count(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(self._count_key)
        pipe.xlen(self._stream)
        pipe.zcard(self._later)
        pipe.xpending(self._stream, GROUP)
        pipe.hgetall(self._endpoints_key)
        counts, due, later, pel, endpoints = await pipe.execute()
        self._follow_endpoints(endpoints)
        held = int(pel["pending"]) if isinstance(pel, dict) else 0
        fleet = {k.decode(): int(v) for k, v in counts.items()}
        self._fleet = {"pending": max(0, int(due) - held) + int(later), "delivering": held,
                       "delivered": fleet.get("delivered", 0),
                       "failed": fleet.get("failed", 0), "dropped": fleet.get("dropped", 0)}

    async def _read(self) -> None:
        room = self._room - len(self._held)
        wait = 0.5
        if self._next_due is not None:
            wait = min(wait, max(0.001, self._clock.real_seconds_until(self._next_due)))
        if room <= 0:
            await self._pause(wait)
            return
        reply: Any = await self._redis.xreadgroup(
            GROUP, self.consumer, {self._stream: ">"}, count=room,
            block=max(1, int(wait * 1000)))
        for _stream, messages in reply or ():
            self._dispatch(messages)

    def _dispatch(self, messages: Sequence[Any]) -> None:
        for entry_raw, fields in messages:
            entry = entry_raw.decode() if isinstance(entry_raw, bytes) else str(entry_raw)
            if entry in self._held:
                continue
            d = self._load(fields.get(b"d", b""))
            if d is None:  # not ours to read: acknowledged so that it is not read again
                task = asyncio.ensure_future(self._drop_entry(entry))
                self._workers.add(task)
                task.add_done_callback(self._workers.discard)
                continue
            d.entry = entry
            self._held[entry] = d
            host = _host_of(d.endpoint.url)
            lane = self._lanes.get(host)
            if lane is None:
                lane = self._lanes[host] = _Lane()
            lane.ready.append(d)
            if lane.workers < self._concurrency:
                lane.workers += 1
                task = asyncio.create_task(self._send(host, lane))
                self._workers.add(task)
                task.add_done_callback(self._workers.discard)

    async def _drop_entry(self, entry: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.xack(self._stream, GROUP, entry)
            await self._redis.xdel(self._stream, entry)

    async def _send(self, host: str, lane: _Lane) -> None:
        """One of a host's at most `concurrency` senders in this process."""
        try:
            while lane.ready:
                d = lane.ready.popleft()
                if not isinstance(d, FleetDelivery):
                    continue
                try:
                    if d.state == "pending":
                        await self._deliver(host, d)
                finally:
                    self._held.pop(d.entry, None)
                    self._wake.set()  # room to read more
        finally:
            lane.workers -= 1
            if not lane.workers and not lane.ready and self._lanes.get(host) is lane:
                del self._lanes[host]

    async def _deliver(self, host: str, d: FleetDelivery) -> None:
        error: str | None
        if d.scheme_name not in self.schemes:
            ok, error = False, (f"no webhook scheme for provider {d.scheme_name!r} in this "
                                "process (is the provider enabled here?)")
            d.attempts.append(Attempt(self._due(d), None, error, 0.0))
            d.by.append(self.consumer)
            await self._settle(d, ok, error, give_up=True)
            return
        ok, error = await self._try(host, d)
        d.by.append(self.consumer)
        await self._settle(d, ok, error)

    async def _settle(self, d: FleetDelivery, ok: bool, error: str | None, *,
                      give_up: bool = False) -> None:
        """Acknowledge the entry with its outcome: delivered, failed for good, or back to
        `later` for its retry. A Redis error leaves it held: it is sent again after the
        lease, by this process or another."""
        self.observe(d, ok)
        retries_done = len(d.attempts) - 1
        due = 0.0
        if ok:
            outcome = d.state = "delivered"
        elif not give_up and retries_done < len(d.scheme.retry_schedule):
            outcome, d.state = "retry", "pending"
            due = d.next_attempt_at = d.attempts[-1].at + d.scheme.retry_schedule[retries_done]
            log.debug("webhook %s failed (%s); retry %d at virtual %.0f", d.event.id, error,
                      retries_done + 1, due)
        else:
            outcome = d.state = "failed"
            d.failure = error
            log.warning("webhook %s to %s failed for good after %d attempts: %s",
                        d.event.id, d.endpoint.url, len(d.attempts), error)
        try:
            await self._finish(keys=[self._stream, self._later, self._log, self._count_key],
                               args=[GROUP, d.entry, d.id, _dump(d, state=d.state),
                                     outcome, repr(due)])
        except (RedisError, OSError) as exc:
            log.warning("webhook outbox: could not record delivery %s (%s); it is sent "
                        "again after its lease", d.id, exc)

    # -- records -------------------------------------------------------------------

    def _load(self, raw: bytes | str) -> FleetDelivery | None:
        """A delivery from its record; None (logged) for anything else."""
        try:
            doc = orjson.loads(raw)
            ev, ep = doc["event"], doc["endpoint"]
            body = base64.b64decode(ev["body"])
            event = Event(id=ev["id"], provider=ev["provider"], namespace=ev["namespace"],
                          type=ev["type"], created=ev["created"], url=ev.get("url"),
                          render=lambda: body)
            endpoint = Endpoint(url=ep["url"], secret=ep["secret"], provider=ep["provider"],
                                namespace=ep.get("namespace"),
                                events=frozenset(ep.get("events") or ("*",)),
                                id=ep.get("id") or "")
            name = doc["scheme"]
            scheme = self.schemes.get(name) or _NO_SCHEME
            attempts = [Attempt(a["at"], a["status"], a["error"], a["duration_ms"])
                        for a in doc["attempts"]]
            return FleetDelivery(
                doc["id"], event, endpoint, scheme, state=doc["state"],
                next_attempt_at=doc["next_attempt_at"], attempts=attempts,
                fail_first=doc["fail_first"], bad_signature=doc["bad_signature"],
                stale=doc["stale"], failure=doc.get("failure"),
                traceparent=doc["traceparent"], by=[a.get("process", "")
                                                    for a in doc["attempts"]],
                scheme_name=name)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("webhook outbox: a record that is not a delivery was skipped (%s: %s)",
                      type(exc).__name__, exc)
            return None


class _NoScheme:
    """Stands in for a provider this process does not serve: never sends (see _deliver)."""

    retry_schedule: Sequence[float] = ()

    def sign(self, body: bytes, secret: str, timestamp: int) -> Any:
        raise RuntimeError("no webhook scheme")

    def accepted(self, status: int, body: bytes) -> bool:
        return False


_NO_SCHEME: WebhookScheme = _NoScheme()


def _dump(d: FleetDelivery, *, state: str, failure: str | None = None) -> bytes:
    e, ep = d.event, d.endpoint
    return orjson.dumps({
        "id": d.id, "state": state, "next_attempt_at": d.next_attempt_at,
        "failure": failure if failure is not None else d.failure,
        "event": {"id": e.id, "provider": e.provider, "namespace": e.namespace,
                  "type": e.type, "created": e.created, "url": e.url,
                  "body": base64.b64encode(e.body).decode()},
        "endpoint": {"url": ep.url, "secret": ep.secret, "provider": ep.provider,
                     "namespace": ep.namespace, "events": sorted(ep.events), "id": ep.id},
        "scheme": d.scheme_name, "fail_first": d.fail_first,
        "bad_signature": d.bad_signature, "stale": d.stale, "traceparent": d.traceparent,
        "attempts": [{**a.to_json(), "duration_ms": a.duration_ms,
                      "process": d.by[i] if i < len(d.by) else ""}
                     for i, a in enumerate(d.attempts)],
    })


def _namespace_of(raw: bytes | str) -> str | None:
    try:
        namespace = orjson.loads(raw)["event"]["namespace"]
    except (ValueError, KeyError, TypeError):
        return None
    return namespace if isinstance(namespace, str) else None
