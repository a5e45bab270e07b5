"""The request path every provider shares (DESIGN.md, "The request path").

A provider's route has already parsed the wire request, checked credentials and built
a canonical command. Here: scenario effects -> transport fault -> outcome -> atomic
state transition -> webhook events -> latency. The provider renders what comes back.
Adding a provider adds no line to this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import heapq
import itertools
import logging
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from paysandbox.core import disputes, payments
from paysandbox.core.clock import VirtualClock
from paysandbox.core.commands import (
    AcceptDispute,
    Adjust,
    Authorize,
    Capture,
    Command,
    Complete,
    Create,
    DisputeStep,
    Expire,
    ExpireDispute,
    OpenDispute,
    RefundPayment,
    Renew,
    ReopenDispute,
    ResolveDispute,
    Result,
    Retrieve,
    Settle,
    Update,
    UpdateDispute,
    Void,
    Writes,
    credential_facts,
)
from paysandbox.core.disputes import DisputePlan
from paysandbox.core.drift import Drift
from paysandbox.core.ledger import DAY, available_day
from paysandbox.core.outcomes import APPROVED, Outcome
from paysandbox.faults import Fault
from paysandbox.ledger import AccountBooks, Books, account_books, load_books
from paysandbox.objects import ListsEndpoints, Objects
from paysandbox.providers.hooks import Renews, Settles, SubAccounts
from paysandbox.scenarios.runtime import ScenarioSet, WebhookChaos, facts_for
from paysandbox.store.base import (
    OWED_ALWAYS,
    OWED_IF_ANY,
    OWED_NONE,
    Claim,
    Committed,
    NotFound,
    Store,
)
from paysandbox.webhooks.dispatcher import Dispatcher, Endpoint, Event, WebhookScheme


@dataclass(frozen=True, slots=True)
class Effects:
    """What matching scenario rules ask of one request."""

    outcome: Outcome | None = None
    latency: float = 0.0  # seconds, awaited before the response
    fault: Fault | str | None = None
    webhook_delay: float = 0.0  # virtual seconds
    matched: tuple[str, ...] = ()
    settle_after: float | None = None  # a pending outcome settles by itself after this
    webhooks: WebhookChaos | None = None
    webhook_rng: random.Random | None = None
    near_misses: tuple[dict[str, Any], ...] = ()  # when no rule matched (the journal's)
    dispute: DisputePlan | None = None  # a dispute to open once the payment is captured


log = logging.getLogger("paysandbox.engine")

NO_EFFECTS = Effects()
_UNUSED_RNG = random.Random(0)

#: The effects applied to the request being served, for the HTTP layer (faults that
#: mangle the answer, the journal's list of matched rules). Reset per request.
APPLIED: ContextVar[Effects | None] = ContextVar("applied_effects", default=None)


class Scenarios(Protocol):
    """The seam the scenario engine plugs into."""

    def effects(self, provider: str, namespace: str, command: Command,
                facts: Mapping[str, Any]) -> Effects: ...

    def drift(self) -> Drift | None:
        """The discrepancies the providers' settlement surfaces report (core/drift.py)."""


class NoScenarios:
    def effects(self, provider: str, namespace: str, command: Command,
                facts: Mapping[str, Any]) -> Effects:
        return NO_EFFECTS

    def drift(self) -> Drift | None:
        return None


class ScenarioEffects:
    """Scenarios from YAML (paysandbox/scenarios) behind the engine's seam."""

    def __init__(self, scenarios: ScenarioSet) -> None:
        self.scenarios = scenarios

    def drift(self) -> Drift | None:
        return self.scenarios.drift()

    def effects(self, provider: str, namespace: str, command: Command,
                facts: Mapping[str, Any]) -> Effects:
        if not len(self.scenarios):
            return NO_EFFECTS
        d = self.scenarios.decide(facts_for(provider, namespace, command, facts))
        if not d.matched and d.webhooks is None:
            return Effects(near_misses=d.near_misses) if d.near_misses else NO_EFFECTS
        return Effects(outcome=d.outcome, latency=d.latency, fault=d.fault,
                       matched=d.matched, settle_after=d.settle_after, webhooks=d.webhooks,
                       webhook_rng=d.webhook_rng, dispute=d.dispute)


