"""The engine: one command at a time per payment whatever the concurrency, and the
scenario seam (outcome override, transport faults, latency)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from paysandbox import engine as engine_module
from paysandbox.core.clock import VirtualClock
from paysandbox.core.commands import (
    Adjust,
    Authorize,
    Capture,
    Command,
    Complete,
    Create,
    Expire,
    RefundPayment,
    Result,
    Retrieve,
    Settle,
    Update,
    Void,
)
from paysandbox.core.ledger import DAY
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import AmountExceeded, InvalidTransition, Payment, Status
from paysandbox.engine import Effects, Engine, InjectedFault
from paysandbox.ledger import Books
from paysandbox.scenarios.runtime import WebhookChaos, compile_match
from paysandbox.store import AlreadyExists, MemoryStore, NotFound
from paysandbox.store.base import Store
from paysandbox.webhooks.dispatcher import Dispatcher, Endpoint, Event, Signed

NS = "sk_test_engine"
START = 1_700_000_000.0


class FrozenWall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class NoWebhooks:
    retry_schedule: Sequence[float] = ()

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


@dataclass
class FakeProvider:
    """The smallest EventSource: emits nothing unless told to."""

    name: str = "fake"
    webhooks: NoWebhooks = field(default_factory=NoWebhooks)
    emit: bool = False
    endpoints: list[Endpoint] = field(default_factory=list)
    emitted: list[tuple[str, Command, Result]] = field(default_factory=list)

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        self.emitted.append((namespace, command, result))
        if not self.emit:
            return []
        n = len(self.emitted)
        return [Event(id=f"evt_{n}", provider=self.name, namespace=namespace,
                      type=f"payment.{command.operation}", created=START,
                      render=lambda: b"{}")]

    async def webhook_endpoints(self, store: Store, namespace: str) -> Sequence[Endpoint]:
        return list(self.endpoints)


@dataclass
class FixedScenarios:
    result: Effects
    seen: list[tuple[str, str, Command, Mapping[str, Any]]] = field(default_factory=list)

    def effects(self, provider: str, namespace: str, command: Command,
                facts: Mapping[str, Any]) -> Effects:
        self.seen.append((provider, namespace, command, facts))
        return self.result


def new_payment(pid: str = "pay_1", *, amount: int = 1000, manual: bool = True) -> Payment:
    return Payment(id=pid, namespace=NS, provider="fake", amount=amount, currency="USD",
                   created=START, capture_manual=manual)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START, wall=FrozenWall(START))


@pytest.fixture
async def dispatcher(clock: VirtualClock) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(clock)
    await d.start()
    yield d
    await d.stop(drain_timeout=0.1)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def engine(store: MemoryStore, clock: VirtualClock, dispatcher: Dispatcher) -> Engine:
    return Engine(store=store, clock=clock, dispatcher=dispatcher)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


async def authorized(engine: Engine, provider: FakeProvider, pid: str = "pay_1",
                     amount: int = 1000, manual: bool = True) -> Payment:
    result = await engine.execute(provider, NS, Authorize(
        pid, create=new_payment(pid, amount=amount, manual=manual)))
    return result.payment


def split(results: list[Any]) -> tuple[list[Result], list[BaseException]]:
    ok = [r for r in results if isinstance(r, Result)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) + len(errors) == len(results)
    return ok, errors


# -- concurrency ----------------------------------------------------------------------

async def test_fifty_concurrent_captures_capture_exactly_once(
        engine: Engine, provider: FakeProvider, store: MemoryStore) -> None:
    await authorized(engine, provider)
    results = await asyncio.gather(
        *(engine.execute(provider, NS, Capture("pay_1")) for _ in range(50)),
        return_exceptions=True)
    ok, errors = split(results)
    assert len(ok) == 1
    assert len(errors) == 49
    assert all(isinstance(e, InvalidTransition) for e in errors), errors
    final = await store.get(NS, "pay_1")
    assert final is not None
    assert final.status is Status.CAPTURED
    assert final.amount_captured == 1000
    assert final.version == 2  # authorize, capture: nothing else happened
    assert ok[0].payment == final


async def test_fifty_concurrent_full_refunds_refund_exactly_once(
        engine: Engine, provider: FakeProvider, store: MemoryStore) -> None:
    await authorized(engine, provider, manual=False)
    results = await asyncio.gather(
        *(engine.execute(provider, NS, RefundPayment("pay_1", refund_id=f"re_{i}", amount=1000))
          for i in range(50)),
        return_exceptions=True)
    ok, errors = split(results)
    assert len(ok) == 1
    assert len(errors) == 49
    assert all(isinstance(e, InvalidTransition) for e in errors), errors
    final = await store.get(NS, "pay_1")
    assert final is not None
    assert final.status is Status.REFUNDED
    assert final.amount_refunded == 1000
    assert len(final.refunds) == 1
    winner = ok[0].refund
    assert winner is not None and final.refunds == (winner,)
    assert await store.resolve(NS, winner.id) == "pay_1"


async def test_concurrent_partial_refunds_never_exceed_the_captured_amount(
        engine: Engine, provider: FakeProvider, store: MemoryStore) -> None:
    await authorized(engine, provider, amount=1000, manual=False)
    results = await asyncio.gather(
        *(engine.execute(provider, NS, RefundPayment("pay_1", refund_id=f"re_{i}", amount=300))
          for i in range(50)),
        return_exceptions=True)
    ok, errors = split(results)
    assert len(ok) == 3  # 900 of 1000; a fourth would need 1200
    assert all(isinstance(e, AmountExceeded) for e in errors), errors
    final = await store.get(NS, "pay_1")
    assert final is not None
    assert final.amount_refunded == 900
    assert final.status is Status.PARTIALLY_REFUNDED
    assert sorted(r.id for r in final.refunds) == sorted(
        r.refund.id for r in ok if r.refund is not None)


async def test_concurrent_capture_and_void_one_wins(
        engine: Engine, provider: FakeProvider, store: MemoryStore) -> None:
    await authorized(engine, provider)
    commands: list[Command] = [Capture("pay_1"), Void("pay_1")] * 25
    results = await asyncio.gather(*(engine.execute(provider, NS, c) for c in commands),
                                   return_exceptions=True)
    ok, errors = split(results)
    assert len(ok) == 1
    assert all(isinstance(e, InvalidTransition) for e in errors)
    final = await store.get(NS, "pay_1")
    assert final is not None
    assert final.status in (Status.CAPTURED, Status.VOIDED)
    assert final.version == 2


# -- commands -------------------------------------------------------------------------

async def test_retrieve_of_a_missing_id_is_not_found(engine: Engine,
                                                     provider: FakeProvider) -> None:
    with pytest.raises(NotFound):
        await engine.execute(provider, NS, Retrieve("pay_missing"))


async def test_retrieve_is_per_namespace(engine: Engine, provider: FakeProvider) -> None:
    await authorized(engine, provider)
    assert (await engine.execute(provider, NS, Retrieve("pay_1"))).payment.id == "pay_1"
    with pytest.raises(NotFound):
        await engine.execute(provider, "sk_test_other", Retrieve("pay_1"))


async def test_authorize_with_create_stores_and_attempts(
        engine: Engine, provider: FakeProvider, store: MemoryStore) -> None:
    result = await engine.execute(provider, NS, Authorize("pay_1", create=new_payment()))
    assert result.previous is None
    assert result.outcome == Outcome.approve()
    assert result.payment.status is Status.AUTHORIZED
    assert result.payment.amount_authorized == 1000
    assert await store.get(NS, "pay_1") == result.payment


async def test_authorize_with_create_of_a_taken_id_is_refused(
        engine: Engine, provider: FakeProvider) -> None:
    await authorized(engine, provider)
    with pytest.raises(AlreadyExists):
        await engine.execute(provider, NS, Authorize("pay_1", create=new_payment()))


async def test_the_providers_magic_outcome_applies_without_a_scenario(
        engine: Engine, provider: FakeProvider) -> None:
    result = await engine.execute(provider, NS, Authorize(
        "pay_1", outcome=Outcome.decline("expired_card"), create=new_payment()))
    assert result.payment.status is Status.FAILED
    assert result.payment.decline is DeclineReason.EXPIRED_CARD


async def test_create_then_authorize_then_capture_and_retrieve(
        engine: Engine, provider: FakeProvider) -> None:
    created = await engine.execute(provider, NS, Create("pay_1", payment=new_payment()))
    assert created.payment.status is Status.CREATED
    updated = await engine.execute(provider, NS, Update("pay_1", changes={"amount": 700}))
    assert updated.previous is not None and updated.previous.amount == 1000
    assert updated.payment.amount == 700
    auth = await engine.execute(provider, NS, Authorize("pay_1"))
    assert auth.previous is not None and auth.previous.status is Status.CREATED
    cap = await engine.execute(provider, NS, Capture("pay_1", amount=500))
    assert cap.payment.amount_captured == 500
    got = await engine.execute(provider, NS, Retrieve("pay_1"))
    assert got.payment == cap.payment


async def test_complete_an_action(engine: Engine, provider: FakeProvider) -> None:
    await engine.execute(provider, NS, Authorize(
        "pay_1", outcome=Outcome.requires_action(), create=new_payment(manual=False)))
    done = await engine.execute(provider, NS, Complete("pay_1", success=True))
    assert done.payment.status is Status.CAPTURED


async def test_commands_use_the_virtual_clock(engine: Engine, provider: FakeProvider,
                                              clock: VirtualClock) -> None:
    await authorized(engine, provider)
    clock.advance(3600)
    cap = await engine.execute(provider, NS, Capture("pay_1"))
    assert [h.at for h in cap.payment.history] == [START, START + 3600]


async def test_events_go_to_the_outbox_and_the_dispatcher(
        engine: Engine, store: MemoryStore, dispatcher: Dispatcher) -> None:
    endpoint = Endpoint(url="http://127.0.0.1:9/never", secret="s", provider="fake")
    provider = FakeProvider(emit=True, endpoints=[endpoint])
    engine.scenarios = FixedScenarios(Effects(webhook_delay=120.0))
    await authorized(engine, provider)
    await engine.execute(provider, NS, Retrieve("pay_1"))  # no change, no event
    assert [e.type for e in await store.events(NS)] == ["payment.authorize"]
    (delivery,) = dispatcher.deliveries(namespace=NS)
    assert delivery.endpoint == endpoint
    assert delivery.state == "pending"
    assert delivery.next_attempt_at == START + 120.0
    assert [c.operation for _, c, _ in provider.emitted] == ["authorize"]


# -- the scenario seam ----------------------------------------------------------------

async def test_scenario_outcome_overrides_the_providers_magic_value(
        store: MemoryStore, clock: VirtualClock, dispatcher: Dispatcher,
        provider: FakeProvider) -> None:
    scenarios = FixedScenarios(Effects(outcome=Outcome.decline("insufficient_funds")))
    eng = Engine(store=store, clock=clock, dispatcher=dispatcher, scenarios=scenarios)
    result = await eng.execute(provider, NS, Authorize(
        "pay_1", outcome=Outcome.approve(), create=new_payment()), facts={"amount": 1000})
    assert result.payment.status is Status.FAILED
    assert result.payment.decline is DeclineReason.INSUFFICIENT_FUNDS
    assert result.outcome == Outcome.decline("insufficient_funds")
    stored = await store.get(NS, "pay_1")
    assert stored is not None and stored.status is Status.FAILED
    ((name, namespace, command, facts),) = scenarios.seen
    assert (name, namespace, facts) == ("fake", NS, {"amount": 1000})
    assert isinstance(command, Authorize)


async def test_an_injected_fault_is_raised_before_any_state_changes(
        store: MemoryStore, clock: VirtualClock, dispatcher: Dispatcher) -> None:
    provider = FakeProvider(emit=True)
    plain = Engine(store=store, clock=clock, dispatcher=dispatcher)
    await plain.execute(provider, NS, Authorize("pay_0", create=new_payment("pay_0")))
    before = await store.get(NS, "pay_0")
    events_before = await store.events(NS)

    faulty = Engine(store=store, clock=clock, dispatcher=dispatcher,
                    scenarios=FixedScenarios(Effects(fault="connection_reset")))
    with pytest.raises(InjectedFault) as info:
        await faulty.execute(provider, NS, Authorize("pay_1", create=new_payment()))
    assert info.value.fault.kind == "connection_reset"
    assert await store.get(NS, "pay_1") is None  # not even created

    with pytest.raises(InjectedFault):
        await faulty.execute(provider, NS, Capture("pay_0"))
    assert await store.get(NS, "pay_0") == before
    assert await store.events(NS) == events_before


async def test_latency_is_awaited(monkeypatch: pytest.MonkeyPatch, store: MemoryStore,
                                  clock: VirtualClock, dispatcher: Dispatcher,
                                  provider: FakeProvider) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
        slept.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr(engine_module.asyncio, "sleep", recording_sleep)
    eng = Engine(store=store, clock=clock, dispatcher=dispatcher,
                 scenarios=FixedScenarios(Effects(latency=0.05)))
    await eng.execute(provider, NS, Authorize("pay_1", create=new_payment()))
    assert slept.count(0.05) == 1

    # a refused command is slow too: latency is the transport's, not the outcome's
    with pytest.raises(InvalidTransition):
        await eng.execute(provider, NS, RefundPayment("pay_1", refund_id="re_1"))
    assert slept.count(0.05) == 2


async def test_no_latency_no_sleep(monkeypatch: pytest.MonkeyPatch, engine: Engine,
                                   provider: FakeProvider) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: Any, **kwargs: Any) -> Any:
        slept.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr(engine_module.asyncio, "sleep", recording_sleep)
    await authorized(engine, provider)
    assert slept == []


# -- the virtual-clock scheduler and asynchronous completions --------------------------

async def pending(engine: Engine, provider: FakeProvider, pid: str = "pay_1") -> Payment:
    result = await engine.execute(provider, NS, Authorize(
        pid, Outcome.pending(), create=new_payment(pid)))
    assert result.payment.status is Status.PENDING
    return result.payment


async def settled(store: Store, pid: str, status: Status) -> Payment:
    for _ in range(200):
        p = await store.get(NS, pid)
        if p is not None and p.status is status:
            return p
        await asyncio.sleep(0.005)
    raise AssertionError(f"{pid} never became {status}: {p}")


async def test_a_scheduled_expiry_runs_when_the_clock_is_advanced(
        engine: Engine, provider: FakeProvider, store: Store, clock: VirtualClock) -> None:
    await pending(engine, provider)
    engine.schedule(provider, NS, Expire("pay_1"), clock.now() + 3600)
    await asyncio.sleep(0.02)
    assert (await store.get(NS, "pay_1")).status is Status.PENDING  # type: ignore[union-attr]
    clock.advance(3601)
    p = await settled(store, "pay_1", Status.EXPIRED)
    assert p.history[-1].action == "expire"
    assert provider.emitted[-1][1] == Expire("pay_1")  # the provider renders its event


async def test_a_payment_finished_before_its_expiry_is_left_alone(
        engine: Engine, provider: FakeProvider, store: Store, clock: VirtualClock) -> None:
    await pending(engine, provider)
    engine.schedule(provider, NS, Expire("pay_1"), clock.now() + 60)
    await engine.execute(provider, NS, Complete("pay_1", True))
    clock.advance(61)
    await asyncio.sleep(0.05)
    p = await store.get(NS, "pay_1")
    assert p is not None and p.status is Status.AUTHORIZED


async def test_a_failed_completion_keeps_the_reason_and_native_code(
        engine: Engine, provider: FakeProvider) -> None:
    await pending(engine, provider)
    result = await engine.execute(provider, NS, Complete(
        "pay_1", False, DeclineReason.INSUFFICIENT_FUNDS, native_code="1"))
    p = result.payment
    assert (p.status, p.decline, p.decline_code) == (
        Status.FAILED, DeclineReason.INSUFFICIENT_FUNDS, "1")


async def test_adjust_changes_what_an_authorization_holds(
        engine: Engine, provider: FakeProvider) -> None:
    await authorized(engine, provider, amount=1000)
    result = await engine.execute(provider, NS, Adjust("pay_1", 2500))
    assert (result.previous.amount_authorized, result.payment.amount_authorized) == (  # type: ignore[union-attr]
        1000, 2500)
    assert provider.emitted[-1][1] == Adjust("pay_1", 2500)


async def test_one_advance_past_several_due_commands_runs_them_in_time_order(
        engine: Engine, provider: FakeProvider, store: Store, clock: VirtualClock) -> None:
    """Paid at +20 s, expiring at +60 s: a jump of an hour must pay it, whatever order
    the two were scheduled in."""
    for pid in ("pay_a", "pay_b"):
        await pending(engine, provider, pid)
    engine.schedule(provider, NS, Expire("pay_a"), clock.now() + 60)
    engine.schedule(provider, NS, Complete("pay_a", True), clock.now() + 20)
    engine.schedule(provider, NS, Complete("pay_b", True), clock.now() + 90)
    engine.schedule(provider, NS, Expire("pay_b"), clock.now() + 60)
    await asyncio.sleep(0.01)
    clock.advance(3600)
    assert (await settled(store, "pay_a", Status.AUTHORIZED)).status is Status.AUTHORIZED
    assert (await settled(store, "pay_b", Status.EXPIRED)).status is Status.EXPIRED


async def test_a_scheduled_command_that_fails_does_not_stop_the_others(
        engine: Engine, provider: FakeProvider, store: Store, clock: VirtualClock) -> None:
    await pending(engine, provider, "pay_a")
    engine.schedule(provider, NS, Complete("pay_missing", True), clock.now() + 10)
    engine.schedule(provider, NS, Capture("pay_a"), clock.now() + 20)  # not authorized yet
    engine.schedule(provider, NS, Complete("pay_a", True), clock.now() + 30)
    clock.advance(60)
    assert (await settled(store, "pay_a", Status.AUTHORIZED)).status is Status.AUTHORIZED


async def test_scheduled_commands_go_with_payments_evicted_by_retention(
        clock: VirtualClock, dispatcher: Dispatcher, provider: FakeProvider) -> None:
    """Expiries a day ahead for 3,000 payments of which the store keeps the newest 10:
    the schedule does not keep the evicted ones' commands (it is compacted as it
    grows), and the kept payments still expire."""
    store = MemoryStore(retain_payments=10)
    engine = Engine(store=store, clock=clock, dispatcher=dispatcher)
    for n in range(3000):
        await engine.execute(provider, NS, Create(f"pay_{n}", new_payment(f"pay_{n}")))
        engine.schedule(provider, NS, Expire(f"pay_{n}"), clock.now() + 86_400)
    assert len(engine._due) <= 2048  # the schedule's size: compacted at each doubling
    clock.advance(86_401)
    p = await settled(store, "pay_2999", Status.EXPIRED)
    assert p.history[-1].action == "expire"
    await engine.close()


# -- payouts announced on the virtual clock ----------------------------------------------

@dataclass
class SettlingProvider(FakeProvider):
    """A provider that announces each day's payout and its arrival."""

    announced: list[tuple[float, bool, int]] = field(default_factory=list)

    async def settlement_events(self, books: Any, objects: Any, namespace: str,
                                due: Settle, now: float) -> Sequence[Event]:
        (payout,) = [p for p in books.payouts if p.created == due.day]
        self.announced.append((due.day, due.arrived, payout.amount))
        kind = "paid" if due.arrived else "created"
        return [Event(id=f"evt_{payout.id}_{kind}", provider=self.name, namespace=namespace,
                      type=f"payout.{kind}", created=now, render=lambda: b"{}")]


