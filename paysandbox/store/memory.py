"""The default store: plain dicts in one process, nothing to install.

asyncio gives atomicity for free here: a commit reads, transitions and writes with no
await in between, so nothing can interleave (Redis needs a compare-and-set for that).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from paysandbox.core.commands import NO_WRITES, Writes
from paysandbox.core.payments import Payment
from paysandbox.store.base import (
    LEASE_SECONDS,
    AlreadyExists,
    Claim,
    Committed,
    Emit,
    IdempotencyRecord,
    KeyTaken,
    NotFound,
    internal,
    lease_from_now,
)
from paysandbox.webhooks.dispatcher import Event


class _Namespace:
    __slots__ = ("alias_of", "aliases", "events", "evicted", "idempotency", "internal",
                 "objects", "payments")

    def __init__(self, internal: bool = False) -> None:
        self.internal = internal  # the simulator's own: not held to a share
        self.payments: OrderedDict[str, Payment] = OrderedDict()  # oldest first
        self.aliases: dict[str, str] = {}
        self.alias_of: dict[str, list[str]] = {}  # payment id -> its aliases
        self.objects: dict[str, OrderedDict[str, Mapping[str, Any]]] = {}
        self.idempotency: OrderedDict[str, IdempotencyRecord] = OrderedDict()
        self.events: deque[Event] = deque()
        # Ids (payments and their aliases) evicted lately, so their 404 can say why.
        self.evicted: OrderedDict[str, None] = OrderedDict()


class MemoryStore:
    """In-process state, bounded where it would otherwise grow without end.

    Per namespace the newest `retain_payments` payments are kept (with their aliases;
    the same number of objects of each kind and of events), and the newest
    `max_idempotency_keys` idempotency keys, each for `idempotency_ttl` seconds of
    virtual time; at most `max_namespaces` namespaces, the least recently written to
    forgotten first. Every eviction is O(1) and happens in the write that exceeds the
    bound."""

    keeps_copies = False  # every read is of what is stored

    def __init__(self, *, retain_payments: int = 10_000, max_events: int | None = None,
                 max_idempotency_keys: int = 10_000, idempotency_ttl: float = 86_400.0,
                 lease: float = LEASE_SECONDS, max_namespaces: int = 1_000,
                 max_payments: int | None = None) -> None:
        self._retain = max(1, retain_payments)
        self._max_events = max_events if max_events is not None else self._retain
        self._max_idempotency = max(1, max_idempotency_keys)
        self._budget = max_payments
        self._ttl = idempotency_ttl
        self._lease = lease
        self._max_namespaces = max(1, max_namespaces)
        self._spaces: OrderedDict[str, _Namespace] = OrderedDict()
        self.evictions = {"payments": 0, "namespaces": 0, "idempotency_keys": 0}
        self._secrets: dict[str, bytes] = {}

    def _ns(self, namespace: str) -> _Namespace:
        space = self._spaces.get(namespace)
        if space is None:
            space = self._spaces[namespace] = _Namespace(internal(namespace))
            if len(self._spaces) > self._max_namespaces:
                self._evict_oldest_namespace()
        else:
            self._spaces.move_to_end(namespace)
        return space

    def _share(self, bound: int, space: _Namespace) -> int:
        """`bound`, or less when `max_payments` shared among the namespaces is less: a
        namespace over its share gives back up to two items per write, so all of them
        converge on it as more keys come (at worst twice the budget meanwhile)."""
        if self._budget is None or space.internal:
            return bound
        return max(1, min(bound, self._budget // max(1, len(self._spaces))))

    def _evict_oldest_namespace(self) -> None:
        """The least recently written one, never an internal one (hosted pages'
        challenges, a provider's tokens): those are kept and count as recently used."""
        for _ in range(len(self._spaces)):
            oldest, space = self._spaces.popitem(last=False)
            if not internal(oldest):
                self.evictions["namespaces"] += 1
                return
            self._spaces[oldest] = space  # back, as the newest

    def _evict_oldest_payment(self, space: _Namespace) -> None:
        old_id, _ = space.payments.popitem(last=False)
        self.evictions["payments"] += 1
        gone = [old_id, *space.alias_of.pop(old_id, ())]
        for alias in gone[1:]:
            space.aliases.pop(alias, None)
        for ident in gone:
            space.evicted[ident] = None
        while len(space.evicted) > 2 * self._retain:  # ids of payments and aliases
            space.evicted.popitem(last=False)

    async def health(self) -> dict[str, Any]:
        return {"backend": "memory", "reachable": True, "namespaces": len(self._spaces),
                "evictions": dict(self.evictions)}

    def holds(self, namespace: str, payment_id: str) -> bool:
        """Whether the payment is still kept (the scheduler forgets commands on evicted
        ones)."""
        space = self._spaces.get(namespace)
        return space is not None and payment_id in space.payments

    async def evicted(self, namespace: str, object_id: str) -> bool:
        space = self._spaces.get(namespace)
        return space is not None and object_id in space.evicted

    async def create(self, payment: Payment) -> None:
        await self.commit(payment.namespace, payment.id, None, create=payment,
                          writes=NO_WRITES)

    async def get(self, namespace: str, payment_id: str, *,
                  to_change: bool = False) -> Payment | None:
        space = self._spaces.get(namespace)
        return space.payments.get(payment_id) if space else None

    async def transition(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment]
    ) -> tuple[Payment, Payment]:
        done = await self.commit(namespace, payment_id, fn, writes=NO_WRITES)
        assert done.before is not None  # (no payment was created)
        return done.before, done.after

    async def commit(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment] | None,
        *, create: Payment | None = None, writes: Writes, emit: Emit | None = None,
        read: str | None = None, claim: Claim | None = None, owed: int = 0
    ) -> Committed:
        # No await from the read to the last write: nothing can interleave.
        claiming = claim is not None and not claim.taken
        if claiming:
            assert claim is not None
            held = self._held(self._ns(namespace), claim.key, claim.now)
            if held is not None:
                raise KeyTaken(held)
        space = self._ns(namespace) if create is not None else self._spaces.get(namespace)
        if create is not None:
            assert space is not None
            if create.id in space.payments:
                raise AlreadyExists(create.id)
            before = create
        else:
            found = space.payments.get(payment_id) if space else None
            if space is None or found is None:
                raise NotFound(namespace, payment_id)
            before = found
        after = before if fn is None else fn(before)
        was = None if create is not None else before
        events = emit(was, after) if emit is not None and after is not was else ()
        space.payments[after.id] = after
        if create is not None:
            space.payments.move_to_end(after.id)
        for alias in writes.aliases:
            if alias not in space.aliases:
                space.alias_of.setdefault(after.id, []).append(alias)
            space.aliases[alias] = after.id
        for record in writes.records_for(after):
            self._put(self._ns(record.namespace) if record.namespace else space,
                      record.kind, record.id, record.value)
        if create is not None:
            self._retain_payments(space)
        if claiming:
            assert claim is not None
            self._claim(space, claim.key, claim.fingerprint, claim.now)
            claim.taken = True
        if not events:
            return Committed(was, after)
        self._append(space, events)
        kept = space.objects.get(read) if read is not None else None
        return Committed(was, after, events, list(kept.values()) if kept else ())

    def _retain_payments(self, space: _Namespace) -> None:
        limit = self._share(self._retain, space)
        for _ in range(2):
            if len(space.payments) <= limit:
                break
            self._evict_oldest_payment(space)

    async def list_payments(self, namespace: str, *, provider: str | None = None,
                   limit: int = 100) -> list[Payment]:
        space = self._spaces.get(namespace)
        if not space:
            return []
        found = [p for p in reversed(space.payments.values())
                 if provider is None or p.provider == provider]
        return found[:limit]

    async def link(self, namespace: str, alias: str, payment_id: str) -> None:
        space = self._ns(namespace)
        if payment_id not in space.payments:
            return  # evicted meanwhile: its aliases went with it
        if alias not in space.aliases:
            space.alias_of.setdefault(payment_id, []).append(alias)
        space.aliases[alias] = payment_id

    async def resolve(self, namespace: str, alias: str) -> str | None:
        space = self._spaces.get(namespace)
        return space.aliases.get(alias) if space else None

    async def put_object(self, namespace: str, kind: str, object_id: str,
                         value: Mapping[str, Any]) -> None:
        self._put(self._ns(namespace), kind, object_id, value)

    def _put(self, space: _Namespace, kind: str, object_id: str,
             value: Mapping[str, Any]) -> None:
        objects = space.objects.setdefault(kind, OrderedDict())
        objects[object_id] = value
        limit = self._share(self._retain, space)  # as many of each kind as payments
        for _ in range(2):
            if len(objects) <= limit:
                break
            objects.popitem(last=False)

    async def get_object(self, namespace: str, kind: str,
                         object_id: str) -> Mapping[str, Any] | None:
        space = self._spaces.get(namespace)
        objects = space.objects.get(kind) if space else None
        return objects.get(object_id) if objects is not None else None

    async def list_objects(self, namespace: str, kind: str) -> list[Mapping[str, Any]]:
        space = self._spaces.get(namespace)
        objects = space.objects.get(kind) if space else None
        return list(objects.values()) if objects is not None else []

    async def delete_object(self, namespace: str, kind: str, object_id: str) -> bool:
        space = self._spaces.get(namespace)
        objects = space.objects.get(kind) if space else None
        return objects is not None and objects.pop(object_id, None) is not None

    async def idempotency_begin(self, namespace: str, key: str, fingerprint: str,
                                now: float) -> IdempotencyRecord | None:
        space = self._ns(namespace)
        existing = self._held(space, key, now)
        if existing is None:
            self._claim(space, key, fingerprint, now)
        return existing

    def _held(self, space: _Namespace, key: str, now: float) -> IdempotencyRecord | None:
        """The record holding `key`, if a request holds it (finished, or running within
        its lease); forgets the keys past their time on the way."""
        records = space.idempotency
        while records:  # forget the keys past their time (oldest written first)
            oldest = next(iter(records.values()))
            if now - oldest.created < self._ttl:
                break
            records.popitem(last=False)
            self.evictions["idempotency_keys"] += 1
        existing = records.get(key)
        if existing is not None and now - existing.created < self._ttl and \
                (existing.finished or not existing.lease_expired()):
            return existing
        return None

    def _claim(self, space: _Namespace, key: str, fingerprint: str, now: float) -> None:
        self._remember(space, key, IdempotencyRecord(fingerprint, now,
                                                     lease_until=lease_from_now(self._lease)))

    def _remember(self, space: _Namespace, key: str, record: IdempotencyRecord) -> None:
        records = space.idempotency
        records[key] = record
        records.move_to_end(key)
        limit = self._share(self._max_idempotency, space)
        for _ in range(2):
            if len(records) <= limit:
                break
            records.popitem(last=False)
            self.evictions["idempotency_keys"] += 1

    async def idempotency_finish(self, namespace: str, key: str, status: int, body: bytes,
                                 headers: Mapping[str, str]) -> None:
        space = self._ns(namespace)
        claim = space.idempotency.get(key)
        if claim is not None:
            self._remember(space, key, IdempotencyRecord(claim.fingerprint, claim.created,
                                                         status, body, dict(headers)))

    async def idempotency_release(self, namespace: str, key: str) -> None:
        space = self._spaces.get(namespace)
        if space:
            space.idempotency.pop(key, None)

    async def append_events(self, namespace: str, batch: Sequence[Event]) -> None:
        self._append(self._ns(namespace), batch)

    def _append(self, space: _Namespace, batch: Sequence[Event]) -> None:
        events = space.events
        events.extend(batch)
        limit = self._share(self._max_events, space)
        for _ in range(len(batch) + 1):
            if len(events) <= limit:
                break
            events.popleft()

    async def events(self, namespace: str, *, provider: str | None = None,
                     limit: int = 100) -> list[Event]:
        space = self._spaces.get(namespace)
        if not space:
            return []
        found = [e for e in reversed(space.events)
                 if provider is None or e.provider == provider]
        return found[:limit]

    async def delivered(self, namespace: str, event_ids: Sequence[str]) -> None:
        """Nothing to do: this process's own dispatcher holds its deliveries."""

    async def owed_events(self, namespace: str, older_than: float) -> list[str]:
        return []

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
