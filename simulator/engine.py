"""The request path every provider shares (DESIGN.md, "The request path").

A provider's route has already parsed the wire request, checked credentials and built
a canonical command. Here: scenario effects -> transport fault -> outcome -> atomic
state transition -> webhook events -> latency. The provider renders what comes back.
Adding a provider adds no line to this file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from simulator.core import payments
from simulator.core.clock import VirtualClock
from simulator.core.commands import (
    Authorize,
    Capture,
    Command,
    Complete,
    Create,
    RefundPayment,
    Result,
    Retrieve,
    Update,
    Void,
)
from simulator.core.outcomes import APPROVED, Outcome
from simulator.store.base import NotFound, Store
from simulator.webhooks.dispatcher import Dispatcher, Endpoint, Event, WebhookScheme


@dataclass(frozen=True, slots=True)
class Effects:
    """What matching scenario rules ask of one request."""

    outcome: Outcome | None = None
    latency: float = 0.0  # seconds, awaited before the response
    fault: str | None = None
    webhook_delay: float = 0.0  # virtual seconds
    matched: tuple[str, ...] = ()


NO_EFFECTS = Effects()


class Scenarios(Protocol):
    """The seam the scenario engine plugs into."""

    def effects(self, provider: str, namespace: str, command: Command,
                facts: Mapping[str, Any]) -> Effects: ...


class NoScenarios:
    def effects(self, provider: str, namespace: str, command: Command,
                facts: Mapping[str, Any]) -> Effects:
        return NO_EFFECTS


class EventSource(Protocol):
    """The part of a provider the engine talks to after a state change."""

    name: str
    webhooks: WebhookScheme

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]: ...

    async def webhook_endpoints(self, store: Store, namespace: str) -> Sequence[Endpoint]: ...


class InjectedFault(Exception):
    """A scenario asked for a transport fault; the HTTP layer applies it."""

    def __init__(self, fault: str) -> None:
        super().__init__(fault)
        self.fault = fault


class Engine:
    def __init__(self, *, store: Store, clock: VirtualClock, dispatcher: Dispatcher,
                 scenarios: Scenarios | None = None) -> None:
        self.store = store
        self.clock = clock
        self.dispatcher = dispatcher
        self.scenarios: Scenarios = scenarios or NoScenarios()

    async def execute(self, provider: EventSource, namespace: str, command: Command,
                      facts: Mapping[str, Any] | None = None) -> Result:
        effects = self.scenarios.effects(provider.name, namespace, command, facts or {})
        if effects.fault is not None:
            raise InjectedFault(effects.fault)
        try:
            result = await self._apply(namespace, command, effects)
            if result.previous is not result.payment:
                await self._emit(provider, namespace, command, result, effects)
        finally:
            if effects.latency > 0:
                await asyncio.sleep(effects.latency)
        return result

    async def _apply(self, namespace: str, command: Command, effects: Effects) -> Result:
        store, now = self.store, self.clock.now()
        pid = command.payment_id
        if isinstance(command, Retrieve):
            found = await store.get(namespace, pid)
            if found is None:
                raise NotFound(namespace, pid)
            return Result(found, found)
        if isinstance(command, Create):
            await store.create(command.payment)
            return Result(command.payment, None)
        if isinstance(command, Authorize):
            outcome = effects.outcome or command.outcome or APPROVED
            if command.create is not None:
                await store.create(command.create)
            changes = command.changes
            before, after = await store.transition(
                namespace, pid, lambda p: payments.attempt(p, outcome, now, **changes))
            return Result(after, None if command.create else before, outcome)
        if isinstance(command, Capture):
            amount = command.amount
            before, after = await store.transition(
                namespace, pid, lambda p: payments.capture(p, amount, now))
        elif isinstance(command, Void):
            reason = command.reason
            before, after = await store.transition(
                namespace, pid, lambda p: payments.void(p, now, reason))
        elif isinstance(command, Complete):
            ok = command.success
            before, after = await store.transition(
                namespace, pid, lambda p: payments.complete_action(p, ok, now))
        elif isinstance(command, Update):
            changes = command.changes
            before, after = await store.transition(
                namespace, pid, lambda p: payments.update(p, now, **changes))
        elif isinstance(command, RefundPayment):
            c = command
            before, after = await store.transition(
                namespace, pid, lambda p: payments.refund(p, c.refund_id, c.amount, now,
                                                          reason=c.reason, metadata=c.metadata))
            await store.link(namespace, c.refund_id, pid)
            return Result(after, before, refund=after.refund(c.refund_id))
        else:
            raise TypeError(f"unknown command {type(command).__name__}")
        return Result(after, before)

    async def _emit(self, provider: EventSource, namespace: str, command: Command,
                    result: Result, effects: Effects) -> None:
        events = provider.events_for(namespace, command, result)
        if not events:
            return
        endpoints = await provider.webhook_endpoints(self.store, namespace)
        for event in events:
            await self.store.append_event(namespace, event)
            self.dispatcher.publish(event, provider.webhooks, endpoints,
                                    delay=effects.webhook_delay)