class EventSource(Protocol):
    """The part of a provider the engine talks to after a state change."""

    name: str
    webhooks: WebhookScheme

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]: ...

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]: ...


class ScheduleSink(Protocol):
    """Where scheduled commands go instead of this process's own schedule (a fleet's,
    in Redis: paysandbox.shared.schedule); False: not taken, so kept here."""

    def add(self, provider: EventSource, namespace: str, command: Command,
            at: float) -> bool: ...


class InjectedFault(Exception):
    """A scenario asked for a fault that ends the request; the HTTP layer applies it."""

    def __init__(self, fault: Fault | str) -> None:
        self.fault = fault if isinstance(fault, Fault) else Fault.parse(fault)
        super().__init__(self.fault.kind)


_COMPACT_FLOOR = 1024
#: Account-days whose payout is planned, remembered so that each is announced once.
_SETTLING = 100_000


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Engine:
    def __init__(self, *, store: Store, clock: VirtualClock, dispatcher: Dispatcher,
                 scenarios: Scenarios | None = None, books: Books | None = None) -> None:
        self.store = store
        self.clock = clock
        self.dispatcher = dispatcher
        self.scenarios: Scenarios = scenarios or NoScenarios()
        #: The key card fingerprints are HMACs under: the store's own (`Store.secret`),
        #: set at start-up so every process on one store agrees; random until then.
        self.fingerprint_key = secrets.token_bytes(32)
        #: Test mode: sees every event as it is emitted (contract checks).
        self.inspect_event: Callable[[Event], None] | None = None
        # Scheduled commands, by virtual time; one runner executes them in that order.
        # Advancing the clock wakes it, so an expiry or settlement happens when the
        # tester moves the clock.
        self._due: list[tuple[float, int, EventSource, str, Command]] = []
        self._seq = itertools.count()
        self._runner: asyncio.Task[None] | None = None
        self._sleepers: set[asyncio.Future[None]] = set()
        # A store that can say synchronously whether it still keeps a payment lets the
        # schedule forget commands on payments evicted by retention (see _compact).
        self._holds: Callable[[str, str], bool] | None = getattr(store, "holds", None)
        self._compact_at = _COMPACT_FLOOR
        self._endpoint_kinds: dict[int, str | None] = {}
        #: Whether the store may answer a read for a change from a copy (Store).
        self.keeps_copies = store.keeps_copies
        #: A fleet's shared schedule, when there is one (set at start-up).
        self.schedule_sink: ScheduleSink | None = None
        #: What prices the ledger (paysandbox/ledger): the packaged pricing and rates
        #: unless the settings name files.
        self.books: Books = books or load_books()
        self._settling: set[tuple[str, str, float]] = set()
        clock.on_advance(self._wake)

    async def _consult(self, provider: EventSource, namespace: str, command: Command,
                       facts: Mapping[str, Any] | None, *, scheduled: bool = False
                       ) -> Effects:
        """The scenarios' effects for this request, recorded for the HTTP layer; a fault
        that ends the request is raised here, after its latency. A scheduled command
        (a dispute's deadline, a settlement) is no request: no fault or latency applies
        to it, so that a chaos rule cannot lose a deadline or stall the others."""
        effects = self.scenarios.effects(provider.name, namespace, command, facts or {})
        if scheduled and (effects.fault is not None or effects.latency):
            effects = dataclasses.replace(effects, fault=None, latency=0.0)
        if effects is not NO_EFFECTS:
            APPLIED.set(effects)
            if effects.fault is not None:
                fault = InjectedFault(effects.fault)
                if fault.fault.ends_early:
                    if effects.latency > 0:
                        await asyncio.sleep(effects.latency)
                    raise fault
        return effects

    async def intercept(self, provider: EventSource, namespace: str, command: Command,
                        facts: Mapping[str, Any] | None = None) -> Effects:
        """Scenario effects for a request that changes no payment (a read, a list):
        latency is served and faults are raised here."""
        effects = await self._consult(provider, namespace, command, facts)
        if effects.latency > 0:
            await asyncio.sleep(effects.latency)
        return effects

    async def execute(self, provider: EventSource, namespace: str, command: Command,
                      facts: Mapping[str, Any] | None = None, *,
                      scheduled: bool = False, claim: Claim | None = None) -> Result:
        """`claim`: the request's idempotency key, claimed with the state change unless
        an earlier one took it (store.base.Claim)."""
        if isinstance(command, Renew):
            return await self._renew(provider, namespace, command)
        if isinstance(command, Settle):
            return await self._settle(provider, namespace, command)
        effects = await self._consult(provider, namespace, command, facts,
                                      scheduled=scheduled)
        try:
            result, done = await self._apply(provider, namespace, command, effects, claim)
            if result.previous is not result.payment:
                if done is not None and done.events:
                    await self._deliver(provider, namespace, done.events, effects,
                                        self._known(provider, done))
                    if done.owed:  # their deliveries are in the fleet's outbox now
                        await self.store.delivered(namespace, [e.id for e in done.events])
                if effects.settle_after is not None and \
                        result.payment.status is payments.Status.PENDING:
                    self.schedule(provider, namespace, Complete(result.payment.id, True),
                                  self.clock.now() + effects.settle_after)
                if effects.dispute is not None:
                    self._plan_dispute(provider, namespace, result, effects.dispute)
                if isinstance(command, DisputeStep):
                    self._dispute_deadlines(provider, namespace, result)
                if isinstance(provider, Settles) and result.payment.amount_captured > (
                        result.previous.amount_captured if result.previous else 0):
                    self._plan_settlement(provider, namespace, result.payment)
        finally:
            if effects.latency > 0:
                await asyncio.sleep(effects.latency)
        return result

    async def _renew(self, provider: EventSource, namespace: str, due: Renew) -> Result:
        """A subscription's period is due: the provider says what to charge; the charge
        runs as any scheduled command does (scenarios see a merchant-initiated
        authorize), and the next period is scheduled whatever this one's outcome."""
        if not isinstance(provider, Renews):
            raise TypeError(f"{type(provider).__name__} scheduled a renewal but has no "
                            "renewal hook (providers.hooks.Renews)")
        renewal = await provider.renewal(due, Objects(self.store, namespace),
                                         self.clock.now())
        if renewal.next is not None and renewal.next_at is not None:
            self.schedule(provider, namespace, renewal.next, renewal.next_at)
        if renewal.charge is None:
            raise NotFound(namespace, due.payment_id)
        charge = renewal.charge
        return await self.execute(provider, namespace, charge,
                                  {**credential_facts(charge, None), **renewal.facts},
                                  scheduled=True)

    def _plan_settlement(self, provider: EventSource, namespace: str,
                         payment: payments.Payment) -> None:
        """A capture's funds become available on a day: announce that day's payout then,
        and its arrival, once per account and day (`_settling` remembers the days
        planned: at most _SETTLING of them, the past ones forgotten first)."""
        terms = self.books.terms.get(provider.name)
        if terms is None:
            return
        settlement = terms.settlement
        if terms.accounts:  # only then may its delay be an account's own
            sub = provider.sub_account(payment) if isinstance(provider, SubAccounts) else ""
            settlement = terms.settlement_of(namespace, sub)
        day = available_day(self.clock.now(), settlement.delay_days)
        key = (provider.name, namespace, day)
        if key in self._settling:
            return
        if len(self._settling) >= _SETTLING:
            today = self.clock.now() // DAY * DAY
            self._settling = {k for k in self._settling if k[2] >= today}
            if len(self._settling) >= _SETTLING:
                return  # so many accounts settle at once that a day goes unannounced
        self._settling.add(key)
        self.schedule(provider, namespace, Settle(payment.id, day=day), day)
        self.schedule(provider, namespace, Settle(payment.id, day=day, arrived=True),
                      day + terms.arrival_days * DAY)

    def forget(self, namespace: str | None) -> None:
        """A reset of `namespace` (None: everyone's): its days' payouts are planned again
        by its next captures (the commands already scheduled find no payment and do
        nothing)."""
        self._settling = {k for k in self._settling
                          if namespace is not None and k[1] != namespace}

    async def account_books(self, provider: EventSource, namespace: str) -> AccountBooks:
        """One account's books at `provider` now, as the provider reports them: its
        newest payments (up to 10,000) priced, paid out on the virtual clock (per
        sub-account, for a provider that names them: providers.hooks.SubAccounts),
        with a loaded scenario's `settlement:` discrepancies in."""
        return account_books(
            await self.store.list_payments(namespace, provider=provider.name,
                                           limit=10_000),
            self.books, self.clock.now(), self.scenarios.drift(), provider=provider.name,
            namespace=namespace,
            sub_account=provider.sub_account if isinstance(provider, SubAccounts) else None)

    async def _settle(self, provider: EventSource, namespace: str, due: Settle) -> Result:
        """Announce a day's payout (or its arrival) as the provider does, from the
        account's books as the provider reports them (a loaded scenario's drift in)."""
        found = await self.store.get(namespace, due.payment_id)
        if found is None or not isinstance(provider, Settles):
            raise NotFound(namespace, due.payment_id)
        books = await self.account_books(provider, namespace)
        events = await provider.settlement_events(books, Objects(self.store, namespace),
                                                 namespace, due, self.clock.now())
        if events:
            await self.publish(provider, namespace, events)
        return Result(found, found)

    def new_dispute_id(self, provider: EventSource) -> str:
        """An id for a dispute opened at `provider`, shaped as the provider shapes them
        (its optional `new_dispute_id()`, which also says it renders disputes), else a
        generic one."""
        if isinstance(provider, disputes.RendersDisputes):
            return provider.new_dispute_id()
        return "dp_" + secrets.token_hex(12)

    def _plan_dispute(self, provider: EventSource, namespace: str, result: Result,
                      plan: DisputePlan) -> None:
        """A scenario rule's `dispute:` on the request that captured the payment: the
        dispute opens `plan.after` later on the virtual clock."""
        before, after = result.previous, result.payment
        if not isinstance(provider, disputes.RendersDisputes):
            return  # a provider that renders no disputes (the scenario checks refuse a
            # rule naming only such providers)
        if after.status is not payments.Status.CAPTURED or (
                before is not None and before.status is payments.Status.CAPTURED):
            return
        command = OpenDispute.planned(after.id, self.new_dispute_id(provider), plan)
        self.schedule(provider, namespace, command, self.clock.now() + plan.after)

    def _dispute_deadlines(self, provider: EventSource, namespace: str,
                           result: Result) -> None:
        """A dispute that opened waits for its evidence deadline; one whose evidence was
        just submitted waits for the issuer's decision."""
        d, was = result.dispute, result.previous_dispute
        if d is None:
            return
        pid = result.payment.id
        if d.status is disputes.DisputeStatus.NEEDS_RESPONSE and (
                was is None or was.status is not disputes.DisputeStatus.NEEDS_RESPONSE):
            self.schedule(provider, namespace,
                          ExpireDispute(pid, dispute_id=d.id, due_by=d.evidence_due_by),
                          d.evidence_due_by)
            # A provider whose API takes no answer (Mollie) defends a dispute itself when
            # its trigger says it is to be won: it goes under review at once.
            if was is None and isinstance(provider, disputes.DefendsDisputes) and \
                    provider.defends_dispute(d):
                self.schedule(provider, namespace,
                              UpdateDispute(pid, dispute_id=d.id, submit=True),
                              self.clock.now())
        elif d.status is disputes.DisputeStatus.UNDER_REVIEW and was is not None and \
                was.status is disputes.DisputeStatus.NEEDS_RESPONSE:
            self.schedule(provider, namespace, ResolveDispute(pid, dispute_id=d.id),
                          self.clock.now() + d.decide_after)

    def schedule(self, provider: EventSource, namespace: str, command: Command,
                 at: float) -> None:
        """Execute `command` when the virtual clock reaches `at`: a pending payment
        settling by itself, a QR code or voucher expiring.

        Due commands run one at a time in the order of their virtual times, so when
        the clock is advanced past several at once, a payment settled at +20 s is paid
        before its expiry at +60 s finds it. A payment that has moved on meanwhile, or
        was reset, is left alone."""
        sink = self.schedule_sink
        if sink is not None and sink.add(provider, namespace, command, at):
            return
        heapq.heappush(self._due, (at, next(self._seq), provider, namespace, command))
        if len(self._due) > self._compact_at:
            self._compact()
        self._wake(at)  # the runner may be waiting for something later
        if self._runner is None or self._runner.done():
            # In a context of its own: the request that happens to start it must not
            # lend its scenario effects (webhook chaos) to every command it runs later.
            self._runner = asyncio.get_running_loop().create_task(
                self._run_due(), context=contextvars.Context())

    def _compact(self) -> None:
        """Drop scheduled commands whose payment retention has evicted; runs when the
        schedule has doubled since the last time, so it costs O(1) per command."""
        holds = self._holds
        if holds is not None:
            self._due = [d for d in self._due
                         if isinstance(d[4], Renew | Settle)
                         or holds(d[3], d[4].payment_id)]
            heapq.heapify(self._due)
        self._compact_at = max(_COMPACT_FLOOR, 2 * len(self._due))

    async def _run_due(self) -> None:
        while self._due:
            await self._sleep_until(self._due[0][0])
            while self._due and self._due[0][0] <= self.clock.now():
                _, _, provider, namespace, command = heapq.heappop(self._due)
                APPLIED.set(None)  # each command its own effects, not the one before's
                try:
                    await self.execute(provider, namespace, command, scheduled=True)
                except (payments.PaymentError, NotFound):
                    pass  # paid before it expired, or reset: nothing left to do
                except Exception:  # a scenario's fault, or a bug: the rest still run
                    log.exception("scheduled %s of %s failed", command.operation,
                                  command.payment_id)

    async def _sleep_until(self, at: float) -> None:
        """Until the virtual clock reads `at` (or something earlier is scheduled): the
        real time that takes at the clock's scale, or less when the clock is advanced."""
        loop = asyncio.get_running_loop()
        while self.clock.now() < at and (not self._due or self._due[0][0] >= at):
            woken: asyncio.Future[None] = loop.create_future()
            self._sleepers.add(woken)
            # A timer rather than asyncio.wait_for, whose 3.11 version can swallow a
            # cancellation; the cap notices a change of scale too.
            timer = loop.call_later(min(self.clock.real_seconds_until(at), 1.0),
                                    _resolve, woken)
            try:
                await woken
            finally:
                timer.cancel()
                self._sleepers.discard(woken)

    def _wake(self, _now: float) -> None:
        for woken in self._sleepers:
            _resolve(woken)

    async def close(self) -> None:
        """Stop running scheduled commands (at shutdown); those not yet due are lost with
        the process, as the owed webhooks are."""
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    def _endpoints_kind(self, provider: EventSource) -> str | None:
        """The kind of object the provider keeps its webhook endpoints as, read with
        each commit that emits events (objects.ListsEndpoints), or None."""
        try:
            return self._endpoint_kinds[id(provider)]
        except KeyError:
            kind = provider.endpoints_kind.name if isinstance(provider, ListsEndpoints) \
                else None
            self._endpoint_kinds[id(provider)] = kind
            return kind

    def _known(self, provider: EventSource,
               done: Committed) -> tuple[str, Sequence[Mapping[str, Any]]] | None:
        kind = self._endpoints_kind(provider)
        return (kind, done.read) if kind is not None else None

    async def _apply(self, provider: EventSource, namespace: str, command: Command,
                     effects: Effects, claim: Claim | None
                     ) -> tuple[Result, Committed | None]:
        """The command's transition, its writes and the events it emits, as one store
        call."""
        store, now = self.store, self.clock.now()
        pid = command.payment_id
        writes = command.writes
        create: payments.Payment | None = None
        fn: Callable[[payments.Payment], payments.Payment] | None = None
        result_of: Callable[[payments.Payment | None, payments.Payment], Result] = Result.of
        if isinstance(command, Retrieve):
            found = await store.get(namespace, pid)
            if found is None:
                raise NotFound(namespace, pid)
            return Result(found, found), None
        if isinstance(command, Create):
            create = command.payment
        elif isinstance(command, Authorize):
            outcome = effects.outcome or command.outcome or APPROVED
            changes = command.changes
            create = command.create
            fn = lambda p: payments.attempt(p, outcome, now, **changes)  # noqa: E731
            result_of = lambda b, a: Result(a, b, outcome)  # noqa: E731
        elif isinstance(command, Capture):
            amount = command.amount
            fn = lambda p: payments.capture(p, amount, now)  # noqa: E731
        elif isinstance(command, Adjust):
            to = command.amount
            fn = lambda p: payments.adjust(p, to, now)  # noqa: E731
        elif isinstance(command, Void):
            reason = command.reason
            fn = lambda p: payments.void(p, now, reason)  # noqa: E731
        elif isinstance(command, Complete):
            ok, why, code, chain = (command.success, command.reason, command.native_code,
                                    command.chain)
            fn = lambda p: payments.complete_action(  # noqa: E731
                p, ok, now, why, code, chain=chain)
        elif isinstance(command, Expire):
            fn = lambda p: payments.expire(p, now, unfinished_only=True)  # noqa: E731
        elif isinstance(command, Update):
            changes, details = command.changes, command.details_only
            fn = lambda p: payments.update(p, now, details_only=details,  # noqa: E731
                                           **changes)
        elif isinstance(command, RefundPayment):
            c = command
            fn = lambda p: payments.refund(p, c.refund_id, c.amount, now,  # noqa: E731
                                           reason=c.reason, metadata=c.metadata)
            writes = Writes((*writes.aliases, c.refund_id), writes.records, writes.on_action)
            result_of = lambda b, a: Result(a, b, refund=a.refund(c.refund_id))  # noqa: E731
        elif isinstance(command, DisputeStep):
            fn, writes, result_of = self._dispute_step(command, now)
        else:
            raise TypeError(f"unknown command {type(command).__name__}")

        made: list[Result] = []  # the result emit saw, kept if it is the one committed

        def emit(before: payments.Payment | None,
                 after: payments.Payment) -> Sequence[Event]:
            made[:] = (result_of(before, after),)
            return provider.events_for(namespace, command, made[0])

        # With a webhook outbox that outlives the process, the events are noted as owed
        # with the change and the note is cleared once their deliveries are written, so
        # a process that dies between the two leaves them for OwedDeliveries to send.
        owed = OWED_NONE if not self.dispatcher.durable else \
            OWED_ALWAYS if self.dispatcher.has_targets(provider.name) else OWED_IF_ANY
        done = await store.commit(namespace, pid, fn, create=create, writes=writes,
                                  emit=emit, read=self._endpoints_kind(provider),
                                  claim=claim, owed=owed)
        if made and made[0].payment is done.after and made[0].previous is done.before:
            return made[0], done
        return result_of(done.before, done.after), done

    @staticmethod
    def _dispute_step(command: DisputeStep, now: float) -> tuple[
            Callable[[payments.Payment], payments.Payment], Writes,
            Callable[[payments.Payment | None, payments.Payment], Result]]:
        """A dispute step on its payment; the dispute's id is linked to the payment when
        it opens, so a provider finds the payment from it."""
        fn: Callable[[payments.Payment], payments.Payment]
        writes = command.writes
        if isinstance(command, OpenDispute):
            o = command
            fn = lambda p: disputes.open_dispute(  # noqa: E731
                p, o.dispute_id, now, reason=o.reason, amount=o.amount, kind=o.kind,
                evidence_window=o.evidence_window, ends=o.ends, decide_after=o.decide_after,
                network_reason_code=o.network_reason_code)
            writes = Writes((*writes.aliases, o.dispute_id), writes.records, writes.on_action)
        elif isinstance(command, UpdateDispute):
            u = command
            fn = lambda p: disputes.update_evidence(  # noqa: E731
                p, u.dispute_id, now, evidence=u.evidence, metadata=u.metadata,
                submit=u.submit, ends=u.ends)
        elif isinstance(command, AcceptDispute):
            a = command
            fn = lambda p: disputes.accept(p, a.dispute_id, now)  # noqa: E731
        elif isinstance(command, ResolveDispute):
            r = command
            fn = lambda p: disputes.resolve(p, r.dispute_id, now, r.outcome)  # noqa: E731
        elif isinstance(command, ExpireDispute):
            e = command
            fn = lambda p: disputes.expire(p, e.dispute_id, now, due_by=e.due_by)  # noqa: E731
        elif isinstance(command, ReopenDispute):
            o2 = command
            fn = lambda p: disputes.reopen(  # noqa: E731
                p, o2.dispute_id, now, stage=o2.stage, evidence_window=o2.evidence_window)
        else:
            raise TypeError(f"unknown command {type(command).__name__}")
        dispute_id = command.dispute_id

        def result_of(before: payments.Payment | None, after: payments.Payment) -> Result:
            was = next((d for d in before.disputes if d.id == dispute_id), None) \
                if before is not None else None
            return Result(after, before, dispute=disputes.find(after, dispute_id, "read"),
                          previous_dispute=was)
        return fn, writes, result_of

    async def publish(self, provider: EventSource, namespace: str,
                      events: Sequence[Event]) -> None:
        """Events that no state change carries (a modification the provider refused,
        announced by webhook): through the same outbox, webhook chaos and contract
        checks as every other event, with the request's scenario effects. A fleet's
        outbox holds their deliveries before they are listed, so no event listed by a
        process that then died is one that nobody will send."""
        await self._deliver(provider, namespace, events, APPLIED.get() or NO_EFFECTS)
        await self.store.append_events(namespace, events)

    async def _deliver(self, provider: EventSource, namespace: str,
                       events: Sequence[Event], effects: Effects,
                       known: tuple[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        """Events already in the outbox, to the provider's endpoints (`known`: those
        its commit read), through webhook chaos."""
        endpoints = await provider.webhook_endpoints(Objects(self.store, namespace, known),
                                                     namespace)
        chaos = effects.webhooks
        # Seeding a Random costs an os.urandom call: only webhook chaos needs one.
        rng = (effects.webhook_rng or random.Random()) if chaos is not None else _UNUSED_RNG
        if self.inspect_event is not None:
            for event in events:
                self.inspect_event(event)
        if not endpoints and not self.dispatcher.has_targets(provider.name) and \
                not any(event.url for event in events):
            return  # nobody receives them
        for event in events:
            if chaos is None or not chaos.wants(event.type):
                self.dispatcher.publish(event, provider.webhooks, endpoints,
                                        delay=effects.webhook_delay)
                continue
            if chaos.drop and rng.random() < chaos.drop:
                continue
            copies = 2 if chaos.duplicate and rng.random() < chaos.duplicate else 1
            for _ in range(copies):
                delay = chaos.delay(rng) if chaos.delay else 0.0
                if chaos.reorder:
                    delay += rng.random()
                self.dispatcher.publish(
                    event, provider.webhooks, endpoints, delay=delay,
                    fail_first=chaos.fail_first,
                    bad_signature=bool(chaos.bad_signature)
                    and rng.random() < chaos.bad_signature,
                    stale=bool(chaos.stale_timestamp) and rng.random() < chaos.stale_timestamp)
        if self.dispatcher.durable:  # a fleet's outbox, in Redis: written now
            await self.dispatcher.flush()
