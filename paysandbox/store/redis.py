"""A Redis store: several simulator processes, or a restarted one, share one state.

Every key lives under a prefix (default `paysandbox:`), then `ns{<namespace>}`, the
namespace percent-encoded so it holds no `:`, no brace and no glob character; a
namespace's keys are therefore exactly those matching `<prefix>ns{<namespace>}:*`. The
braces make the namespace a Redis Cluster hash tag: all of a namespace's keys live in
one slot, so one script may touch any of them (`ns` before the brace keeps them apart
from the fleet's own keys, `<prefix>{fleet}:…`, whatever a credential is called). Per
namespace:

    pay:<id>            a payment, as data (string; see paysandbox.store.codec)
    order, order:<p>    payment ids in creation order, all and per provider (lists)
    aliases             alias -> payment id (hash), and aliases-of:<id> (set)
    evicted             ids forgotten by retention lately, oldest first (list + set)
    obj:<kind>          object id -> JSON, plus obj-order:<kind> for insertion order
    idem, idem-done     idempotency claims and responses as JSON (hashes), and
    idem-age            their age, to forget the oldest first (sorted set), and
    idem-meta           when each was claimed and until when its lease holds (hash)
    events              the outbox, newest first, capped at `max_events` (list; it
                        may hold a sixteenth more, at most 256, never shown); see
                        `_dump_events` for the forms of an event
    owed                ids of events whose deliveries the fleet's webhook outbox had
                        not yet taken when they were stored, by wall-clock time (sorted
                        set; emptied as it takes them, see Store.delivered)
    namespace           in a Redis Cluster only: the namespace's name (set; see below)

and the namespaces that hold anything: on one Redis the set `<prefix>{fleet}:namespaces`;
in a Redis Cluster, where a script may not reach beyond its namespace's slot, each
namespace's own `namespace` set (holding its name), found by a SCAN of every primary.

A Redis Cluster is given as `redis+cluster://HOST:PORT` (any node; `rediss+cluster://`
for TLS). The one write there that is not a single script is a commit whose records
belong to another namespace (a hosted page's challenge token): those records are written
first, then the payment's script, so a payment is never waiting on a page that does not
exist; a lost compare-and-set race may leave a token for a page whose payment moved on,
which the page then answers as it does any finished payment.

Keys written by releases before the hash-tagged layout (`<prefix><namespace>:…`) are not
read; `ping` logs how to remove them, and `POST /__admin/reset` does.

Payments are stored as versioned JSON (`paysandbox.store.codec`): reading a key never
constructs anything but the simulator's own types, so a key written by someone else is
refused with a clear error (`BadRecord`), never run. Records pickled by older releases
are refused the same way, with how to empty the store.

`transition` is a compare-and-set: read the payment, apply the pure function, and let a
Lua script store the result only if the stored bytes are still the ones read; on a lost
race, read again. Lua scripts also make each multi-key write atomic, so concurrent
processes never see half a write.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import orjson
import redis.asyncio as aioredis
from redis.exceptions import DataError, RedisClusterException, RedisError, ResponseError

from paysandbox.core.commands import NO_WRITES, Writes
from paysandbox.core.payments import Payment
from paysandbox.store.base import (
    LEASE_SECONDS,
    OWED_ALWAYS,
    OWED_NONE,
    AlreadyExists,
    Claim,
    Committed,
    Emit,
    IdempotencyRecord,
    KeyTaken,
    NotFound,
    StoreUnavailable,
)
from paysandbox.store.codec import BadRecord, decode_payment, encode_payment
from paysandbox.webhooks.dispatcher import Event, rendered

hiredis: Any
try:  # optional: the `redis` extra installs it
    import hiredis
except ImportError:  # pragma: no cover - without it, redis-py packs in Python
    hiredis = None

DEFAULT_PREFIX = "paysandbox:"
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

#: Payments whose last-seen bytes a process keeps, so that changing one it saw last
#: takes one call (RedisStore._remember).
_SEEN = 4096
_TYPED = 65_536
_BASES = 4096
#: Aliases, records or events one commit takes (each count is one byte, '0' + n).
_MOST = 200

_FOREIGN = re.compile(r"paysandbox-foreign (?P<key>\S+) holds a (?P<type>\w+), "
                      r"not a (?P<kind>\w+)")

log = logging.getLogger("paysandbox.store")

# Retention, when a commit creates a payment (its KEYS): beyond `max` payments the
# oldest goes with its aliases, and its ids are remembered (twice `max` ids at most) so
# that their 404 can say why; `prefix` is the namespace's key prefix.
_RETAIN = """
local function retain(max, prefix, length)
  if length > max then
    local old = redis.call('LPOP', KEYS[2])
    local of = prefix .. 'aliases-of:' .. old
    local gone = redis.call('SMEMBERS', of)
    if #gone > 0 then redis.call('HDEL', KEYS[5], unpack(gone)) end
    redis.call('DEL', prefix .. 'pay:' .. old, of)
    table.insert(gone, old)
    local evicted, set = prefix .. 'evicted', prefix .. 'evicted-set'
    local excess = redis.call('RPUSH', evicted, unpack(gone)) - 2 * max
    redis.call('SADD', set, unpack(gone))
    if excess > 0 then
      local forgotten = redis.call('LRANGE', evicted, 0, excess - 1)
      redis.call('LTRIM', evicted, excess, -1)
      redis.call('SREM', set, unpack(forgotten))
    end
    -- a provider's list holds no more than all of them do, so it is trimmed only here
    redis.call('LTRIM', KEYS[3], -max, -1)
  end
