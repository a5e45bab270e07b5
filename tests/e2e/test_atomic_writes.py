"""A state change is one unit: the payment, its aliases, the records made with it (a
payment method, a challenge page's token) are stored together or not at all, in memory
and on Redis, so a failure between steps cannot leave a payment without its charge."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast
from urllib.parse import quote

import pytest
import redis
import stripe

from paysandbox.core import payments
from paysandbox.core.commands import Record, Writes
from paysandbox.core.payments import NoSuchPayment, Payment, Status
from paysandbox.core.tenancy import internal
from paysandbox.settings import Settings
from paysandbox.store.base import Store
from paysandbox.store.codec import BadRecord
from paysandbox.store.memory import MemoryStore
from paysandbox.store.redis import DEFAULT_PREFIX, RedisStore
from paysandbox.testing.server import SimulatorServer
from paysandbox.webhooks.dispatcher import Event

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
    done = await store.commit("sk_test_a", "pi_1", _requires_action,
                              create=_payment(), writes=_writes())
    assert done.before is None and done.after.status is Status.REQUIRES_ACTION
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


def _event(payment: Payment, type: str) -> Event:
    return Event(id=f"evt_{type}", provider="stripe", namespace=payment.namespace, type=type,
                 created=1.0, render=lambda: b'{"id": "%s"}' % payment.id.encode())


def _emit(before: Payment | None, after: Payment) -> list[Event]:
    return [_event(after, "created" if before is None else "changed")]


async def test_the_events_of_a_change_are_appended_with_it(store: Store) -> None:
    await store.put_object("sk_test_a", "stripe.webhook_endpoint", "we_1", {"id": "we_1"})
    created = await store.commit("sk_test_a", "pi_1", None, create=_payment(),
                                 writes=_writes(), emit=_emit,
                                 read="stripe.webhook_endpoint")
    assert [e.type for e in created.events] == ["created"]
    assert created.read == [{"id": "we_1"}]  # the endpoints, read in the same step
    moved = await store.commit("sk_test_a", "pi_1", _requires_action, writes=_writes(),
                               emit=_emit)
    assert moved.before is not None and moved.before.status is Status.CREATED
    assert [e.type for e in await store.events("sk_test_a")] == ["changed", "created"]
    assert (await store.events("sk_test_a"))[0].body == b'{"id": "pi_1"}'


async def test_a_change_that_emits_nothing_reads_nothing_and_appends_nothing(
        store: Store) -> None:
    await store.put_object("sk_test_a", "stripe.webhook_endpoint", "we_1", {"id": "we_1"})
    done = await store.commit("sk_test_a", "pi_1", None, create=_payment(), writes=_writes(),
                              emit=lambda before, after: [], read="stripe.webhook_endpoint")
    assert not done.events and not done.read
    assert await store.events("sk_test_a") == []


async def test_events_that_cannot_be_made_leave_no_change_behind(store: Store) -> None:
    def broken(before: Payment | None, after: Payment) -> list[Event]:
        raise RuntimeError("a provider's renderer failed")

    with pytest.raises(RuntimeError):
        await store.commit("sk_test_a", "pi_1", None, create=_payment(), writes=_writes(),
                           emit=broken)
    assert await store.get("sk_test_a", "pi_1") is None
    assert await store.resolve("sk_test_a", "ch_1") is None
    assert await store.events("sk_test_a") == []


async def test_a_change_made_by_another_process_meanwhile_is_not_lost(redis_url: str) -> None:
    """Two processes on one Redis: each keeps the payment as it last saw it, so its next
    change is one call; when the other changed it meanwhile, the script says so and the
    change is made again on what is stored."""
    prefix = f"atomic-{uuid.uuid4().hex[:8]}:"
    a, b = RedisStore(redis_url, prefix=prefix), RedisStore(redis_url, prefix=prefix)
    try:
        await a.commit("sk_test_a", "pi_1", None, create=_payment(), writes=_writes())
        await b.commit("sk_test_a", "pi_1", _requires_action, writes=_writes())
        seen_by_a: list[Status] = []

        def note(p: Payment) -> Payment:
            seen_by_a.append(p.status)
            return payments.update(p, 2.0, details_only=True, description="changed by a")

        done = await a.commit("sk_test_a", "pi_1", note, writes=_writes())
        # a tried on the payment it created, was told b had changed it, and tried again
        assert seen_by_a == [Status.CREATED, Status.REQUIRES_ACTION]
        assert done.after.status is Status.REQUIRES_ACTION
        stored = await b.get("sk_test_a", "pi_1")
        assert stored is not None and stored.description == "changed by a"
        await b.reset("sk_test_a")
        with pytest.raises(NoSuchPayment):
            await a.commit("sk_test_a", "pi_1", note, writes=_writes())
    finally:
        await a.reset()
        await a.close()
        await b.close()


async def test_a_key_replaced_after_this_process_checked_it_is_told_not_hidden(
        redis_url: str) -> None:
    """A commit checks the types of the keys it writes the first time this process writes
    them; one replaced by something else afterwards fails the next write half-way, and
    that is said as plainly, with the way out."""
    prefix = f"atomic-{uuid.uuid4().hex[:8]}:"
    store = RedisStore(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        await store.commit("sk_test_a", "pi_1", None, create=_payment(), writes=_writes())
        aliases = [k for k in client.scan_iter(f"{prefix}*:aliases")]
        assert len(aliases) == 1
        client.set(aliases[0], b"written by something else")
        with pytest.raises(BadRecord, match="may be partly written"):
            await store.commit("sk_test_a", "pi_2", None, create=_payment("pi_2"),
                               writes=Writes(aliases=("ch_2",)))
        await store.reset("sk_test_a")
        done = await store.commit("sk_test_a", "pi_2", None, create=_payment("pi_2"),
                                  writes=Writes(aliases=("ch_2",)))
        assert done.after.id == "pi_2" and await store.resolve("sk_test_a", "ch_2") == "pi_2"
    finally:
        await store.reset()
        await store.close()
        client.close()


def _calls_during(client: redis.Redis, action: Callable[[], object]) -> list[str]:
    """The commands clients sent Redis about payments while `action` ran, from its slow
    log told to log every command: a script's own calls are logged too, from no address
    (`?:0`), and the fleet's shared state (the journal's batched writes, the clock's
    polling, the webhook outbox's reads: keys under `{fleet}`) is not the request's, nor
    is a new pooled connection's handshake (HELLO, CLIENT)."""
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 1000)
    client.slowlog_reset()
    try:
        action()
        logged = client.slowlog_get(1000)
    finally:
        client.config_set("slowlog-log-slower-than", 10000)
    commands = []
    for entry in reversed(logged):
        words = entry["command"].split()
        name = words[0].decode().lower()
        first_key = words[3:4] if name in ("evalsha", "eval") else words[1:2] or [b""]
        if entry["client_address"] != b"?:0" and b"{fleet}" not in first_key[0] \
                and name not in ("slowlog", "config", "xreadgroup", "xautoclaim", "xclaim",
                                 "hello", "client"):
            commands.append(name)
    return commands


