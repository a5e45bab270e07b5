"""The `Store` protocol: the only way state is read or changed.

Every namespace (one credential: an API key or a merchant account) is a world of its
own. Payments change only through `transition`, a compare-and-set loop around a pure
function from `paysandbox.core.payments`, so concurrent commands on one payment are
serialised by the store, never by the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from paysandbox.core.commands import Writes
from paysandbox.core.payments import NoSuchPayment, Payment
from paysandbox.core.tenancy import is_internal
from paysandbox.webhooks.dispatcher import Event


class NotFound(NoSuchPayment):
    """The store has no payment under that id (what providers see as NoSuchPayment)."""


class AlreadyExists(ValueError):
    pass


class StoreUnavailable(ConnectionError):
    """The backend cannot be reached; the message says how to fix it."""


class IdempotencyConflict(Exception):
    """The key is in use by a request that has not finished yet."""


#: Real seconds a request holds the idempotency key it claimed. A claim whose request
#: died without finishing or releasing it (a crash, a store that failed mid-way) is free
#: again after this, so a retry is never refused as "in progress" for good.
LEASE_SECONDS = 60.0


def internal(namespace: str) -> bool:
    """A namespace of the simulator's own (core.tenancy: hosted pages' challenges,
    Daraja's tokens), which no credential can name: retention never forgets it whole."""
    return is_internal(namespace)


def lease_from_now(seconds: float | None = None) -> float:
    return time.time() + (LEASE_SECONDS if seconds is None else seconds)


#: The events a state change emits, from the payment before (None: just created) and
#: after it; called inside the store's commit, so it must be pure.
Emit = Callable[[Payment | None, Payment], Sequence[Event]]


@dataclass(frozen=True, slots=True)
class Committed:
    """What one commit did: the payment before (None: it was created) and after, the
    events it appended, and the records of the kind it was asked to read."""

    before: Payment | None
    after: Payment
    events: Sequence[Event] = ()
    read: Sequence[Mapping[str, Any]] = ()
    owed: bool = False  # its events' deliveries are owed until `delivered` is called


#: `Store.commit`'s `owed`: nothing to note; the events are owed deliveries (someone is
#: to receive them); they are if an event names its own URL or the records read (the
#: provider's endpoints) are not none.
OWED_NONE, OWED_ALWAYS, OWED_IF_ANY = 0, 1, 2


@dataclass(slots=True)
class Claim:
    """An idempotency key that the request holding it claims with its first change of
    state (Store.commit's `claim`), so that the claim costs no call of its own; `taken`
    once it is claimed."""

    key: str
    fingerprint: str
    now: float  # virtual time
    taken: bool = False


class KeyTaken(Exception):
    """The key a commit was to claim is held: by a finished request (its response to
    replay) or one still running. Nothing was written."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.fingerprint)
        self.record = record


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The first request seen under a key and, once it finished, its response."""

    fingerprint: str
    created: float
    status: int | None = None
    body: bytes | None = None
    headers: Mapping[str, str] | None = None
    lease_until: float | None = None  # wall-clock time an unfinished claim expires

    @property
    def finished(self) -> bool:
        return self.status is not None

    def lease_expired(self) -> bool:
        return self.lease_until is not None and time.time() >= self.lease_until