end
"""

# KEYS: objects, their order, namespaces; ARGV: id, JSON, namespace
_PUT_OBJECT = """
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
redis.call('SADD', KEYS[3], ARGV[3])
return 1
"""

# KEYS: objects, their order; ARGV: id
_DELETE_OBJECT = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 1
end
return 0
"""

# An idempotency record is its claim (fingerprint and time, written once) and, when the
# request finished, its response, in two hashes; `ages` orders keys by their last write
# so the oldest are forgotten first (as MemoryStore's OrderedDict with move_to_end).
_TOUCH = """
local function touch(claims, responses, ages, meta, key, max)
  local newest = redis.call('ZREVRANGE', ages, 0, 0, 'WITHSCORES')
  local score = 1
  if newest[2] then score = tonumber(newest[2]) + 1 end
  redis.call('ZADD', ages, score, key)
  local excess = redis.call('ZCARD', ages) - max
  if excess > 0 then
    local old = redis.call('ZRANGE', ages, 0, excess - 1)
    redis.call('ZREMRANGEBYRANK', ages, 0, excess - 1)
    redis.call('HDEL', claims, unpack(old))
    redis.call('HDEL', responses, unpack(old))
    redis.call('HDEL', meta, unpack(old))
  end
end
"""

# One state change in one call (Store.commit). The bounds are the process's own, in the
# script's source (`_commit_script`), not arguments: each argument is a string Redis
# parses and Lua allocates on every call. KEYS: payment, order, provider order,
# namespaces, aliases, events; every other key of the namespace is made from its prefix
# (the order key's, without `order`) when it is needed. ARGV: the bytes expected ('' to
# create), the bytes to store, id, namespace, then the flags and counts as one string,
# each of the first six bytes '0' plus a number (read with string.byte: a Lua pattern
# costs more than the rest of the script's parsing): whether to check the keys' types
# (see RedisStore._typed), to claim an idempotency key, to note the events as owed
# deliveries (1 yes, 2 if records were read), the numbers of aliases, records and
# events; then the kind of records to read ('-' for none). Then the aliases, for each
# record its namespace ('' for this one, else its key prefix, `}:`, a newline and its
# name), kind, id and JSON, the events, then if claiming the key, its claim and virtual
# now, and if claiming or noting the wall-clock time. The events' ids, which owed
# deliveries are noted by, are read from their headers (`_dump_event`: the id first).
# Returns -1 when a payment to create exists, {2, claim, response} when the key is held,
# {0, the stored bytes or false} when they are not the ones expected (nothing written in
# either case), else {1, the records read}, or {3, …} when the events were noted as owed.
_COMMIT = _RETAIN + _TOUCH + """
local function writable(key, kind)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= kind then
    error('paysandbox-foreign ' .. key .. ' holds a ' .. t .. ', not a ' .. kind)
  end
end
local check, claiming, noting, n, m, e = string.byte(ARGV[5], 1, 6)
check, claiming, noting = check - 48, claiming == 49, noting - 48
n, m, e = n - 48, m - 48, e - 48
local kind = string.sub(ARGV[5], 7)
local prefix = string.sub(KEYS[2], 1, -6)
local at = 6 + n
local ev = at + 4 * m
local ic = ev + e
local wall = ARGV[ic + (claiming and 3 or 0)]
local claims, responses, ages, meta
if claiming then
  claims, responses = prefix .. 'idem', prefix .. 'idem-done'
  ages, meta = prefix .. 'idem-age', prefix .. 'idem-meta'
  local claim = redis.call('HGET', claims, ARGV[ic])
  if claim then
    local response = redis.call('HGET', responses, ARGV[ic])
    local held = redis.call('HGET', meta, ARGV[ic]) or ''
    local at, leased = string.match(held, '^(%S+) (%S+)$')
    local expired = at and tonumber(ARGV[ic + 2]) - tonumber(at) >= TTL
    if not expired and (response or tonumber(leased or '0') > tonumber(wall)) then
      return {2, claim, response or ''}
    end
  end
end
-- A record's namespace: '' for this one, else "<its key prefix>\\n<its name>"
local function place(where)
  if where == '' then return prefix, ARGV[4] end
  local cut = string.find(where, '}:\\n', 1, true)
  return string.sub(where, 1, cut + 1), string.sub(where, cut + 3)
end
local created = ARGV[1] == ''
if check == 1 then
  -- Every key is checked before the first write (the first time this process writes
  -- it): a script that fails half-way keeps the writes it made, so a key of another
  -- type (written by something else) must stop it before it changes anything.
  if created then
    if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
  else
    local stored = redis.call('GET', KEYS[1])
    if stored ~= ARGV[1] then return {0, stored} end
  end
  writable(KEYS[1], 'string') writable(KEYS[2], 'list') writable(KEYS[3], 'list')
  writable(KEYS[4], 'set') writable(KEYS[5], 'hash')
  if e > 0 then writable(KEYS[6], 'list') end
  if claiming then
    writable(claims, 'hash') writable(responses, 'hash') writable(ages, 'zset')
    writable(meta, 'hash')
  end
  if n > 0 then writable(prefix .. 'aliases-of:' .. ARGV[3], 'set') end
  for i = 0, m - 1 do
    local base = at + 4 * i
    local p = place(ARGV[base])
    writable(p .. 'obj:' .. ARGV[base + 1], 'hash')
    writable(p .. 'obj-order:' .. ARGV[base + 1], 'list')
  end
  redis.call('SET', KEYS[1], ARGV[2])
elseif created then
  -- the keys were checked before: the existence check and the write are one call
  if not redis.call('SET', KEYS[1], ARGV[2], 'NX') then return -1 end
else
  local stored = redis.call('GET', KEYS[1])
  if stored ~= ARGV[1] then return {0, stored} end
  redis.call('SET', KEYS[1], ARGV[2])
end
if n > 0 then
  local aliased = {}
  for i = 6, 5 + n do
    aliased[#aliased + 1] = ARGV[i]
    aliased[#aliased + 1] = ARGV[3]
  end
  redis.call('HSET', KEYS[5], unpack(aliased))
  redis.call('SADD', prefix .. 'aliases-of:' .. ARGV[3], unpack(ARGV, 6, 5 + n))
end
for i = 0, m - 1 do
  local base = at + 4 * i
  local p, ns = place(ARGV[base])
  if redis.call('HSET', p .. 'obj:' .. ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]) == 1 then
    redis.call('RPUSH', p .. 'obj-order:' .. ARGV[base + 1], ARGV[base + 2])
  end
  if ns ~= ARGV[4] then redis.call('SADD', KEYS[4], ns) end
end
if created then
  local length = redis.call('RPUSH', KEYS[2], ARGV[3])
  redis.call('RPUSH', KEYS[3], ARGV[3])
  -- The namespace is listed while its order holds a payment (reset removes both), so
  -- only its first payment lists it.
  if length == 1 then redis.call('SADD', KEYS[4], ARGV[4]) end
  retain(RETAIN, prefix, length)
end
if claiming then
  local key = ARGV[ic]
  redis.call('HDEL', responses, key)
  redis.call('HSET', claims, key, ARGV[ic + 1])
  redis.call('HSET', meta, key, ARGV[ic + 2] .. ' ' .. (tonumber(wall) + LEASE))
  touch(claims, responses, ages, meta, key, IDEMS)
end
if e == 0 then return {1} end
if redis.call('LPUSH', KEYS[6], unpack(ARGV, ev, ev + e - 1)) > EVENTS + SLACK then
  redis.call('LTRIM', KEYS[6], 0, EVENTS - 1)
end
local result = {1}
if kind ~= '-' then
  local ids = redis.call('LRANGE', prefix .. 'obj-order:' .. kind, 0, -1)
  if #ids > 0 then
    result = redis.call('HMGET', prefix .. 'obj:' .. kind, unpack(ids))
    table.insert(result, 1, 1)
  end
end
if noting == 1 or (noting == 2 and #result > 1) then
  local owed = {}
  for i = ev, ev + e - 1 do
    owed[#owed + 1] = wall
    owed[#owed + 1] = string.sub(ARGV[i], 8, string.find(ARGV[i], '"', 8, true) - 1)
  end
  redis.call('ZADD', prefix .. 'owed', unpack(owed))
  result[1] = 3
end
return result
"""


