"""Events a process noted as owed deliveries and died before handing to the outbox are
sent by another process once the lease is over, once; events whose deliveries were
written are not sent again."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest

from paysandbox.core.clock import VirtualClock
from paysandbox.core.commands import NO_WRITES
from paysandbox.core.payments import Payment
from paysandbox.providers import base
from paysandbox.shared.owed import OwedDeliveries
from paysandbox.store.base import OWED_ALWAYS, OWED_IF_ANY
from paysandbox.store.redis import RedisStore
from paysandbox.webhooks.dispatcher import Dispatcher, Endpoint, Event

NS = "sk_test_owed"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    s = RedisStore(redis_url, prefix=f"owed-{uuid.uuid4().hex[:8]}:")
    yield s
    await s.reset()
    await s.close()


def _payment(pid: str) -> Payment:
    return Payment(id=pid, namespace=NS, provider="stripe", amount=500, currency="EUR",
                   created=0.0)


def _emitting(event_id: str):  # type: ignore[no-untyped-def]
    def emit(before: Payment | None, after: Payment) -> list[Event]:
        return [Event(id=event_id, provider="stripe", namespace=NS,
                      type="payment_intent.created", created=1.0,
                      render=lambda: b'{"id": "%s"}' % event_id.encode())]
    return emit


async def test_what_a_dead_process_owed_is_sent_once_by_another(store: RedisStore) -> None:
    dispatcher = Dispatcher(VirtualClock())  # not started: its log shows what it was given
    dispatcher.configure(Endpoint(url="http://127.0.0.1:9/hooks", secret="whsec_test",
                                  provider="stripe"))
    providers = {p.name: p for p in base.load(["stripe"])}
    sweeper = OwedDeliveries(store, dispatcher, providers, lease=0.0)

    died = await store.commit(NS, "pi_1", None, create=_payment("pi_1"), writes=NO_WRITES,
                              emit=_emitting("evt_died"), owed=OWED_ALWAYS)
    assert died.owed  # ... and its process was killed before the outbox took them
    handed = await store.commit(NS, "pi_2", None, create=_payment("pi_2"),
                                writes=NO_WRITES, emit=_emitting("evt_handed"),
                                owed=OWED_ALWAYS)
    await store.delivered(NS, [e.id for e in handed.events])  # the outbox took these

    assert await sweeper.sweep() == 1
    assert [d.event.id for d in dispatcher.deliveries(provider="stripe")] == ["evt_died"]
    assert await store.owed_events(NS, time.time()) == []
    assert await sweeper.sweep() == 0  # sent once


async def test_events_nobody_receives_are_not_noted(store: RedisStore) -> None:
    done = await store.commit(NS, "pi_3", None, create=_payment("pi_3"), writes=NO_WRITES,
                              emit=_emitting("evt_nobody"), owed=OWED_IF_ANY,
                              read="stripe.webhook_endpoint")
    assert not done.owed and [e.id for e in done.events] == ["evt_nobody"]
    assert await store.owed_events(NS, time.time()) == []