async def _announced(provider: SettlingProvider, n: int) -> None:
    for _ in range(500):
        if len(provider.announced) >= n:
            return
        await asyncio.sleep(0.01)


async def test_a_days_captures_are_announced_once_when_paid_out_and_when_they_arrive(
        engine: Engine, store: Store, clock: VirtualClock) -> None:
    stripe_terms = engine.books.terms["stripe"]
    engine.books = Books({"fake": stripe_terms}, engine.books.rates)
    provider = SettlingProvider()
    await authorized(engine, provider, "pay_1", manual=False)
    await authorized(engine, provider, "pay_2", manual=False)  # the same day: one payout
    day = (START // DAY + stripe_terms.settlement.delay_days) * DAY
    clock.advance(day - START + 1)
    await _announced(provider, 1)
    net = 2 * (1000 - 29 - 30)  # 2.9% + 30 cents, as pricing.yaml prices Stripe
    assert provider.announced == [(day, False, net)]
    clock.advance(DAY)
    await _announced(provider, 2)
    assert provider.announced == [(day, False, net), (day, True, net)]
    assert [e.type for e in await store.events(NS)][:2] == ["payout.paid", "payout.created"]


async def test_a_scheduled_announcement_gets_no_webhook_chaos_from_the_request_that_planned_it(
        engine: Engine, store: Store, clock: VirtualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The request that captures a day's first payment plans its payout announcement
    (and may start the runner of scheduled commands); its scenario's webhook chaos is
    that request's, not the announcement's days later."""
    stripe_terms = engine.books.terms["stripe"]
    engine.books = Books({"fake": stripe_terms}, engine.books.rates)
    provider = SettlingProvider()
    published: list[tuple[str, bool]] = []
    original = engine.dispatcher.publish

    def publish(event: Event, *args: Any, **kwargs: Any) -> Any:
        published.append((event.type, bool(kwargs.get("bad_signature"))))
        return original(event, *args, **kwargs)

    monkeypatch.setattr(engine.dispatcher, "publish", publish)
    monkeypatch.setattr(engine.dispatcher, "has_targets", lambda _name: True)
    chaos = WebhookChaos(match=compile_match(None), bad_signature=1.0)
    token = engine_module.APPLIED.set(Effects(webhooks=chaos))
    try:  # as if a scenario's rule had applied to this request
        await authorized(engine, provider, "pay_1", manual=False)
    finally:
        engine_module.APPLIED.reset(token)
    day = (START // DAY + stripe_terms.settlement.delay_days) * DAY
    clock.advance(day - START + 1)
    await _announced(provider, 1)
    for _ in range(100):
        if any(t == "payout.created" for t, _ in published):
            break
        await asyncio.sleep(0.01)
    assert ("payout.created", False) in published
    assert ("payout.created", True) not in published