def _commit_script(*, retain: int, events: int, idempotency_keys: int, ttl: float,
                   lease: float) -> str:
    """The commit script with this store's bounds in its source (one script per set of
    bounds: processes configured alike share it). The events' list is trimmed back to
    `events` once it holds `events // 16` more (at most 256), not at every commit: the
    reader shows only the newest `events`."""
    def number(value: float) -> str:
        return repr(float(value)) if math.isfinite(value) else "math.huge"
    return (f"local RETAIN, EVENTS, IDEMS = {int(retain)}, {int(events)}, "
            f"{int(idempotency_keys)}\nlocal SLACK = {min(256, max(0, int(events)) // 16)}\n"
            f"local TTL, LEASE = {number(ttl)}, {number(lease)}\n" + _COMMIT)


# KEYS: claims, responses, ages, namespaces, meta; ARGV: key, claim JSON, max,
# namespace, virtual now, TTL (virtual seconds), wall-clock now, lease (seconds).
# `meta` holds "<virtual time claimed> <wall-clock lease end, 0 once finished>" per key.
# A key past its TTL is claimed anew; so is an unfinished claim whose lease ran out
# (its request died, or the store failed under it): nothing stays "in progress" for good.
_IDEMPOTENCY_BEGIN = _TOUCH + """
redis.call('SADD', KEYS[4], ARGV[4])
local claim = redis.call('HGET', KEYS[1], ARGV[1])
if claim then
  local response = redis.call('HGET', KEYS[2], ARGV[1])
  local meta = redis.call('HGET', KEYS[5], ARGV[1]) or ''
  local created, leased = string.match(meta, '^(%S+) (%S+)$')
  local expired = created and tonumber(ARGV[5]) - tonumber(created) >= tonumber(ARGV[6])
  if not expired and (response or tonumber(leased or '0') > tonumber(ARGV[7])) then
    return {claim, response or ''}
  end
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[5] .. ' ' .. (tonumber(ARGV[7]) + tonumber(ARGV[8])))
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[5], ARGV[1], tonumber(ARGV[3]))
return false
"""

# KEYS: claims, responses, ages, namespaces, meta; ARGV: key, response JSON, max,
# namespace
_IDEMPOTENCY_FINISH = _TOUCH + """
redis.call('SADD', KEYS[4], ARGV[4])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local created = string.match(redis.call('HGET', KEYS[5], ARGV[1]) or '', '^(%S+) ')
if created then redis.call('HSET', KEYS[5], ARGV[1], created .. ' 0') end
touch(KEYS[1], KEYS[2], KEYS[3], KEYS[5], ARGV[1], tonumber(ARGV[3]))
return 1
"""

