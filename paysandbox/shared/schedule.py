"""Scheduled commands in Redis: every process may run a due one, exactly one does.

`schedule` (a sorted set, by virtual due time) holds each command as JSON
(paysandbox.shared.codec). A process claims what is due with one script that moves it
into `schedule:claims`, scored by the wall-clock end of its lease (`LEASE` seconds):
two processes never claim the same command. Once run, the claim is removed. A claim
whose lease ran out (its process died, or stalled that long) is claimed again by
whichever process looks next, so a command runs at least once; the commands are
idempotent (a payment that moved on is left alone, as in one process).

Bounds: at most `cap` commands wait (default 200,000); beyond it the one due furthest
in the future is dropped (logged and counted in `dropped`): the soonest deadlines are
the ones a test waits for. A command whose payment retention has evicted is dropped
when it comes due (NotFound). A command scheduled here reaches Redis within one pass of
the event loop (a background write, so a request never waits for it); up to `BUFFER`
may wait for that write while Redis is unreachable, beyond which the oldest are dropped
and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from paysandbox.core import payments
from paysandbox.core.clock import VirtualClock
from paysandbox.core.commands import Command
from paysandbox.engine import APPLIED, Engine, EventSource
from paysandbox.shared import stop_task
from paysandbox.shared.codec import BadCommand, Scheduled, decode, encode
from paysandbox.store.base import NotFound, StoreUnavailable

log = logging.getLogger("paysandbox.shared")

#: Wall seconds a claimed command is held by its process before another may run it.
LEASE = 5.0
#: Wall seconds between looks at the schedule when nothing local wakes the runner (a
#: command scheduled by another process is run at most this late).
POLL = 0.25
#: Commands claimed in one call (the earliest due first).
BATCH = 256
BUFFER = 10_000

# KEYS: due; ARGV: cap, then (score, member) pairs. Returns how many were dropped.
_ADD = """
for i = 2, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if excess > 0 then
  redis.call('ZPOPMAX', KEYS[1], excess)
  return excess
end
return 0
"""

# KEYS: due, claims; ARGV: virtual now, wall now, lease, limit. Claims lapsed leases
# first, then what is due; returns {claimed, first due score, first lease end}.
_CLAIM = """
local out = {}
local lease_end = tonumber(ARGV[2]) + tonumber(ARGV[3])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])
for _, m in ipairs(lapsed) do
  redis.call('ZADD', KEYS[2], lease_end, m)
  table.insert(out, m)
end
local room = tonumber(ARGV[4]) - #out
if room > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, room)
  for _, m in ipairs(due) do
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZADD', KEYS[2], lease_end, m)
    table.insert(out, m)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {out, first[2] or '', lease[2] or ''}
