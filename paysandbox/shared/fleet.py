"""A fleet's shared clock and scenarios in Redis, and the lifecycle of the shared schedule
and journal (paysandbox.shared.schedule, paysandbox.shared.journal).

Keys (each `RedisStore.fleet_key(name)`, one Redis Cluster slot):

    clock, clock:version         the virtual clock's state (hash) and a token that
                                 changes with it
    scenarios, scenarios:version name -> "<load order> <JSON: source text, source label,
    scenarios:loaded             start>" (hash); a token; the load order's counter
    schedule, schedule:claims    scheduled commands (paysandbox.shared.schedule)
    journal                      the journal (stream; paysandbox.shared.journal)

Every process reads the clock and the scenarios at start and follows changes by looking
at both tokens every `FOLLOW` seconds (one MGET): a change made through any process is
seen by the others within that (0.1 s), and by the process that made it at once. The
clock stays a local object that is read synchronously on the hot path; following only
re-anchors it. Phases are measured on the virtual clock from a start time stored with
the scenario, so an outage phase starts at the same virtual instant in every process.
A scenario is stored as its source text and validated again by each process that loads
it; one that no longer validates is refused there, with the running one kept.

Nothing of this is lost with a killed process: it is all in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from paysandbox.core.clock import VirtualClock
from paysandbox.engine import Engine, EventSource
from paysandbox.journal import Entry, Journal
from paysandbox.scenarios.loader import ScenarioError, load_text
from paysandbox.scenarios.runtime import Scenario, ScenarioSet
from paysandbox.shared import stop_task
from paysandbox.shared.journal import SharedJournal
from paysandbox.shared.schedule import SharedSchedule

log = logging.getLogger("paysandbox.shared")

#: Seconds between looks at the shared clock's and scenarios' tokens.
FOLLOW = 0.1

# KEYS: clock, its token; ARGV: the caller's state (anchor_wall, anchor_virtual, scale,
# offset), seconds to advance, a new token. A missing clock (a fresh Redis, a full
# reset) starts as the caller's.
_CLOCK = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'anchor_wall', ARGV[1], 'anchor_virtual', ARGV[2],
             'scale', ARGV[3], 'offset', ARGV[4])
  redis.call('SET', KEYS[2], ARGV[6])
end
if tonumber(ARGV[5]) > 0 then
  redis.call('HINCRBYFLOAT', KEYS[1], 'offset', ARGV[5])
  redis.call('SET', KEYS[2], ARGV[6])
end
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2])}
"""

# KEYS: scenarios, token, load-order counter; ARGV: name, JSON, new token, load order
# ('' for a new one).
_PUT_SCENARIO = """
local n = ARGV[4]
if n == '' then
  n = redis.call('INCR', KEYS[3])
elseif tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(n) then
  redis.call('SET', KEYS[3], n)  -- put back after a reset: later ones still come after
end
redis.call('HSET', KEYS[1], ARGV[1], n .. ' ' .. ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
return tonumber(n)
"""

