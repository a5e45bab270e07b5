"""Deliveries a process owed when it died between a state change and its outbox write.

A state change on the Redis store notes its events as owed deliveries in the same
script that stores them (Store.commit's `owed`), and the note is cleared once the
fleet's outbox holds their deliveries (Store.delivered). A process killed between the
two leaves the note behind. Every `every` seconds each process looks, namespace by
namespace, for notes older than `lease` (the request that made them is over by then,
or its process is gone), publishes those events again to their endpoints as they are
now, and clears the notes: so no event a fleet lists goes undelivered, at least once (a
process that was only slow may send them too; receivers dedupe by event id). At most
1,000 notes per namespace per look.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from redis.exceptions import RedisError

from paysandbox.engine import EventSource
from paysandbox.objects import Objects
from paysandbox.shared import stop_task
from paysandbox.store.base import Store, StoreUnavailable
from paysandbox.webhooks.dispatcher import Dispatcher, Endpoint

log = logging.getLogger("paysandbox.shared")


class OwedDeliveries:
    def __init__(self, store: Store, dispatcher: Dispatcher,
                 providers: Mapping[str, EventSource], *, lease: float) -> None:
        self._store, self._dispatcher, self._providers = store, dispatcher, providers
        self._lease = lease
        self.every = max(0.5, lease / 3)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # events published again by this process

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.sweep()
            except (StoreUnavailable, RedisError, OSError) as exc:
                log.warning("owed deliveries: cannot look now (%s); again in %.0f s", exc,
                            self.every)

    async def sweep(self) -> int:
        """Publish the events noted as owed longer than the lease; how many."""
        older_than = time.time() - self._lease
        sent = 0
        for namespace in await self._store.namespaces():
            ids = await self._store.owed_events(namespace, older_than)
            if not ids:
                continue
            wanted = set(ids)
            endpoints: dict[str, Sequence[Endpoint]] = {}  # by provider, read once
            for event in await self._store.events(namespace, limit=10_000_000):
                provider = self._providers.get(event.provider)
                if event.id not in wanted or provider is None:
                    continue
                if provider.name not in endpoints:
                    endpoints[provider.name] = await provider.webhook_endpoints(
                        Objects(self._store, namespace), namespace)
                self._dispatcher.publish(event, provider.webhooks, endpoints[provider.name])
                sent += 1
            await self._dispatcher.flush()
            await self._store.delivered(namespace, ids)
        if sent:
            self.sent += sent
            log.warning("owed deliveries: %d events a process did not hand to the outbox "
                        "before it stopped are sent now", sent)
        return sent
