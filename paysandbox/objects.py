"""Provider objects that are not payments (payment methods, webhook endpoints, saved
customers): one typed repository per kind and namespace, with cursor paging.

The engine hands providers these rather than the store, so that a provider reads and
writes only its own kinds, in the namespace of the request it serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from paysandbox.core.commands import Record
from paysandbox.errors import ApiError
from paysandbox.store.base import Store

T = TypeVar("T", bound=Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """A kind of provider object kept by namespace (`stripe.payment_method`), with the
    type of its records."""

    name: str


@runtime_checkable
class ListsEndpoints(Protocol):
    """A provider whose webhook endpoints are objects of one kind, registered through
    its own API (Stripe's /v1/webhook_endpoints): the engine reads them in the same store
    call as the state change whose events they receive."""

    endpoints_kind: Kind[Any]


class Repository(Generic[T]):
    """One kind of object in one namespace: create, read, list with cursor paging,
    delete. Records are kept as given (JSON-able mappings) and, like payments, the
    newest of each kind are retained per namespace."""

    __slots__ = ("_all", "_kind", "_namespace", "_store", "before_write")

    def __init__(self, store: Store, namespace: str, kind: Kind[T],
                 known: Sequence[Mapping[str, Any]] | None = None) -> None:
        self._store, self._namespace, self._kind = store, namespace, kind.name
        self._all = known
        #: Awaited before a put or a delete (the request's idempotency claim).
        self.before_write: Callable[[], Awaitable[None]] | None = None

    async def get(self, object_id: str) -> T | None:
        return cast(T | None, await self._store.get_object(self._namespace, self._kind,
                                                          object_id))

    async def put(self, object_id: str, value: T) -> None:
        if self.before_write is not None:
            await self.before_write()
        await self._store.put_object(self._namespace, self._kind, object_id, value)

    async def delete(self, object_id: str) -> bool:
        if self.before_write is not None:
            await self.before_write()
        return bool(await self._store.delete_object(self._namespace, self._kind, object_id))

    async def all(self) -> list[T]:
        """Oldest first."""
        if self._all is not None:
            return cast(list[T], list(self._all))
        return cast(list[T], await self._store.list_objects(self._namespace, self._kind))

    def record(self, object_id: str, value: T) -> Record:
        """The object as a write to apply with a command (`Writes.records`)."""
        return Record(self._kind, object_id, value)


def page(items: Sequence[Any], *, limit: int, after: str | None,
         key: Callable[[Any], str], missing: Callable[[str], ApiError]) -> tuple[list[Any], bool]:
    """A page of `items` (already in the order the API lists them) after the one whose
    key is `after`, and whether more follow; `missing(after)` when no item has it."""
    start = 0
    if after:
        for i, item in enumerate(items):
            if key(item) == after:
                start = i + 1
                break
        else:
            raise missing(after)
    return list(items[start:start + limit]), start + limit < len(items)


class Objects:
    """Every kind's repository in one namespace; `known` holds the records of one kind
    read a moment ago in the same store call (a commit's `read`), so listing them again
    costs nothing."""

    __slots__ = ("_known", "_namespace", "_store")

    def __init__(self, store: Store, namespace: str,
                 known: tuple[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
        self._store, self._namespace, self._known = store, namespace, known

    def of(self, kind: Kind[T]) -> Repository[T]:
        known = self._known
        if known is not None and known[0] == kind.name:
            return Repository(self._store, self._namespace, kind, known[1])
        return Repository(self._store, self._namespace, kind)