# KEYS: scenarios, token; ARGV: a name ('' for all of them), new token. Returns how many
# were unloaded. (A script rather than MULTI: Redis Cluster clients run scripts on one
# slot's keys, where not every one offers transactions.)
_UNLOAD_SCENARIOS = """
local n
if ARGV[1] == '' then
  n = redis.call('HLEN', KEYS[1])
  redis.call('DEL', KEYS[1])
else
  n = redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('SET', KEYS[2], ARGV[2])
return n
"""


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisFleet:
    """The admin API's `Control` for a fleet, and what keeps this process in step."""

    def __init__(self, store: Any, *, clock: VirtualClock, scenarios: ScenarioSet,
                 journal: Journal, engine: Engine, providers: Mapping[str, EventSource],
                 journal_size: int) -> None:
        self._client: aioredis.Redis = store.client
        key = store.fleet_key
        self.clock, self.scenarios, self._journal = clock, scenarios, journal
        self._engine = engine
        self._keys = {name: key(name) for name in (
            "clock", "clock:version", "scenarios", "scenarios:version", "scenarios:loaded")}
        self._clock_script = self._client.register_script(_CLOCK)
        self._put_script = self._client.register_script(_PUT_SCENARIO)
        self._unload_script = self._client.register_script(_UNLOAD_SCENARIOS)
        self.schedule = SharedSchedule(self._client, key, engine=engine, providers=providers)
        self.shared_journal = SharedJournal(self._client, key, size=journal_size) \
            if journal.enabled else None
        self._seen: dict[str, str | None] = {"clock": None, "scenarios": None}
        self._parsed: dict[tuple[str, str], dict[str, Any]] = {}  # (text, source) -> doc
        self._refused: set[tuple[str, str]] = set()
        self._follower: asyncio.Task[None] | None = None
        self._down = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, *, startup: Sequence[tuple[Mapping[str, Any], str, str]]) -> None:
        """Join the fleet: adopt its clock (or give it this one's), put this process's
        `--scenario` files unless the fleet runs the same text already, adopt its
        scenarios; then follow, run the shared schedule and feed the shared journal."""
        wanted = self.clock.scale
        await self._clock_call(0.0)
        if self.clock.scale != wanted:
            log.warning("the fleet's clock runs at scale %g; this process was asked for %g "
                        "and follows the fleet's", self.clock.scale, wanted)
        for doc, source, text in startup:
            await self.put_scenario(doc, source=source, text=text, if_changed=True)
        await self._follow_scenarios(await self._client.get(self._keys["scenarios:version"]))
        self._engine.schedule_sink = self.schedule
        self.schedule.start()
        if self.shared_journal is not None:
            self._journal.sink = self.shared_journal
        self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        self._journal.sink = None
        follower, self._follower = self._follower, None
        await stop_task(follower)
        await self.schedule.stop()
        if self.shared_journal is not None:
            await self.shared_journal.stop()

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW)
            try:
                clock_token, scenarios_token = await self._client.mget(
                    self._keys["clock:version"], self._keys["scenarios:version"])
                if clock_token is not None and _text(clock_token) != self._seen["clock"]:
                    await self._clock_call(0.0)
                if scenarios_token is not None and \
                        _text(scenarios_token) != self._seen["scenarios"]:
                    await self._follow_scenarios(scenarios_token)
            except (RedisError, OSError) as exc:
                if not self._down:
                    self._down = True
                    log.warning("fleet: Redis unreachable (%s); this process keeps the clock "
                              "and scenarios it has until it is back", exc)
                await asyncio.sleep(1.0)
                continue
            except Exception:  # a bug must not stop this process following the fleet
                log.exception("fleet: following the shared clock and scenarios failed")
                continue
            if self._down:
                self._down = False
                log.info("fleet: Redis answers again")

    # -- the clock -------------------------------------------------------------------

    async def _clock_call(self, seconds: float) -> None:
        s = self.clock.state()
        raw, token = await self._clock_script(
            keys=[self._keys["clock"], self._keys["clock:version"]],
            args=[repr(s["anchor_wall"]), repr(s["anchor_virtual"]), repr(s["scale"]),
                  repr(s["offset"]), repr(float(seconds)), secrets.token_hex(8)])
        fields = {_text(raw[i]): float(raw[i + 1]) for i in range(0, len(raw), 2)}
        self._seen["clock"] = _text(token) if token is not None else None
        self.clock.adopt(fields)

    async def advance_clock(self, seconds: float) -> None:
        await self._clock_call(seconds)

    # -- scenarios -------------------------------------------------------------------

    async def _stored(self) -> dict[str, tuple[int, dict[str, Any]]]:
        raw = await self._client.hgetall(self._keys["scenarios"])
        out = {}
        for name, value in raw.items():
            order, _, doc = _text(value).partition(" ")
            with contextlib.suppress(ValueError, orjson.JSONDecodeError):
                out[_text(name)] = (int(order), orjson.loads(doc))
        return out

    def _parse(self, text: str, source: str) -> dict[str, Any] | None:
        doc = self._parsed.get((text, source))
        if doc is None:
            try:
                doc = load_text(text, source=source)
            except ScenarioError as exc:
                if (text, source) not in self._refused:
                    self._refused.add((text, source))
                    log.error("the fleet's scenario from %s does not validate here; keeping "
                              "the running one:\n%s", source,
                              "\n".join(str(p) for p in exc.problems))
                return None
            self._parsed[(text, source)] = doc
        return doc

    async def _follow_scenarios(self, token: bytes | str | None) -> None:
        stored = await self._stored()
        entries: list[tuple[Mapping[str, Any], str, float | None, int]] = []
        for name, (order, value) in sorted(stored.items()):
            text, source = str(value.get("text", "")), str(value.get("source", "<fleet>"))
            doc = self._parse(text, source)
            started = value.get("started_at")
            if doc is not None:
                entries.append((doc, source, None if started is None else float(started),
                                order))
                continue
            running = self.scenarios.get(name)
            if running is not None:
                entries.append((running.document, running.source, running.started_at,
                                running.loaded))
        keep = {(str(v.get("text", "")), str(v.get("source", ""))) for _, v in stored.values()}
        self._parsed = {k: v for k, v in self._parsed.items() if k in keep}
        self.scenarios.adopt(entries)
        self._seen["scenarios"] = _text(token) if token is not None else None

    async def _write_scenario(self, name: str, value: Mapping[str, Any], order: int | None
                              ) -> None:
        token = secrets.token_hex(8)
        await self._put_script(
            keys=[self._keys["scenarios"], self._keys["scenarios:version"],
                  self._keys["scenarios:loaded"]],
            args=[name, orjson.dumps(value), token, "" if order is None else order])
        await self._follow_scenarios(token)

    async def put_scenario(self, doc: Mapping[str, Any], *, source: str, text: str,
                           if_changed: bool = False) -> Scenario:
        name = str(doc["name"])
        if if_changed:
            current = (await self._stored()).get(name)
            if current is not None and current[1].get("text") == text:
                # The fleet runs it already: join its timeline rather than restart it.
                await self._follow_scenarios(
                    await self._client.get(self._keys["scenarios:version"]))
                found = self.scenarios.get(name)
                if found is not None:
                    return found
        self._parsed[(text, source)] = dict(doc)
        started = None if doc.get("start") == "manual" else self.clock.now()
        await self._write_scenario(name, {"text": text, "source": source,
                                          "started_at": started}, None)
        found = self.scenarios.get(name)
        assert found is not None  # just adopted
        return found

    async def start_scenario(self, name: str) -> Scenario | None:
        current = (await self._stored()).get(name)
        if current is None:
            return None
        order, value = current
        await self._write_scenario(name, {**value, "started_at": self.clock.now()}, order)
        return self.scenarios.get(name)

    async def _unload(self, name: str) -> int:
        token = secrets.token_hex(8)
        count = await self._unload_script(
            keys=[self._keys["scenarios"], self._keys["scenarios:version"]],
            args=[name, token])
        await self._follow_scenarios(token)
        return int(count)

    async def remove_scenario(self, name: str) -> bool:
        return await self._unload(name) > 0

    async def clear_scenarios(self) -> int:
        return await self._unload("")

    # -- the journal and resets ------------------------------------------------------

    async def journal(self, *, provider: str | None = None, path: str | None = None,
                      status: int | None = None, namespace: str | None = None,
                      mentions: str | None = None, limit: int = 100) -> list[Entry]:
        if self.shared_journal is None:
            return []
        return await self.shared_journal.query(provider=provider, path=path, status=status,
                                               namespace=namespace, mentions=mentions,
                                               limit=limit)

    async def journal_entry(self, seq: int) -> Entry | None:
        if self.shared_journal is None:
            return None
        return await self.shared_journal.entry(seq)

    def summary(self) -> dict[str, Any] | None:
        journal = self.shared_journal
        return {"journal_dropped": journal.dropped if journal is not None else 0,
                "schedule_dropped": self.schedule.dropped}

    async def reset(self, namespace: str | None,
                    store_reset: Callable[[str | None], Awaitable[None]]) -> None:
        """The store's reset, for the fleet. A full one empties every key under the
        prefix, the fleet's too: the clock and the scenarios are read first and put back
        (a reset forgets payments, not the time or the scenarios); the schedule and the
        journal go, as with one process."""
        if namespace is not None:
            await store_reset(namespace)
            if self.shared_journal is not None:
                await self.shared_journal.forget(namespace)
            return
        k = self._keys
        clock: dict[Any, Any] = await self._client.hgetall(k["clock"])
        scenarios: dict[Any, Any] = await self._client.hgetall(k["scenarios"])
        loaded = await self._client.get(k["scenarios:loaded"])
        await store_reset(None)
        # (Also deleted here, whatever the store's reset covers.)
        doomed = [self.schedule.due_key, self.schedule.claims_key]
        if self.shared_journal is not None:
            doomed.append(self.shared_journal.key)
        await self._client.delete(*doomed)
        if clock:
            await self._client.hset(k["clock"], mapping=clock)
            await self._client.set(k["clock:version"], secrets.token_hex(8))
        await self._clock_call(0.0)  # (seeds it from this process's, had it gone)
        token = secrets.token_hex(8)
        if scenarios:
            await self._client.hset(k["scenarios"], mapping=scenarios)
        if loaded is not None:
            await self._client.set(k["scenarios:loaded"], loaded)
        await self._client.set(k["scenarios:version"], token)
        await self._follow_scenarios(token)
