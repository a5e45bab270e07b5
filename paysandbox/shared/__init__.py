"""What a fleet of simulator processes shares besides the payments: the virtual clock,
the scenarios and their phase timeline, the scheduled commands and the journal.

With the memory store (one process) nothing here runs: `LocalControl` hands the admin
API's calls to the process's own clock, scenarios and journal, exactly as before. With
the Redis store, `RedisFleet` (paysandbox.shared.fleet) keeps them in Redis under the
store's `fleet_key`s, so any process answers for the whole fleet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from paysandbox.core.clock import VirtualClock
from paysandbox.journal import Entry, Journal
from paysandbox.scenarios.runtime import Scenario, ScenarioSet

__all__ = ["Control", "LocalControl", "is_fleet_store"]


class Control(Protocol):
    """The admin API's calls that change or read what a fleet shares."""

    async def advance_clock(self, seconds: float) -> None: ...

    async def put_scenario(self, doc: Mapping[str, Any], *, source: str, text: str,
                           if_changed: bool = False) -> Scenario: ...

    async def remove_scenario(self, name: str) -> bool: ...

    async def clear_scenarios(self) -> int: ...

    async def start_scenario(self, name: str) -> Scenario | None: ...

    async def journal(self, *, provider: str | None = None, path: str | None = None,
                      status: int | None = None, namespace: str | None = None,
                      mentions: str | None = None, limit: int = 100) -> list[Entry]: ...

    async def journal_entry(self, seq: int) -> Entry | None: ...

    async def reset(self, namespace: str | None,
                    store_reset: Callable[[str | None], Awaitable[None]]) -> None:
        """Forget `namespace`'s state (None: everyone's) through `store_reset`."""

    def summary(self) -> dict[str, Any] | None:
        """For `GET /__admin/health`: what the fleet's shared parts dropped at their
        bounds; None for one process."""


class LocalControl:
    """One process: its own clock, scenarios and journal (the memory store's way)."""

    def __init__(self, clock: VirtualClock, scenarios: ScenarioSet, journal: Journal) -> None:
        self.clock, self.scenarios, self.journal_ = clock, scenarios, journal

    async def advance_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    async def put_scenario(self, doc: Mapping[str, Any], *, source: str, text: str,
                           if_changed: bool = False) -> Scenario:
        return self.scenarios.put(doc, source=source)

    async def remove_scenario(self, name: str) -> bool:
        return self.scenarios.remove(name)

    async def clear_scenarios(self) -> int:
        count = len(self.scenarios)
        self.scenarios.clear()
        return count

    async def start_scenario(self, name: str) -> Scenario | None:
        return self.scenarios.start(name)

    async def journal(self, *, provider: str | None = None, path: str | None = None,
                      status: int | None = None, namespace: str | None = None,
                      mentions: str | None = None, limit: int = 100) -> list[Entry]:
        return self.journal_.query(provider=provider, path=path, status=status,
                                   namespace=namespace, mentions=mentions, limit=limit)

    async def journal_entry(self, seq: int) -> Entry | None:
        return self.journal_.get(seq)

    async def reset(self, namespace: str | None,
                    store_reset: Callable[[str | None], Awaitable[None]]) -> None:
        await store_reset(namespace)

    def summary(self) -> dict[str, Any] | None:
        return None


def is_fleet_store(store: object) -> bool:
    """Whether `store` is one a fleet shares (it offers `client` and `fleet_key`)."""
    return callable(getattr(store, "fleet_key", None)) and hasattr(store, "client")


async def stop_task(task: asyncio.Task[Any] | None, *, within: float = 2.0) -> None:
    """Cancel `task` and wait until it ends, cancelling it again while it carries on:
    redis-py may turn a cancellation that lands inside a command into a connection
    error, which a loop that outlives Redis outages catches and carries on from. Gives
    up after `within` seconds (the task is then left cancelled at its next await)."""
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=0.05)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: a loop's last error is not an unhandled one
