"""A state change is one unit: the payment, its aliases, the records made with it (a
payment method, a challenge page's token) are stored together or not at all, in memory
and on Redis, so a failure between steps cannot leave a payment without its charge."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest
import redis
import stripe

from paysandbox.core.commands import Record, Writes
from paysandbox.core.payments import Payment, Status
from paysandbox.core.tenancy import internal
from paysandbox.settings import Settings
from paysandbox.store.base import Store
from paysandbox.store.memory import MemoryStore
from paysandbox.store.redis import DEFAULT_PREFIX, RedisStore
from paysandbox.testing.server import SimulatorServer

HOSTED = internal("hosted")


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = RedisStore(request.getfixturevalue(
                       "redis_url" if request.param == "redis" else "redis_cluster_url"),
                   prefix=f"atomic-{uuid.uuid4().hex[:8]}:")
    yield s
    await s.reset()
    await s.close()


def _payment(pid: str = "pi_1") -> Payment:
    return Payment(id=pid, namespace="sk_test_a", provider="stripe", amount=500,
                   currency="EUR", created=0.0)


def _writes() -> Writes:
    return Writes(aliases=("ch_1", "pm_1"),
                  records=(Record("stripe.payment_method", "pm_1", {"id": "pm_1"}),),
                  on_action=(Record("challenge", "tok", {"payment_id": "pi_1"},
                                    namespace=HOSTED),))


def _requires_action(p: Payment) -> Payment:
    from paysandbox.core import payments
    from paysandbox.core.outcomes import Outcome
    return payments.attempt(p, Outcome.requires_action("3ds"), 1.0)


async def test_a_commit_writes_the_payment_its_aliases_and_records_together(
        store: Store) -> None:
    before, after = await store.commit("sk_test_a", "pi_1", _requires_action,
                                       create=_payment(), writes=_writes())
    assert before is None and after.status is Status.REQUIRES_ACTION
    assert await store.resolve("sk_test_a", "ch_1") == "pi_1"
    assert await store.get_object("sk_test_a", "stripe.payment_method", "pm_1") == {"id": "pm_1"}
    assert await store.get_object(HOSTED, "challenge", "tok") == {"payment_id": "pi_1"}


async def test_on_action_records_wait_for_a_payment_that_waits_for_the_shopper(
        store: Store) -> None:
    await store.commit("sk_test_a", "pi_1", None, create=_payment(), writes=_writes())
    assert await store.get_object(HOSTED, "challenge", "tok") is None
    assert await store.resolve("sk_test_a", "ch_1") == "pi_1"


async def test_a_transition_that_fails_writes_nothing_at_all(store: Store) -> None:
    def refuse(p: Payment) -> Payment:
        raise RuntimeError("declined by a bug")

    with pytest.raises(RuntimeError):
        await store.commit("sk_test_a", "pi_1", refuse, create=_payment(), writes=_writes())
    assert await store.get("sk_test_a", "pi_1") is None
    assert await store.resolve("sk_test_a", "ch_1") is None
    assert await store.get_object("sk_test_a", "stripe.payment_method", "pm_1") is None


@pytest.fixture
def redis_simulator(redis_url: str) -> Iterator[tuple[SimulatorServer, redis.Redis]]:
    """A simulator on the session's redis-server, emptied (it uses the default prefix)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    server = SimulatorServer(Settings(store=redis_url))
    server.start()
    try:
        yield server, client
    finally:
        server.stop()
        client.flushdb()
        client.close()


def test_a_store_refusing_the_alias_write_leaves_no_payment_behind(
        redis_simulator: tuple[SimulatorServer, redis.Redis]) -> None:
    """The charge alias cannot be written (its hash holds something else): the whole
    create+confirm is refused with Stripe's retryable error and nothing of it is kept;
    once the store is fixed, the same request with the same key makes the payment, with
    its charge."""
    server, client = redis_simulator
    key = "sk_test_atomic"
    aliases = f"{DEFAULT_PREFIX}ns{{{quote(key, safe='')}}}:aliases"
    client.set(aliases, b"written by something else")
    stripe_client = stripe.StripeClient(key, base_addresses={"api": server.url("stripe")},
                                        max_network_retries=0)
    params = {"amount": 1999, "currency": "eur", "payment_method": "pm_card_visa",
              "confirm": True}
    with pytest.raises(stripe.APIError) as refused:
        stripe_client.v1.payment_intents.create(params=params,
                                               options={"idempotency_key": "atomic-1"})
    assert refused.value.http_status == 503
    assert "Nothing of this request was stored" in str(refused.value.user_message)
    assert stripe_client.v1.payment_intents.list().data == []
    assert not [k for k in client.scan_iter(f"{DEFAULT_PREFIX}*pay:*")]

    client.delete(aliases)
    pi = stripe_client.v1.payment_intents.create(params=params,
                                                 options={"idempotency_key": "atomic-1"})
    assert pi.status == "succeeded"
    charge = stripe_client.v1.charges.retrieve(pi.latest_charge)
    assert charge.payment_intent == pi.id
