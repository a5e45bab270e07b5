"""The semantics every Store backend must honour, run against each backend: MemoryStore
and RedisStore (on a real redis-server, see tests/conftest.py `redis_url`)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from paysandbox.core import payments
from paysandbox.core.commands import NO_WRITES
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import InvalidTransition, Payment, Status
from paysandbox.core.tenancy import internal, tenant
from paysandbox.store import AlreadyExists, IdempotencyRecord, MemoryStore, NotFound, Store
from paysandbox.store.redis import RedisStore
from paysandbox.webhooks.dispatcher import Event, Source, recipe

NOW = 1_700_000_000.0


def payment(pid: str = "pi_1", namespace: str = "sk_test_a", *, provider: str = "stripe",
            amount: int = 1000, manual: bool = True) -> Payment:
    return Payment(id=pid, namespace=namespace, provider=provider, amount=amount,
                   currency="USD", created=NOW, capture_manual=manual)


def event(n: int, namespace: str = "sk_test_a", provider: str = "stripe") -> Event:
    return Event(id=f"evt_{n}", provider=provider, namespace=namespace,
                 type="payment_intent.succeeded", created=NOW + n,
                 render=lambda: f'{{"n": {n}}}'.encode())


MakeStore = Callable[..., Store]


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[MakeStore]:
    """A factory of empty stores of one backend (keyword options as MemoryStore's): memory,
    one redis-server, or a 3-node Redis Cluster; each Redis store gets a fresh key prefix
    and is emptied and closed afterwards."""
    made: list[Store] = []

    def make(**options: int) -> Store:
        if request.param == "memory":
            store: Store = MemoryStore(**options)
        else:
            url = request.getfixturevalue(
                "redis_url" if request.param == "redis" else "redis_cluster_url")
            store = RedisStore(url, prefix=f"test:{uuid.uuid4().hex}:", **options)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.reset()
        await store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


# -- payments -------------------------------------------------------------------------

async def test_create_then_get(store: Store) -> None:
    p = payment()
    await store.create(p)
    assert await store.get("sk_test_a", "pi_1") == p


async def test_get_of_unknown_id_or_namespace_is_none(store: Store) -> None:
    await store.create(payment())
    assert await store.get("sk_test_a", "pi_other") is None
    assert await store.get("sk_test_other", "pi_1") is None


async def test_create_with_a_taken_id_is_already_exists(store: Store) -> None:
    first = payment(amount=1000)
    await store.create(first)
    with pytest.raises(AlreadyExists):
        await store.create(payment(amount=5))
    assert await store.get("sk_test_a", "pi_1") == first


async def test_transition_returns_before_and_after_and_stores_after(store: Store) -> None:
    await store.create(payment())
    before, after = await store.transition(
        "sk_test_a", "pi_1", lambda p: payments.attempt(p, Outcome.approve(), NOW))
    assert before.status is Status.CREATED
    assert after.status is Status.AUTHORIZED
    assert after.version == before.version + 1
    assert await store.get("sk_test_a", "pi_1") == after


async def test_transition_propagates_the_error_and_changes_nothing(store: Store) -> None:
    await store.create(payment())
    _, authorized = await store.transition(
        "sk_test_a", "pi_1", lambda p: payments.attempt(p, Outcome.approve(), NOW))
    with pytest.raises(InvalidTransition):
        await store.transition("sk_test_a", "pi_1", lambda p: payments.refund(p, "re", 1, NOW))
    assert await store.get("sk_test_a", "pi_1") == authorized

    class Boom(Exception):
        pass

    def explode(p: Payment) -> Payment:
        raise Boom

    with pytest.raises(Boom):
        await store.transition("sk_test_a", "pi_1", explode)
    assert await store.get("sk_test_a", "pi_1") == authorized


async def test_transition_of_a_missing_payment_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as info:
        await store.transition("sk_test_a", "pi_missing", lambda p: p)
    assert info.value.key == "pi_missing"
    assert info.value.namespace == "sk_test_a"


async def test_transitions_apply_one_after_another(store: Store) -> None:
    await store.create(payment())
    await store.transition("sk_test_a", "pi_1",
                           lambda p: payments.attempt(p, Outcome.approve(), NOW))
    await store.transition("sk_test_a", "pi_1", lambda p: payments.capture(p, 600, NOW))
    await store.transition("sk_test_a", "pi_1", lambda p: payments.refund(p, "re_1", 100, NOW))
    p = await store.get("sk_test_a", "pi_1")
    assert p is not None
    assert (p.status, p.amount_captured, p.amount_refunded, p.version) == (
        Status.PARTIALLY_REFUNDED, 600, 100, 3)


async def test_list_is_newest_first_filtered_and_limited(store: Store) -> None:
    for i in range(5):
        await store.create(payment(f"pi_{i}", provider="stripe" if i % 2 == 0 else "adyen"))
    assert [p.id for p in await store.list_payments("sk_test_a")] == [
        "pi_4", "pi_3", "pi_2", "pi_1", "pi_0"]
    assert [p.id for p in await store.list_payments("sk_test_a", provider="stripe")] == [
        "pi_4", "pi_2", "pi_0"]
    assert [p.id for p in await store.list_payments("sk_test_a", limit=2)] == ["pi_4", "pi_3"]
    assert await store.list_payments("sk_test_nobody") == []


async def test_a_transition_does_not_reorder_the_listing(store: Store) -> None:
    await store.create(payment("pi_old"))
    await store.create(payment("pi_new"))
    await store.transition("sk_test_a", "pi_old",
                           lambda p: payments.attempt(p, Outcome.approve(), NOW))
    assert [p.id for p in await store.list_payments("sk_test_a")] == ["pi_new", "pi_old"]


# -- namespaces -----------------------------------------------------------------------

async def test_the_same_id_lives_separately_in_two_namespaces(store: Store) -> None:
    await store.create(payment("pi_1", "sk_test_a", amount=100))
    await store.create(payment("pi_1", "sk_test_b", amount=200))
    await store.transition("sk_test_a", "pi_1",
                           lambda p: payments.attempt(p, Outcome.approve(), NOW))
    a = await store.get("sk_test_a", "pi_1")
    b = await store.get("sk_test_b", "pi_1")
    assert a is not None and b is not None
    assert (a.amount, a.status) == (100, Status.AUTHORIZED)
    assert (b.amount, b.status) == (200, Status.CREATED)
    assert [p.amount for p in await store.list_payments("sk_test_b")] == [200]
    assert await store.namespaces() == ["sk_test_a", "sk_test_b"]


async def test_reset_of_one_namespace_leaves_the_others(store: Store) -> None:
    for ns in ("sk_test_a", "sk_test_b"):
        await store.create(payment("pi_1", ns))
        await store.link(ns, "ch_1", "pi_1")
        await store.put_object(ns, "payment_method", "pm_1", {"id": "pm_1"})
        await store.append_events(ns, [event(1, ns)])
        await store.idempotency_begin(ns, "key", "fp", NOW)
    await store.reset("sk_test_a")

    assert await store.get("sk_test_a", "pi_1") is None
    assert await store.resolve("sk_test_a", "ch_1") is None
    assert await store.get_object("sk_test_a", "payment_method", "pm_1") is None
    assert await store.events("sk_test_a") == []
    assert await store.idempotency_begin("sk_test_a", "key", "fp", NOW) is None

    assert await store.get("sk_test_b", "pi_1") is not None
    assert await store.resolve("sk_test_b", "ch_1") == "pi_1"
    assert await store.get_object("sk_test_b", "payment_method", "pm_1") == {"id": "pm_1"}
    assert [e.id for e in await store.events("sk_test_b")] == ["evt_1"]
    assert await store.idempotency_begin("sk_test_b", "key", "fp", NOW) is not None


async def test_reset_of_everything(store: Store) -> None:
    await store.create(payment("pi_1", "sk_test_a"))
    await store.create(payment("pi_1", "sk_test_b"))
    await store.reset()
    assert await store.namespaces() == []
    assert await store.get("sk_test_a", "pi_1") is None
    assert await store.get("sk_test_b", "pi_1") is None
    await store.create(payment("pi_1", "sk_test_a"))  # the id is free again


# -- aliases and objects --------------------------------------------------------------

async def test_link_and_resolve(store: Store) -> None:
    await store.create(payment("pi_1"))
    await store.link("sk_test_a", "ch_1", "pi_1")
    await store.link("sk_test_a", "re_1", "pi_1")
    assert await store.resolve("sk_test_a", "ch_1") == "pi_1"
    assert await store.resolve("sk_test_a", "re_1") == "pi_1"
    assert await store.resolve("sk_test_a", "ch_unknown") is None
    assert await store.resolve("sk_test_b", "ch_1") is None


async def test_objects_per_kind(store: Store) -> None:
    ns = "sk_test_a"
    await store.put_object(ns, "payment_method", "pm_1", {"id": "pm_1", "n": 1})
    await store.put_object(ns, "payment_method", "pm_2", {"id": "pm_2"})
    await store.put_object(ns, "webhook_endpoint", "we_1", {"id": "we_1"})

    assert await store.get_object(ns, "payment_method", "pm_1") == {"id": "pm_1", "n": 1}
    assert await store.get_object(ns, "webhook_endpoint", "pm_1") is None
    assert await store.get_object("sk_test_b", "payment_method", "pm_1") is None
    assert sorted(o["id"] for o in await store.list_objects(ns, "payment_method")) == [
        "pm_1", "pm_2"]
    assert await store.list_objects(ns, "webhook_endpoint") == [{"id": "we_1"}]
    assert await store.list_objects(ns, "customer") == []
    assert await store.list_objects("sk_test_b", "payment_method") == []

    await store.put_object(ns, "payment_method", "pm_1", {"id": "pm_1", "n": 2})  # replaces
    assert await store.get_object(ns, "payment_method", "pm_1") == {"id": "pm_1", "n": 2}

    assert await store.delete_object(ns, "payment_method", "pm_1") is True
    assert await store.delete_object(ns, "payment_method", "pm_1") is False
    assert await store.delete_object(ns, "webhook_endpoint", "pm_2") is False
    assert await store.delete_object("sk_test_b", "payment_method", "pm_2") is False
    assert await store.get_object(ns, "payment_method", "pm_1") is None
    assert [o["id"] for o in await store.list_objects(ns, "payment_method")] == ["pm_2"]


# -- idempotency ----------------------------------------------------------------------

async def test_first_begin_owns_the_key_and_a_second_sees_it_in_flight(
        store: Store) -> None:
    assert await store.idempotency_begin("sk_test_a", "k1", "fp1", NOW) is None
    record = await store.idempotency_begin("sk_test_a", "k1", "fp2", NOW + 1)
    assert isinstance(record, IdempotencyRecord)
    assert record.fingerprint == "fp1"  # the first request's, to detect a reuse
    assert record.created == NOW
    assert not record.finished
    assert record.status is None and record.body is None


async def test_a_finished_record_replays_status_body_and_headers(store: Store) -> None:
    await store.idempotency_begin("sk_test_a", "k1", "fp1", NOW)
    await store.idempotency_finish("sk_test_a", "k1", 402, b'{"error": {}}',
                                   {"Request-Id": "req_1"})
    record = await store.idempotency_begin("sk_test_a", "k1", "fp1", NOW + 5)
    assert record is not None
    assert record.finished
    assert (record.status, record.body) == (402, b'{"error": {}}')
    assert dict(record.headers or {}) == {"Request-Id": "req_1"}
    assert record.fingerprint == "fp1"
    assert record.created == NOW


async def test_release_frees_the_key_for_a_retry(store: Store) -> None:
    await store.idempotency_begin("sk_test_a", "k1", "fp1", NOW)
    await store.idempotency_release("sk_test_a", "k1")
    assert await store.idempotency_begin("sk_test_a", "k1", "fp1", NOW) is None
    await store.idempotency_release("sk_test_nobody", "k1")  # harmless


async def test_idempotency_keys_are_per_namespace(store: Store) -> None:
    assert await store.idempotency_begin("sk_test_a", "k1", "fp", NOW) is None
    assert await store.idempotency_begin("sk_test_b", "k1", "fp", NOW) is None
    await store.idempotency_finish("sk_test_a", "k1", 200, b"a", {})
    record = await store.idempotency_begin("sk_test_b", "k1", "fp", NOW)
    assert record is not None and not record.finished


async def test_idempotency_keys_are_bounded_oldest_forgotten_first(
        make_store: MakeStore) -> None:
    store = make_store(max_idempotency_keys=3)
    for key in ("k1", "k2", "k3", "k4"):
        assert await store.idempotency_begin("sk_test_a", key, "fp", NOW) is None
    assert await store.idempotency_begin("sk_test_a", "k1", "fp", NOW) is None  # forgotten
    for key in ("k3", "k4"):
        assert await store.idempotency_begin("sk_test_a", key, "fp", NOW) is not None


# -- events ---------------------------------------------------------------------------

async def test_events_are_newest_first_filtered_and_limited(store: Store) -> None:
    for n in range(4):
        await store.append_events("sk_test_a", [event(n, provider="stripe" if n % 2 else "adyen")])
    assert [e.id for e in await store.events("sk_test_a")] == ["evt_3", "evt_2", "evt_1",
                                                                "evt_0"]
    assert [e.id for e in await store.events("sk_test_a", provider="stripe")] == ["evt_3",
                                                                                 "evt_1"]
    assert [e.id for e in await store.events("sk_test_a", limit=1)] == ["evt_3"]
    assert await store.events("sk_test_b") == []


async def test_events_are_bounded_by_max_events(make_store: MakeStore) -> None:
    store = make_store(max_events=3)
    for n in range(10):
        await store.append_events("sk_test_a", [event(n)])
    assert [e.id for e in await store.events("sk_test_a")] == ["evt_9", "evt_8", "evt_7"]


async def test_event_body_is_rendered_from_the_snapshot(store: Store) -> None:
    await store.append_events("sk_test_a", [event(7)])
    (e,) = await store.events("sk_test_a")
    assert e.body == b'{"n": 7}'
    assert e.summary() == {"id": "evt_7", "provider": "stripe",
                           "type": "payment_intent.succeeded", "created": NOW + 7}


def _amount_and_status(eid: str, type_: str, created: float, p: Payment, arg: str) -> bytes:
    return f"{eid} {type_} {created} {p.amount} {p.status.value} {arg}".encode()


recipe("test.amount-and-status", _amount_and_status)


def _emitted(before: Payment | None, after: Payment) -> list[Event]:
    """One event that is not rendered from the payment by a recipe, then two that are."""
    made = []
    for n, type_ in enumerate(("payment.plain", "payment.changed", "payment.noted")):
        eid = f"evt_{after.version}_{n}"
        source: Source | None = ("x" if n else "", after) if n else None
        made.append(Event(
            id=eid, provider="stripe", namespace=after.namespace, type=type_,
            created=NOW + n, recipe="test.amount-and-status" if n else None, source=source,
            render=lambda eid=eid, type_=type_, n=n, a=after: _amount_and_status(  # type: ignore[misc]
                eid, type_, NOW + n, a, "x" if n else "")))
    return made


async def test_events_rendered_from_their_payment_read_back_as_they_were_emitted(
        make_store: MakeStore) -> None:
    store = make_store(max_events=5)
    done = await store.commit("sk_test_a", "pi_1", None, create=payment(), writes=NO_WRITES,
                              emit=_emitted)
    first = {e.id: e.body for e in done.events}
    assert [e.body for e in await store.events("sk_test_a")] == \
        [first[e.id] for e in reversed(done.events)]
    done = await store.commit("sk_test_a", "pi_1", lambda p: payments.void(p, NOW),
                              writes=NO_WRITES, emit=_emitted)
    second = {e.id: e.body for e in done.events}
    # The first change's oldest event is gone (max_events); the two kept are still
    # rendered from the payment as that change left it, not as it is now.
    kept = await store.events("sk_test_a")
    assert [e.id for e in kept] == ["evt_1_2", "evt_1_1", "evt_1_0", "evt_0_2", "evt_0_1"]
    assert {e.id: e.body for e in kept} == {
        **second, "evt_0_2": first["evt_0_2"], "evt_0_1": first["evt_0_1"]}
    assert first["evt_0_1"].split()[4] != second["evt_1_1"].split()[4]  # its status
    assert [e.id for e in await store.events("sk_test_a", limit=1)] == ["evt_1_2"]
    assert (await store.events("sk_test_a", limit=5))[4].body == first["evt_0_1"]


async def test_stored_payments_are_the_immutable_snapshots(store: Store) -> None:
    p = payment()
    await store.create(p)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.amount = 1  # type: ignore[misc]


async def test_finishing_a_key_makes_it_the_newest(make_store: MakeStore) -> None:
    store = make_store(max_idempotency_keys=2)
    await store.idempotency_begin("sk_test_a", "k1", "fp", NOW)
    await store.idempotency_begin("sk_test_a", "k2", "fp", NOW)
    await store.idempotency_finish("sk_test_a", "k1", 200, b"{}", {})
    await store.idempotency_begin("sk_test_a", "k3", "fp", NOW)  # forgets k2, not k1
    kept = await store.idempotency_begin("sk_test_a", "k1", "fp", NOW)
    assert kept is not None and kept.status == 200
    assert await store.idempotency_begin("sk_test_a", "k2", "fp", NOW) is None


# -- concurrency and sharing ------------------------------------------------------------

async def test_fifty_concurrent_captures_give_exactly_one_success(store: Store) -> None:
    await store.create(payment(amount=5000))
    await store.transition("sk_test_a", "pi_1",
                           lambda p: payments.attempt(p, Outcome.approve(), NOW))
    results = await asyncio.gather(
        *(store.transition("sk_test_a", "pi_1", lambda p: payments.capture(p, 5000, NOW))
          for _ in range(50)), return_exceptions=True)
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1
    assert all(isinstance(e, InvalidTransition) for e in lost), lost
    final = await store.get("sk_test_a", "pi_1")
    assert final is not None
    assert (final.status, final.amount_captured, final.version) == (Status.CAPTURED, 5000, 2)


async def test_namespaces_with_separators_and_wildcards_stay_apart(store: Store) -> None:
    spaces = ["acct", "acct:b", "acct*", "a[c]ct?", "acct%3A"]
    for n, ns in enumerate(spaces):
        await store.create(payment("pi_1", ns, amount=100 + n))
        await store.put_object(ns, "kind", "o", {"ns": ns})
    await store.reset("acct")
    assert await store.get("acct", "pi_1") is None
    for n, ns in enumerate(spaces[1:], start=1):
        p = await store.get(ns, "pi_1")
        assert p is not None and p.amount == 100 + n
        assert await store.get_object(ns, "kind", "o") == {"ns": ns}
    assert await store.namespaces() == sorted(spaces[1:])


async def test_an_event_keeps_its_target_url(store: Store) -> None:
    await store.append_events("sk_test_a", [Event(
        id="evt_u", provider="mollie", namespace="sk_test_a", type="payment.paid", created=NOW,
        render=lambda: b"id=tr_1", url="http://127.0.0.1:9/hook")])
    (e,) = await store.events("sk_test_a")
    assert (e.url, e.body, e.namespace) == ("http://127.0.0.1:9/hook", b"id=tr_1", "sk_test_a")


async def test_two_redis_stores_on_one_redis_share_state(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisStore(redis_url, prefix=prefix), RedisStore(redis_url, prefix=prefix)
    other = RedisStore(redis_url, prefix=f"test:{uuid.uuid4().hex}:")
    try:
        await first.create(payment())
        await first.link("sk_test_a", "ch_1", "pi_1")
        await second.transition("sk_test_a", "pi_1",
                                lambda p: payments.attempt(p, Outcome.approve(), NOW))
        await first.transition("sk_test_a", "pi_1", lambda p: payments.capture(p, 1000, NOW))
        seen = await second.get("sk_test_a", "pi_1")
        assert seen is not None
        assert (seen.status, seen.amount_captured, seen.version) == (Status.CAPTURED, 1000, 2)
        assert seen == await first.get("sk_test_a", "pi_1")
        assert await second.resolve("sk_test_a", "ch_1") == "pi_1"
        assert [p.id for p in await second.list_payments("sk_test_a")] == ["pi_1"]
        assert await second.idempotency_begin("sk_test_a", "k", "fp", NOW) is None
        assert await first.idempotency_begin("sk_test_a", "k", "fp", NOW) is not None
        assert await other.get("sk_test_a", "pi_1") is None  # another prefix, another world
        assert await other.namespaces() == []
    finally:
        for s in (first, other):
            await s.reset()
        for s in (first, second, other):
            await s.close()


# -- retention ----------------------------------------------------------------------------

async def test_the_newest_payments_are_kept_with_their_aliases(make_store: MakeStore) -> None:
    store = make_store(retain_payments=3)
    for n in range(5):
        await store.create(payment(f"pi_{n}"))
        await store.link("sk_test_a", f"ch_{n}", f"pi_{n}")
    assert [p.id for p in await store.list_payments("sk_test_a")] == ["pi_4", "pi_3", "pi_2"]
    assert [p.id for p in await store.list_payments("sk_test_a", provider="stripe")] == [
        "pi_4", "pi_3", "pi_2"]
    for gone in ("pi_0", "pi_1"):
        assert await store.get("sk_test_a", gone) is None
        assert await store.evicted("sk_test_a", gone)
    assert await store.resolve("sk_test_a", "ch_0") is None
    assert await store.evicted("sk_test_a", "ch_0")
    assert await store.resolve("sk_test_a", "ch_2") == "pi_2"
    assert not await store.evicted("sk_test_a", "pi_2")
    assert not await store.evicted("sk_test_a", "pi_never")
    with pytest.raises(NotFound):
        await store.transition("sk_test_a", "pi_0", lambda p: p)


async def test_evicted_ids_are_remembered_only_twice_as_many_as_payments(
        make_store: MakeStore) -> None:
    store = make_store(retain_payments=2)
    for n in range(8):
        await store.create(payment(f"pi_{n}"))
    assert [await store.evicted("sk_test_a", f"pi_{n}") for n in range(8)] == [
        False, False, True, True, True, True, False, False]


async def test_idempotency_keys_expire_after_the_ttl_of_virtual_time(
        make_store: MakeStore) -> None:
    store = make_store(idempotency_ttl=86_400.0)
    assert await store.idempotency_begin("sk_test_a", "k1", "fp", NOW) is None
    await store.idempotency_finish("sk_test_a", "k1", 200, b'{"id": 1}', {})
    kept = await store.idempotency_begin("sk_test_a", "k1", "fp", NOW + 86_399)
    assert kept is not None and kept.body == b'{"id": 1}'
    assert await store.idempotency_begin("sk_test_a", "k1", "fp2", NOW + 86_400) is None
    again = await store.idempotency_begin("sk_test_a", "k1", "fp", NOW + 86_401)
    assert again is not None and again.fingerprint == "fp2" and not again.finished


async def test_an_unfinished_claim_frees_its_key_when_its_lease_ends(
        make_store: MakeStore) -> None:
    held = make_store(lease=3600.0)
    assert await held.idempotency_begin("sk_test_a", "k1", "fp", NOW) is None
    record = await held.idempotency_begin("sk_test_a", "k1", "fp", NOW)
    assert record is not None and not record.finished  # in progress: its lease holds
    lapsed = make_store(lease=0.0)  # every claim's lease has ended by the next call
    assert await lapsed.idempotency_begin("sk_test_a", "k1", "fp", NOW) is None
    assert await lapsed.idempotency_begin("sk_test_a", "k1", "fp", NOW) is None
    await lapsed.idempotency_finish("sk_test_a", "k1", 200, b"{}", {})
    done = await lapsed.idempotency_begin("sk_test_a", "k1", "fp", NOW)
    assert done is not None and done.finished  # a finished key is never taken over


async def test_memory_namespaces_are_bounded_least_recently_written_first() -> None:
    store = MemoryStore(max_namespaces=2)
    await store.create(payment("pi_a", "sk_test_a"))
    await store.create(payment("pi_b", "sk_test_b"))
    await store.link("sk_test_a", "ch_a", "pi_a")  # a written to: b is now the oldest
    await store.create(payment("pi_c", "sk_test_c"))
    assert await store.namespaces() == ["sk_test_a", "sk_test_c"]
    assert (await store.health())["evictions"]["namespaces"] == 1


async def test_memory_namespaces_share_max_payments() -> None:
    """Four keys under a budget of 20: each keeps at most 5 payments, events and
    idempotency keys; one key alone would keep its own bound (10)."""
    store = MemoryStore(retain_payments=10, max_payments=20)
    for n in range(12):
        await store.create(payment(f"pi_{n}", "sk_test_alone"))
    assert len(await store.list_payments("sk_test_alone")) == 10
    await store.reset()
    for n in range(12):
        for key in ("a", "b", "c", "d"):
            await store.create(payment(f"pi_{n}", f"sk_test_{key}"))
            await store.append_events(f"sk_test_{key}", [event(n, f"sk_test_{key}")])
            await store.idempotency_begin(f"sk_test_{key}", f"k{n}", "fp", NOW)
    for key in ("a", "b", "c", "d"):
        ns = f"sk_test_{key}"
        assert [p.id for p in await store.list_payments(ns)] == [f"pi_{n}"
                                                                for n in range(11, 6, -1)]
        assert len(await store.events(ns)) == 5
        assert await store.idempotency_begin(ns, "k6", "fp", NOW) is None  # forgotten
        assert await store.idempotency_begin(ns, "k11", "fp", NOW) is not None


async def test_internal_namespaces_are_never_forgotten_whole() -> None:
    store = MemoryStore(max_namespaces=2)
    hosted = internal("hosted")
    await store.put_object(hosted, "challenge", "tok", {"payment_id": "pi_a"})
    for n in range(5):
        await store.create(payment(f"pi_{n}", f"sk_test_{n}"))
    assert hosted in await store.namespaces()
    assert await store.get_object(hosted, "challenge", "tok") is not None
    # A tenant whose key looks internal is a tenant like any other: forgotten in turn.
    await store.put_object(tenant("\x00hosted"), "challenge", "tok", {"payment_id": "pi_b"})
    for n in range(5, 8):
        await store.create(payment(f"pi_{n}", f"sk_test_{n}"))
    assert tenant("\x00hosted") not in await store.namespaces()


async def test_memory_objects_of_a_kind_are_bounded_like_payments() -> None:
    store = MemoryStore(retain_payments=2)
    for n in range(4):
        await store.put_object("sk_test_a", "payment_method", f"pm_{n}", {"id": f"pm_{n}"})
    assert [o["id"] for o in await store.list_objects("sk_test_a", "payment_method")] == [
        "pm_2", "pm_3"]