class Store(Protocol):
    #: Whether `get(…, to_change=True)` may answer from a copy this process kept (a
    #: remote store's), which another process may have changed since.
    keeps_copies: bool

    async def create(self, payment: Payment) -> None:
        """Insert a new payment; AlreadyExists if its id is taken in its namespace."""

    async def get(self, namespace: str, payment_id: str, *,
                  to_change: bool = False) -> Payment | None:
        """The payment; `to_change`: for a request about to change it, which may be
        answered from the copy this process saw last (a remote store's), since the
        change is compared with what is stored and made again on a difference."""

    async def evicted(self, namespace: str, object_id: str) -> bool:
        """Whether the id (a payment's, or one of its aliases) was forgotten lately by
        retention, so that its 404 can say so."""

    async def transition(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment]
    ) -> tuple[Payment, Payment]:
        """Apply `fn` atomically (compare-and-set, retried on a lost race).

        Returns (before, after). Whatever `fn` raises propagates and nothing changes.
        """

    async def commit(
        self, namespace: str, payment_id: str, fn: Callable[[Payment], Payment] | None,
        *, create: Payment | None = None, writes: Writes, emit: Emit | None = None,
        read: str | None = None, claim: Claim | None = None, owed: int = OWED_NONE
    ) -> Committed:
        """One state change as one atomic unit: insert `create` (AlreadyExists if its id
        is taken) or read the stored payment, apply `fn` (None: leave it as it is), and
        store the result with `writes` (aliases, records) and, when the payment changed,
        the events `emit` makes of it (appended to the outbox), all or nothing; a lost
        race is retried. With `read`, the records of that kind are read in the same step
        when there are events (a provider's webhook endpoints), and with `claim` (not yet
        taken) its idempotency key is claimed in the same step (KeyTaken, and nothing
        written, when it is held), so that one state change is one call to a remote
        store. With `owed` (a store whose webhook outbox outlives the process), the
        events are noted as owed deliveries in the same step, until `delivered` says
        their deliveries are written: a process that dies between the two leaves them
        for `owed_events` to find. Whatever `fn` or `emit` raises propagates and nothing
        changes."""

    async def list_payments(self, namespace: str, *, provider: str | None = None,
                   limit: int = 100) -> list[Payment]:
        """Newest first."""

    async def link(self, namespace: str, alias: str, payment_id: str) -> None:
        """Make another id (a charge, a refund, a reference) resolve to a payment."""

    async def resolve(self, namespace: str, alias: str) -> str | None: ...

    async def put_object(self, namespace: str, kind: str, object_id: str,
                         value: Mapping[str, Any]) -> None:
        """Provider records that are not payments (payment methods, endpoints)."""

    async def get_object(self, namespace: str, kind: str,
                         object_id: str) -> Mapping[str, Any] | None: ...

    async def list_objects(self, namespace: str, kind: str) -> list[Mapping[str, Any]]: ...

    async def delete_object(self, namespace: str, kind: str, object_id: str) -> bool: ...

    async def idempotency_begin(self, namespace: str, key: str, fingerprint: str,
                                now: float) -> IdempotencyRecord | None:
        """Claim `key`: None if this request owns it now, else the existing record.

        An unfinished existing record means a concurrent request holds the key. A key
        older than the store's TTL (virtual time) is new again, and so is a claim whose
        lease (real time) ran out unfinished.
        """

    async def idempotency_finish(self, namespace: str, key: str, status: int, body: bytes,
                                 headers: Mapping[str, str]) -> None: ...

    async def idempotency_release(self, namespace: str, key: str) -> None:
        """Forget a claim whose request ended without a response worth replaying."""

    async def append_events(self, namespace: str, events: Sequence[Event]) -> None:
        """The outbox: every event emitted, in order, whether or not it is delivered
        (the events of one state change in one call)."""

    async def events(self, namespace: str, *, provider: str | None = None,
                     limit: int = 100) -> list[Event]:
        """Newest first."""

    async def delivered(self, namespace: str, event_ids: Sequence[str]) -> None:
        """The deliveries of these events (noted as owed by a commit) are written."""

    async def owed_events(self, namespace: str, older_than: float) -> list[str]:
        """Ids of events noted as owed before `older_than` (wall-clock time) whose
        deliveries were never said to be written."""

    async def namespaces(self) -> list[str]: ...

    async def secret(self, name: str) -> bytes:
        """A random key made on first use and then the same for every process sharing
        this store (the card-fingerprint key): in memory, for this process; in Redis, for
        as long as that Redis keeps its data, a full reset included."""

    async def reset(self, namespace: str | None = None) -> None:
        """Forget everything, or one namespace."""

    async def health(self) -> dict[str, Any]:
        """`reachable` (bool) and what else describes the backend, for /__admin/health."""

    async def close(self) -> None: ...