"""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SharedSchedule:
    """The engine's schedule when it lives in Redis (Engine.schedule_sink)."""

    def __init__(self, client: aioredis.Redis, key: Callable[[str], str], *,
                 engine: Engine, providers: Mapping[str, EventSource],
                 cap: int = 200_000, lease: float = LEASE) -> None:
        self._client = client
        self.due_key, self.claims_key = key("schedule"), key("schedule:claims")
        self._engine = engine
        self._clock: VirtualClock = engine.clock
        self._providers = providers
        self.cap = cap
        self.lease = lease
        self._add = client.register_script(_ADD)
        self._claim = client.register_script(_CLAIM)
        self._pending: deque[tuple[float, bytes]] = deque(maxlen=BUFFER)
        self._writer: asyncio.Task[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._kicked = False  # something may be due sooner than the runner thought
        self._napping: asyncio.Future[None] | None = None
        self._refused: set[str] = set()
        self.dropped = 0
        self._down = False
        self._unsubscribe: Callable[[], None] | None = None

    # -- scheduling (the request path) ---------------------------------------------

    def add(self, provider: EventSource, namespace: str, command: Command,
            at: float) -> bool:
        """Queue `command` for the fleet; False for a type the codec cannot write (the
        engine then keeps it in this process, and it is said once in the log)."""
        try:
            member = encode(Scheduled(secrets.token_hex(8), provider.name, namespace, at,
                                      command))
        except BadCommand as exc:
            kind = type(command).__name__
            if kind not in self._refused:
                self._refused.add(kind)
                log.error("%s; it runs in this process only, and is lost if it dies", exc)
            return False
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append((at, member))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return True

    async def _write(self) -> None:
        while self._pending:
            batch = list(self._pending)
            args: list[Any] = [self.cap]
            for at, member in batch:
                args += [repr(at), member]
            try:
                dropped = int(await self._add(keys=[self.due_key], args=args))
            except (RedisError, OSError) as exc:
                self._unreachable(exc)
                await asyncio.sleep(1.0)
                continue
            for _ in batch:
                self._pending.popleft()
            if dropped:
                self.dropped += dropped
                log.warning("the shared schedule holds %d commands, its cap: dropped the "
                            "%d due furthest in the future", self.cap, dropped)
            self._wake()

    def _wake(self) -> None:
        self._kicked = True
        napping = self._napping
        if napping is not None and not napping.done():
            napping.set_result(None)

    async def _nap(self, seconds: float) -> None:
        """Sleep `seconds`, or less when woken. A timer rather than asyncio.wait_for,
        whose 3.11 version can swallow a cancellation."""
        if self._kicked:
            return
        loop = asyncio.get_running_loop()
        napping = self._napping = loop.create_future()
        timer = loop.call_later(seconds, _resolve, napping)
        try:
            await napping
        finally:
            timer.cancel()
            self._napping = None

    # -- running ---------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self._clock.on_advance(lambda _now: self._wake())
        self._runner = asyncio.get_running_loop().create_task(  # no request's effects
            self._run(), context=contextvars.Context())

    async def stop(self) -> None:
        """Write what is still queued (briefly), then stop claiming."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        writer = self._writer
        if writer is not None and not writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
            await stop_task(writer)
        runner, self._runner = self._runner, None
        await stop_task(runner)

    def _unreachable(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning("shared schedule: Redis unreachable (%s); retrying every second", exc)

    async def run_due(self) -> float:
        """Claim and run what is due now; the wall seconds until something may be due."""
        raw = await self._claim(keys=[self.due_key, self.claims_key],
                                args=[repr(self._clock.now()), repr(time.time()),
                                      self.lease, BATCH])
        if self._down:
            self._down = False
            log.info("shared schedule: Redis answers again")
        members, first_due, lease_end = raw
        items = []
        for member in members:
            try:
                items.append((decode(member), member))
            except BadCommand as exc:
                log.error("dropping a scheduled command: %s", exc)
                await self._client.zrem(self.claims_key, member)
        for item, member in sorted(items, key=lambda i: i[0].at):
            await self._execute(item)
            await self._client.zrem(self.claims_key, member)
        if members:
            return 0.0
        wait = POLL
        if first_due:
            wait = min(wait, self._clock.real_seconds_until(float(first_due)))
        if lease_end:
            wait = min(wait, max(0.0, float(lease_end) - time.time()))
        return wait

    async def _execute(self, item: Scheduled) -> None:
        provider = self._providers.get(item.provider)
        if provider is None:
            log.error("dropping a scheduled %s of %s: provider %r is not mounted in this "
                      "process (every process of a fleet should serve the same providers)",
                      item.command.operation, item.command.payment_id, item.provider)
            return
        APPLIED.set(None)  # each command its own scenario effects, not the one before's
        try:
            await self._engine.execute(provider, item.namespace, item.command, scheduled=True)
        except (payments.PaymentError, NotFound):
            pass  # paid before it expired, or reset or evicted: nothing left to do
        except StoreUnavailable:
            raise  # not run: its claim stays, and its lease brings it back
        except Exception:  # a bug, or the store failing: the rest still run
            log.exception("scheduled %s of %s failed", item.command.operation,
                          item.command.payment_id)

    async def _run(self) -> None:
        while True:
            self._kicked = False  # before looking: a command added meanwhile wakes it
            try:
                wait = await self.run_due()
            except (RedisError, OSError, StoreUnavailable) as exc:
                self._unreachable(exc)
                wait = 1.0
            if wait <= 0:
                await asyncio.sleep(0)
                continue
            await self._nap(wait)