def test_a_create_and_confirm_is_one_call_to_redis_and_so_is_its_capture(
        redis_simulator: tuple[SimulatorServer, redis.Redis]) -> None:
    """The state change, its alias, its events and the webhook endpoints they would go
    to (none here): one script call; a capture by the process that made the payment: one
    more; reading it back: one GET. (An account's first capture of a day also schedules
    that day's payout announcements: the warm-up below makes it.)"""
    server, client = redis_simulator
    stripe_client = stripe.StripeClient("sk_test_onecall",
                                        base_addresses={"api": server.url("stripe")},
                                        max_network_retries=0)
    base = server.url("stripe") + "/v1/payment_intents"
    body = b"amount=1999&currency=eur&payment_method=pm_card_visa&confirm=true" \
           b"&capture_method=manual"

    def post(url: str, data: bytes) -> dict[str, Any]:
        request = urllib.request.Request(url, data=data, headers={
            "Authorization": "Bearer sk_test_onecall"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return cast(dict[str, Any], json.load(response))

    post(base, body)  # the scripts are loaded on first use
    post(base, body.replace(b"&capture_method=manual", b""))  # today's payout is planned
    made: list[dict[str, Any]] = []
    assert _calls_during(client, lambda: made.append(post(base, body))) == ["evalsha"]
    assert made[0]["status"] == "requires_capture"
    assert _calls_during(client, lambda: post(f"{base}/{made[0]['id']}/capture", b"")) == \
        ["evalsha"]
    pi = stripe_client.v1.payment_intents.retrieve(made[0]["id"])
    assert pi.status == "succeeded"
    assert _calls_during(client, lambda: stripe_client.v1.payment_intents.retrieve(
        made[0]["id"])) == ["get"]
    # and what the one call wrote is all there: the charge alias and the events
    charge = stripe_client.v1.charges.retrieve(pi.latest_charge)
    assert charge.payment_intent == pi.id
    types = [e.type for e in stripe_client.v1.events.list(params={"limit": 100}).data]
    assert types.count("charge.captured") == 1 and types.count("payment_intent.created") == 3


def test_a_refusal_on_a_copy_another_process_has_outdated_is_made_again_on_what_is_stored(
        redis_url: str) -> None:
    """A keeps the payment it authorized; B captures it; a refund through A is checked
    first on A's copy (not captured: refused before any change), so A reads what is
    stored and the refund goes through, as on one process."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    a, b = SimulatorServer(Settings(store=redis_url)), SimulatorServer(Settings(store=redis_url))
    a.start()
    b.start()
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        via_a, via_b = (stripe.StripeClient(key, base_addresses={"api": s.url("stripe")},
                                            max_network_retries=0) for s in (a, b))
        pi = via_a.v1.payment_intents.create(params={
            "amount": 1500, "currency": "eur", "payment_method": "pm_card_visa",
            "confirm": True, "capture_method": "manual"})
        assert pi.status == "requires_capture"
        assert via_b.v1.payment_intents.capture(pi.id).status == "succeeded"
        refund = via_a.v1.refunds.create(params={"payment_intent": pi.id})
        assert refund.status == "succeeded" and refund.amount == 1500
    finally:
        a.stop()
        b.stop()
        client.flushdb()
        client.close()


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
