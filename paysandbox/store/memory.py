"""The default store: plain dicts in one process, nothing to install.

asyncio gives atomicity for free here (no await between read and write), but the
compare-and-set loop is kept so the semantics are the ones every backend honours.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

from paysandbox.core.payments import Payment
from paysandbox.store.base import AlreadyExists, IdempotencyRecord, NotFound
from paysandbox.webhooks.dispatcher import Event


class _Namespace:
    __slots__ = ("_max_idempotency", "aliases", "events", "idempotency", "objects", "payments")

    def __init__(self, max_events: int, max_idempotency: int) -> None:
        self.payments: dict[str, Payment] = {}
        self.aliases: dict[str, str] = {}
        self.objects: dict[str, dict[str, Mapping[str, Any]]] = {}
        self.idempotency: OrderedDict[str, IdempotencyRecord] = OrderedDict()
        self.events: deque[Event] = deque(maxlen=max_events)
        self._max_idempotency = max_idempotency

    def remember(self, key: str, record: IdempotencyRecord) -> None:
        self.idempotency[key] = record
        self.idempotency.move_to_end(key)
        while len(self.idempotency) > self._max_idempotency:
            self.idempotency.popitem(last=False)


class MemoryStore:
    """In-process state, bounded where it would otherwise grow without end."""

    def __init__(self, *, max_events: int = 10_000, max_idempotency_keys: int = 100_000) -> None:
        self._max_events = max_events
        self._max_idempotency = max_idempotency_keys
        self._spaces: dict[str, _Namespace] = {}
        self._secrets: dict[str, bytes] = {}

    def _ns(self, namespace: str) -> _Namespace:
        space = self._spaces.get(namespace)
        if space is None:
            space = self._spaces[namespace] = _Namespace(self._max_events, self._max_idempotency)
        return space

    async def create(self, payment: Payment) -> None:
        space = self._ns(payment.namespace)
        if payment.id in space.payments:
            raise AlreadyExists(payment.id)
        space.payments[payment.id] = payment

    async def get(self, namespace: str, payment_id: str) -> Payment | None:
        space = self._spaces.get(namespace)
        return space.payments.get(payment_id) if space else None

    def _compare_and_set(self, space: _Namespace, before: Payment, after: Payment) -> bool:
        current = space.payments.get(before.id)
        if current is None or current.version != before.version:
            return False
        space.payments[before.id] = after
        return True

    async def transition(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment]
    ) -> tuple[Payment, Payment]:
        space = self._spaces.get(namespace)
        while True:
            before = space.payments.get(payment_id) if space else None
            if space is None or before is None:
                raise NotFound(namespace, payment_id)
            after = fn(before)
            if self._compare_and_set(space, before, after):
                return before, after

    async def list_payments(self, namespace: str, *, provider: str | None = None,
                   limit: int = 100) -> list[Payment]:
        space = self._spaces.get(namespace)
        if not space:
            return []
        found = [p for p in reversed(space.payments.values())
                 if provider is None or p.provider == provider]
        return found[:limit]

    async def link(self, namespace: str, alias: str, payment_id: str) -> None:
        self._ns(namespace).aliases[alias] = payment_id

    async def resolve(self, namespace: str, alias: str) -> str | None:
        space = self._spaces.get(namespace)
        return space.aliases.get(alias) if space else None

    async def put_object(self, namespace: str, kind: str, object_id: str,
                         value: Mapping[str, Any]) -> None:
        self._ns(namespace).objects.setdefault(kind, {})[object_id] = value

    async def get_object(self, namespace: str, kind: str,
                         object_id: str) -> Mapping[str, Any] | None:
        space = self._spaces.get(namespace)
        return space.objects.get(kind, {}).get(object_id) if space else None

    async def list_objects(self, namespace: str, kind: str) -> list[Mapping[str, Any]]:
        space = self._spaces.get(namespace)
        return list(space.objects.get(kind, {}).values()) if space else []

    async def delete_object(self, namespace: str, kind: str, object_id: str) -> bool:
        space = self._spaces.get(namespace)
        return space is not None and space.objects.get(kind, {}).pop(object_id, None) is not None

    async def idempotency_begin(self, namespace: str, key: str, fingerprint: str,
                                now: float) -> IdempotencyRecord | None:
        space = self._ns(namespace)
        existing = space.idempotency.get(key)
        if existing is not None:
            return existing
        space.remember(key, IdempotencyRecord(fingerprint, now))
        return None

    async def idempotency_finish(self, namespace: str, key: str, status: int, body: bytes,
                                 headers: Mapping[str, str]) -> None:
        space = self._ns(namespace)
        claim = space.idempotency.get(key)
        if claim is not None:
            space.remember(key, IdempotencyRecord(claim.fingerprint, claim.created, status,
                                                  body, dict(headers)))

    async def idempotency_release(self, namespace: str, key: str) -> None:
        space = self._spaces.get(namespace)
        if space:
            space.idempotency.pop(key, None)

    async def append_event(self, namespace: str, event: Event) -> None:
        self._ns(namespace).events.append(event)

    async def events(self, namespace: str, *, provider: str | None = None,
                     limit: int = 100) -> list[Event]:
        space = self._spaces.get(namespace)
        if not space:
            return []
        found = [e for e in reversed(space.events)
                 if provider is None or e.provider == provider]
        return found[:limit]

    async def namespaces(self) -> list[str]:
        return sorted(self._spaces)

    async def secret(self, name: str) -> bytes:
        return self._secrets.setdefault(name, secrets.token_bytes(32))

    async def reset(self, namespace: str | None = None) -> None:
        if namespace is None:
            self._spaces.clear()
        else:
            self._spaces.pop(namespace, None)

    async def close(self) -> None:
        return None