# KEYS: events, namespaces; ARGV: event JSON, max, namespace
_APPEND_EVENTS = """
redis.call('LPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('SADD', KEYS[2], ARGV[2])
return 1
"""


def _pack_in_c(pool: aioredis.ConnectionPool) -> None:
    """With hiredis installed, the pool's connections pack commands with its C
    `pack_command` rather than redis-py's asyncio one in Python (which its synchronous
    client already leaves to hiredis): the same bytes on the wire, for a fraction of the
    cost of a commit's fifty-odd arguments."""
    if hiredis is None:
        return
    base = pool.connection_class
    pool.connection_class = type(f"Packed{base.__name__}", (_PackedInC, base), {})


class _PackedInC:
    def pack_command(self, *args: Any) -> list[bytes]:
        # As redis-py's: a command given with its literal arguments ('CONFIG GET')
        # goes as separate words.
        first = args[0]
        if isinstance(first, str):
            args = (*first.encode().split(), *args[1:])
        elif b" " in first:
            args = (*first.split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from None


def redacted(url: str) -> str:
    """The URL without its password, fit for a log line or a banner."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _guarded(method: Callable[Concatenate[RedisStore, _P], Coroutine[Any, Any, _T]]
             ) -> Callable[Concatenate[RedisStore, _P], Coroutine[Any, Any, _T]]:
    """A Redis that is down, stalled (`socket_timeout`) or refusing becomes
    StoreUnavailable, which the providers answer with their own retryable 5xx; the
    change of state is logged once each way, never a traceback per request."""
    @functools.wraps(method)
    async def call(self: RedisStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        started = time.monotonic()
        try:
            result = await method(self, *args, **kwargs)
        except StoreUnavailable:  # Redis answered, with a record the codec refuses
            raise
        except (RedisError, RedisClusterException, OSError) as exc:
            raise await self._unreachable(exc, started) from None
        if self._down is not None and started >= self._changed:
            self._back()
        return result
    return call


class RedisStore:
    """State in Redis, shared by every simulator process that uses the same URL and prefix.

    Per namespace the newest `retain_payments` payments are kept (with their aliases),
    `max_idempotency_keys` idempotency keys, each for `idempotency_ttl` virtual seconds,
    and `max_events` events (default: as many as payments; the list is trimmed once it
    holds a sixteenth more, at most 256, which are never shown)."""

    keeps_copies = True  # the payments it last wrote or read (_remember)

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, max_events: int | None = None,
                 max_idempotency_keys: int = 10_000, retain_payments: int = 10_000,
                 idempotency_ttl: float = 86_400.0, lease: float = LEASE_SECONDS,
                 timeout: float = 2.0) -> None:
        self.url = url
        self._prefix = prefix
        self._retain = max(1, retain_payments)
        self._max_events = max_events if max_events is not None else self._retain
        self._max_idempotency = max_idempotency_keys
        self._ttl = idempotency_ttl
        self._lease = lease
        self._down: str | None = None  # why the store is unreachable, while it is
        self._changed = 0.0  # monotonic time of the last change between up and down
        scheme, _, rest = url.partition("://")
        self.cluster = scheme in CLUSTER_SCHEMES
        self._redis: aioredis.Redis | aioredis.RedisCluster
        if self.cluster:
            self._redis = aioredis.RedisCluster.from_url(
                f"{CLUSTER_SCHEMES[scheme]}://{rest}", socket_connect_timeout=timeout,
                socket_timeout=timeout)
        else:
            self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=timeout,
                                                  socket_timeout=timeout)
            _pack_in_c(self._redis.connection_pool)
        self._commit = self._redis.register_script(_commit_script(
            retain=self._retain, events=self._max_events,
            idempotency_keys=max_idempotency_keys, ttl=idempotency_ttl, lease=lease))
        self._put_object = self._redis.register_script(_PUT_OBJECT)
        self._delete_object = self._redis.register_script(_DELETE_OBJECT)
        self._idem_begin = self._redis.register_script(_IDEMPOTENCY_BEGIN)
        self._idem_finish = self._redis.register_script(_IDEMPOTENCY_FINISH)
        self._append_events = self._redis.register_script(_APPEND_EVENTS)
        self._namespaces = self.fleet_key("namespaces")
        self._secrets: dict[str, bytes] = {}
        self._seen: OrderedDict[str, tuple[bytes, Payment]] = OrderedDict()
        # Keys a commit of this process has checked hold the type the simulator keeps
        # there (a commit checks every key it writes while one of them is new to it).
        # Something else replacing one later makes a write fail half-way instead, with
        # Redis' WRONGTYPE, told the same way. At most _TYPED keys, then checked again.
        self._typed: set[str] = set()
        self._bases: dict[str, str] = {}  # namespace -> its keys' prefix (_key)

    async def ping(self) -> None:
        """Fail early, with what to do, when the Redis cannot be reached."""
        try:
            await self._redis.ping()
            old_layout = await self._redis.exists(self._prefix + "namespaces")
        except (RedisError, RedisClusterException, OSError) as exc:
            await self._redis.aclose()
            raise StoreUnavailable(
                f"cannot reach Redis at {redacted(self.url)} ({exc}); start it (for example "
                "`redis-server`, or `docker compose --profile redis up`) or use "
                "--store memory") from None
        if old_layout:
            log.warning("Redis at %s holds state written by an older release (key "
                        "%snamespaces); it is not read. Remove it with POST /__admin/reset "
                        "(or FLUSHDB on a Redis of its own)", redacted(self.url), self._prefix)

    async def _unreachable(self, exc: BaseException, started: float) -> StoreUnavailable:
        """A failed call. The state changes (one log line) only for a call that began
        after the last change: one that began earlier, on a connection opened before a
        restart, says nothing new."""
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._down is None and started >= self._changed:
            log.error("store unreachable: Redis at %s (%s); requests get the provider's "
                      "retryable error until it is back", redacted(self.url), reason)
            self._down, self._changed = reason, time.monotonic()
        elif self._down is not None:
            self._down = reason
        # Idle pooled connections may be dead too (a restarted Redis): open new ones. (A
        # cluster client reconnects, and refreshes its map of the slots, by itself.)
        if isinstance(self._redis, aioredis.Redis):
            with contextlib.suppress(RedisError, OSError):
                await self._redis.connection_pool.disconnect(inuse_connections=False)
        return StoreUnavailable(f"the simulator's store (Redis at {redacted(self.url)}) is "
                                f"unreachable: {reason}")

    def _back(self) -> None:
        log.warning("store back: Redis at %s answers again", redacted(self.url))
        self._down, self._changed = None, time.monotonic()

    async def health(self) -> dict[str, Any]:
        """Asks Redis (within the store's timeout), so a stall shows here too."""
        with contextlib.suppress(StoreUnavailable):
            await self._ping()
        return {"backend": "redis", "url": redacted(self.url), "reachable": self._down is None,
                **({"error": self._down} if self._down is not None else {})}

    @_guarded
    async def _ping(self) -> None:
        await self._redis.ping()

    @property
    def client(self) -> aioredis.Redis:
        """The connection pool, for the fleet's shared state beside the payments
        (paysandbox.shared, the webhook outbox), which keeps its keys under
        `fleet_key`. In a cluster (`self.cluster`) it is a RedisCluster: the same
        commands, each routed to the slot of its keys, and every `fleet_key` is in one
        slot."""
        return cast("aioredis.Redis", self._redis)

    def fleet_key(self, name: str) -> str:
        """A key for state the whole fleet shares rather than one namespace (the clock,
        the scenarios, the schedule, the outbox). `{fleet}` is a Redis Cluster hash tag:
        all of them live in one slot, so one script may touch any of them."""
        return f"{self._prefix}{{fleet}}:{name}"

    def _key(self, namespace: str, suffix: str) -> str:
        base = self._bases.get(namespace)
        if base is None:  # quoting costs more than the rest of a key: once per namespace
            if len(self._bases) >= _BASES:
                self._bases.clear()
            base = self._bases[namespace] = f"{self._prefix}ns{{{quote(namespace, safe='')}}}:"
        return base + suffix

    def _registry(self, namespace: str) -> str:
        """Where a write records that `namespace` holds something: the fleet's set on one
        Redis; in a cluster the namespace's own set, in its slot (see `namespaces`)."""
        return self._key(namespace, "namespace") if self.cluster else self._namespaces

    def _payment_key(self, namespace: str, payment_id: str) -> str:
        return self._key(namespace, "pay:" + payment_id)

    # -- payments -------------------------------------------------------------------

    @_guarded
    async def create(self, payment: Payment) -> None:
        await self.commit(payment.namespace, payment.id, None, create=payment,
                          writes=NO_WRITES)

    @_guarded
    async def evicted(self, namespace: str, object_id: str) -> bool:
        return bool(await self._redis.sismember(self._key(namespace, "evicted-set"),
                                                object_id))

    @_guarded
    async def get(self, namespace: str, payment_id: str, *,
                  to_change: bool = False) -> Payment | None:
        key = self._payment_key(namespace, payment_id)
        if to_change:
            seen = self._seen.get(key)
            if seen is not None:
                return seen[1]
        raw = await self._redis.get(key)
        if raw is None:
            return None
        payment = decode_payment(_bytes(raw), key)
        self._remember(key, _bytes(raw), payment)
        return payment

    @_guarded
    async def transition(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment]
    ) -> tuple[Payment, Payment]:
        done = await self.commit(namespace, payment_id, fn, writes=NO_WRITES)
        assert done.before is not None  # (no payment was created)
        return done.before, done.after

    @_guarded
    async def commit(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment] | None,
        *, create: Payment | None = None, writes: Writes, emit: Emit | None = None,
        read: str | None = None, claim: Claim | None = None, owed: int = OWED_NONE
    ) -> Committed:
        """One script call when this process saw the payment last (it created or changed
        or read it, and no other process changed it since); otherwise the script answers
        with what is stored and the change is made again from that: two calls."""
        key = self._payment_key(namespace, payment_id)
        seen = self._seen.get(key) if create is None else None
        while True:
            if create is not None:
                raw: bytes = b""
                before = create
            elif seen is None:
                found = await self._redis.get(key)
                if found is None:
                    raise NotFound(namespace, payment_id)
                raw = _bytes(found)
                before = decode_payment(raw, key)
            else:
                raw, before = seen
            was = None if create is not None else before
            try:
                after = before if fn is None else fn(before)
                events = emit(was, after) if emit is not None and after is not was else ()
            except Exception:
                if seen is None:
                    raise
                seen = None  # refused on the copy this process kept: ask what is stored
                continue
            stored = encode_payment(after)
            records = writes.records_for(after)
            if self.cluster:  # another namespace is another slot: written first (above)
                elsewhere = [r for r in records if r.namespace not in (None, namespace)]
                records = tuple(r for r in records if r.namespace in (None, namespace))
                for r in elsewhere:
                    assert r.namespace is not None
                    await self._put(r.namespace, r.kind, r.id, _dump_object(r.value))
            claiming = claim if claim is not None and not claim.taken else None
            base = self._key(namespace, "")
            keys = [key, base + "order", base + "order:" + after.provider,
                    self._registry(namespace), base + "aliases", base + "events"]
            written = [*keys[1:5], *(keys[5:6] if events else ()),
                       *((base + "idem", base + "idem-done", base + "idem-age",
                          base + "idem-meta") if claiming is not None else ()),
                       *(f"{self._key(r.namespace or namespace, '')}{part}{r.kind}"
                         for r in records for part in ("obj:", "obj-order:"))]
            typed = self._typed
            check = not typed.issuperset(written)
            noting = 0
            if owed and events:
                noting = 1 if owed == OWED_ALWAYS or any(e.url for e in events) else \
                    2 if read is not None else 0
            counts = (len(writes.aliases), len(records), len(events))
            if max(counts) > _MOST:
                raise ValueError(f"one change of {payment_id} has {counts} aliases, "
                                 f"records and events; a commit takes {_MOST} of each")
            flags = bytes((48 + check, 48 + (claiming is not None), 48 + noting,
                           *(48 + c for c in counts))) + (read or "-").encode()
            args: list[Any] = [raw, stored, payment_id, namespace, flags, *writes.aliases]
            for r in records:
                ns = r.namespace
                args += ["" if ns is None or ns == namespace else
                         f"{self._key(ns, '')}\n{ns}", r.kind, r.id, _dump_object(r.value)]
            args += _dump_events(events, after, stored)
            if claiming is not None:
                args += [claiming.key, orjson.dumps({"fingerprint": claiming.fingerprint,
                                                     "created": claiming.now}), claiming.now]
            if claiming is not None or noting:
                args.append(time.time())
            try:
                done = await self._commit(keys=keys, args=args)
            except ResponseError as exc:
                foreign = _FOREIGN.search(str(exc))
                if foreign is None and str(exc).startswith("WRONGTYPE"):
                    typed.clear()
                    raise BadRecord(self._key(namespace, "*"), "one of these keys holds a "
                                    "value of another type than the simulator keeps there: "
                                    "something else replaced it since this process checked "
                                    "it, and this request's change may be partly written. "
                                    "Empty the namespace or the store with POST "
                                    "/__admin/reset.") from None
                if foreign is None:
                    raise
                raise BadRecord(foreign["key"], f"it holds a {foreign['type']} where the "
                                "simulator keeps a " + foreign["kind"] + "; something else "
                                "wrote it. Nothing of this request was stored. Remove the "
                                "key, or empty the store with POST /__admin/reset."
                                ) from None
            if done == -1:
                raise AlreadyExists(payment_id)
            if done[0] == 2:
                raise KeyTaken(_load_record(done[1], done[2]))
            if done[0] == 0:  # changed by another process since this one saw it
                if done[1] is None:
                    self._seen.pop(key, None)
                    raise NotFound(namespace, payment_id)
                current = _bytes(done[1])
                seen = current, decode_payment(current, key)
                continue
            self._remember(key, stored, after)
            if check:
                if len(typed) > _TYPED:
                    typed.clear()
                typed.update(written)
            if claiming is not None:
                claiming.taken = True
            return Committed(was, after, events,
                             [_load_object(v) for v in done[1:] if v is not None],
                             owed=done[0] == 3)

    def _remember(self, key: str, raw: bytes, payment: Payment) -> None:
        """The bytes of a payment as this process last wrote or read them, so that its
        next change is one call: the script compares them with what is stored. Bounded
        to `_SEEN` payments, the oldest forgotten first (its next change reads it)."""
        seen = self._seen
        seen[key] = raw, payment
        if len(seen) > _SEEN:
            seen.popitem(last=False)

    @_guarded
    async def list_payments(self, namespace: str, *, provider: str | None = None,
                            limit: int = 100) -> list[Payment]:
        if limit <= 0:
            return []
        order = self._key(namespace, "order" if provider is None else "order:" + provider)
        ids = await self._redis.lrange(order, -limit, -1)
        if not ids:
            return []
        keys = [self._payment_key(namespace, _text(i)) for i in reversed(ids)]
        return [decode_payment(_bytes(raw), key)
                for key, raw in zip(keys, await self._redis.mget(keys), strict=True)
                if raw is not None]

    # -- aliases and objects --------------------------------------------------------

    @_guarded
    async def link(self, namespace: str, alias: str, payment_id: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._key(namespace, "aliases"), alias, payment_id)
        pipe.sadd(self._key(namespace, "aliases-of:" + payment_id), alias)
        pipe.sadd(self._registry(namespace), namespace)
        await pipe.execute()

    @_guarded
    async def resolve(self, namespace: str, alias: str) -> str | None:
        found = await self._redis.hget(self._key(namespace, "aliases"), alias)
        return _text(found) if found is not None else None

    @_guarded
    async def put_object(self, namespace: str, kind: str, object_id: str,
                         value: Mapping[str, Any]) -> None:
        await self._put(namespace, kind, object_id, _dump_object(value))

    async def _put(self, namespace: str, kind: str, object_id: str, value: bytes) -> None:
        await self._put_object(
            keys=[self._key(namespace, "obj:" + kind), self._key(namespace, "obj-order:" + kind),
                  self._registry(namespace)],
            args=[object_id, value, namespace])

    @_guarded
    async def get_object(self, namespace: str, kind: str,
                         object_id: str) -> Mapping[str, Any] | None:
        raw = await self._redis.hget(self._key(namespace, "obj:" + kind), object_id)
        return _load_object(raw) if raw is not None else None

    @_guarded
    async def list_objects(self, namespace: str, kind: str) -> list[Mapping[str, Any]]:
        ids = await self._redis.lrange(self._key(namespace, "obj-order:" + kind), 0, -1)
        if not ids:
            return []
        values = await self._redis.hmget(self._key(namespace, "obj:" + kind), ids)
        return [_load_object(raw) for raw in values if raw is not None]

    @_guarded
    async def delete_object(self, namespace: str, kind: str, object_id: str) -> bool:
        return bool(await self._delete_object(
            keys=[self._key(namespace, "obj:" + kind), self._key(namespace, "obj-order:" + kind)],
            args=[object_id]))

    # -- idempotency ----------------------------------------------------------------

    def _idempotency_keys(self, namespace: str) -> list[str]:
        return [self._key(namespace, "idem"), self._key(namespace, "idem-done"),
                self._key(namespace, "idem-age"), self._registry(namespace),
                self._key(namespace, "idem-meta")]

    @_guarded
    async def idempotency_begin(self, namespace: str, key: str, fingerprint: str,
                                now: float) -> IdempotencyRecord | None:
        claim = orjson.dumps({"fingerprint": fingerprint, "created": now})
        existing = await self._idem_begin(
            keys=self._idempotency_keys(namespace),
            args=[key, claim, self._max_idempotency, namespace, now, self._ttl, time.time(),
                  self._lease])
        return _load_record(*existing) if existing is not None else None

    @_guarded
    async def idempotency_finish(self, namespace: str, key: str, status: int, body: bytes,
                                 headers: Mapping[str, str]) -> None:
        """StoreUnavailable when the claim is gone (a Redis restarted without its data
        since the request claimed the key): the caller writes it again, claim and all."""
        stored = await self._idem_finish(
            keys=self._idempotency_keys(namespace),
            args=[key, orjson.dumps({"status": status, "headers": {
                str(k): str(v) for k, v in headers.items()}}) + b"\n" + body,
                  self._max_idempotency, namespace])
        if not stored:
            raise StoreUnavailable(f"the idempotency key {key!r} was lost by the store "
                                   "while its request ran")

    @_guarded
    async def idempotency_release(self, namespace: str, key: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        claims, responses, ages, _, meta = self._idempotency_keys(namespace)
        pipe.hdel(claims, key)
        pipe.hdel(responses, key)
        pipe.zrem(ages, key)
        pipe.hdel(meta, key)
        await pipe.execute()

    # -- events ---------------------------------------------------------------------

    @_guarded
    async def append_events(self, namespace: str, events: Sequence[Event]) -> None:
        docs = [_dump_event(e) for e in events]
        await self._append_events(keys=[self._key(namespace, "events"),
                                        self._registry(namespace)],
                                  args=[self._max_events, namespace, *docs])

    @_guarded
    async def events(self, namespace: str, *, provider: str | None = None,
                     limit: int = 100) -> list[Event]:
        if limit <= 0:
            return []
        # The list may hold a few more than `max_events` (see _commit_script): the
        # oldest of them are not shown.
        kept = self._max_events if self._max_events > 0 else 0  # 0: no bound
        stop = (min(limit, kept or limit) if provider is None else kept) - 1
        key = self._key(namespace, "events")
        payments = _Payments(key)
        found = (_load_event(raw, payments, namespace)
                 for raw in await self._redis.lrange(key, 0, stop))
        return [e for e in found if provider is None or e.provider == provider][:limit]

    @_guarded
    async def delivered(self, namespace: str, event_ids: Sequence[str]) -> None:
        if event_ids:
            await self._redis.zrem(self._key(namespace, "owed"), *event_ids)

    @_guarded
    async def owed_events(self, namespace: str, older_than: float) -> list[str]:
        found = await self._redis.zrangebyscore(
            self._key(namespace, "owed"), "-inf", older_than, start=0, num=1000)
        return [_text(cast(bytes, i)) for i in found]

    # -- lifecycle ------------------------------------------------------------------

    @_guarded
    async def namespaces(self) -> list[str]:
        if not self.cluster:
            return sorted(_text(ns) for ns in await self._redis.smembers(self._namespaces))
        # One SCAN over every primary (admin calls only, never a provider request).
        found = set()
        pattern = _glob_escape(self._prefix) + "ns{*}:namespace"
        async for raw in self._redis.scan_iter(match=pattern, count=1000):
            key = _text(raw)
            namespace = unquote(key[len(self._prefix) + 3:-len("}:namespace")])
            if self._key(namespace, "namespace") == key:  # not an odd key that matched
                found.add(namespace)
        return sorted(found)

    @_guarded
    async def secret(self, name: str) -> bytes:
        # `!` is never in a namespace's part of a key (percent-encoded), so no credential
        # can name this one.
        key = f"{self._prefix}!secret:{name}"
        await self._redis.set(key, secrets.token_hex(32), nx=True)
        raw = await self._redis.get(key)
        try:
            value = bytes.fromhex(_text(raw or b""))
        except ValueError:
            value = b""
        if len(value) < 16:
            raise BadRecord(key, "it is not a hex key of 16 bytes or more; delete it (a "
                            "new one is made at the next start)")
        self._secrets[name] = value
        return value

    @_guarded
    async def reset(self, namespace: str | None = None) -> None:
        self._seen.clear()
        self._typed.clear()
        if namespace is None:
            await self._delete_matching(_glob_escape(self._prefix) + "*")
            for name, value in self._secrets.items():  # the install keeps its keys
                await self._redis.set(f"{self._prefix}!secret:{name}", value.hex(), nx=True)
            return
        if not self.cluster:
            await self._redis.srem(self._namespaces, namespace)
        await self._delete_matching(_glob_escape(self._key(namespace, "")) + "*")

    async def _delete_matching(self, pattern: str) -> None:
        """In a cluster, `scan_iter` walks every primary and `unlink` splits its keys by
        slot."""
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    async def close(self) -> None:
        await self._redis.aclose()


# The client is made without decode_responses, so replies are bytes; redis-py's types
# allow str too.
def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _bytes(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode()


def _dump_object(value: Mapping[str, Any]) -> bytes:
    return orjson.dumps(value, default=_plain, option=orjson.OPT_NON_STR_KEYS)


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in an object")


def _load_object(raw: bytes | str) -> Mapping[str, Any]:
    value: dict[str, Any] = orjson.loads(raw)
    return value


def _load_record(claim: bytes, response: bytes) -> IdempotencyRecord:
    first = orjson.loads(claim)
    if not response:  # the request that claimed the key has not finished
        return IdempotencyRecord(first["fingerprint"], first["created"])
    # The response as its status and headers (JSON, one line), then its body as it is; a
    # response kept before that form is one JSON document with its body in base64.
    header, newline, body = response.partition(b"\n")
    done = orjson.loads(header)
    return IdempotencyRecord(first["fingerprint"], first["created"], done["status"],
                             body if newline else base64.b64decode(done["body"]),
                             done["headers"])


def _dump_event(e: Event) -> bytes:
    """An event as its header (JSON, one line) and its body as it is, after a newline:
    no base64 to make or store."""
    return orjson.dumps({"id": e.id, "provider": e.provider, "namespace": e.namespace,
                         "type": e.type, "created": e.created, "url": e.url}) + b"\n" + e.body


def _dump_events(events: Sequence[Event], after: Payment, stored: bytes) -> list[bytes]:
    """The events of one state change, in the order they are pushed (the last one
    newest). Those rendered from the payment as it is stored (`Event.recipe`) keep no
    body: each keeps its header, its recipe and the id of the newest of them, which
    keeps the payment's bytes after its header instead of a body. Events are trimmed
    oldest first and one change's are pushed together, so the one holding the payment
    is the last of them to go; each is rendered when it is read, as the memory store
    renders its own. A Stripe create+confirm sends and keeps ~1 KB (its payment) rather
    than ~4.2 KB (three bodies), and renders nothing on the request path."""
    holder = next((e.id for e in reversed(events) if e.recipe is not None
                   and e.source is not None and e.source[1] is after), None)
    if holder is None:
        return [_dump_event(e) for e in events]
    out = []
    for e in events:
        source = e.source
        if source is None or e.recipe is None or source[1] is not after:
            out.append(_dump_event(e))
            continue
        # What the reader knows leaves the header (every byte costs Redis to hash it
        # into a Lua string): the namespace when it is the list's, no URL, an empty
        # argument, and the holder naming itself.
        doc = {"id": e.id, "provider": e.provider, "type": e.type, "created": e.created,
               "recipe": e.recipe}
        if e.namespace != after.namespace:
            doc["namespace"] = e.namespace
        if e.url is not None:
            doc["url"] = e.url
        if source[0] != "":
            doc["arg"] = source[0]
        if e.id != holder:
            doc["from"] = holder
        header = orjson.dumps(doc)
        out.append(header + b"\n" + stored if e.id == holder else header)
    return out


class _Payments:
    """The payments that events read together are rendered from, by the id of the event
    holding each, decoded when an event's body is first rendered, once each."""

    def __init__(self, key: str) -> None:
        self._key = key
        self.raw: dict[str, bytes] = {}
        self._decoded: dict[str, Payment] = {}

    def get(self, holder: str) -> Payment:
        found = self._decoded.get(holder)
        if found is None:
            raw = self.raw.get(holder)
            if raw is None:  # newer than the event, so read before it, unless not kept
                raise BadRecord(self._key, f"the event {holder}, which holds the payment "
                                "other events are rendered from, is missing; something "
                                "else changed the list. Empty the namespace or the store "
                                "with POST /__admin/reset.")
            found = self._decoded[holder] = decode_payment(raw, f"{self._key} {holder}")
        return found


def _load_event(raw: bytes | str, payments: _Payments, namespace: str) -> Event:
    """An event as `_dump_events` kept it, in `namespace`'s list; `payments` gathers the
    payments of the events read before it (newer), from which those with a recipe are
    rendered."""
    data = _bytes(raw)
    header, newline, rest = data.partition(b"\n")
    doc = orjson.loads(header)
    name = doc.get("recipe")
    if name is not None:
        eid, type_, created = doc["id"], doc["type"], doc["created"]
        arg, holder = doc.get("arg", ""), doc.get("from", eid)
        if newline:
            payments.raw[eid] = rest
        return Event(id=eid, provider=doc["provider"], namespace=doc.get("namespace", namespace),
                     type=type_, created=created, url=doc.get("url"),
                     render=lambda: rendered(name, eid, type_, created,
                                             payments.get(holder), arg))
    # An event written before the header-and-body form: one JSON document, body in base64
    body = rest if newline else base64.b64decode(doc["body"])
    return Event(id=doc["id"], provider=doc["provider"], namespace=doc["namespace"],
                 type=doc["type"], created=doc["created"], url=doc.get("url"),
                 render=lambda: body)
