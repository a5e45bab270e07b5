"""Provider objects that are not payments (payment methods, webhook endpoints, saved
customers): one typed repository per kind and namespace, with cursor paging.

The engine hands providers these rather than the store, so that a provider reads and
writes only its own kinds, in the namespace of the request it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from paysandbox.core.commands import Record
from paysandbox.errors import ApiError
from paysandbox.store.base import Store

T = TypeVar("T", bound=Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class Kind(Generic[T]):
    """A kind of provider object kept by namespace (`stripe.payment_method`), with the
    type of its records."""

    name: str


class Repository(Generic[T]):
    """One kind of object in one namespace: create, read, list with cursor paging,
    delete. Records are kept as given (JSON-able mappings) and, like payments, the
    newest of each kind are retained per namespace."""

    __slots__ = ("_kind", "_namespace", "_store")

    def __init__(self, store: Store, namespace: str, kind: Kind[T]) -> None:
        self._store, self._namespace, self._kind = store, namespace, kind.name

    async def get(self, object_id: str) -> T | None:
        return cast(T | None, await self._store.get_object(self._namespace, self._kind,
                                                          object_id))

    async def put(self, object_id: str, value: T) -> None:
        await self._store.put_object(self._namespace, self._kind, object_id, value)

    async def delete(self, object_id: str) -> bool:
        return bool(await self._store.delete_object(self._namespace, self._kind, object_id))

    async def all(self) -> list[T]:
        """Oldest first."""
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
    """Every kind's repository in one namespace."""

    __slots__ = ("_namespace", "_store")

    def __init__(self, store: Store, namespace: str) -> None:
        self._store, self._namespace = store, namespace

    def of(self, kind: Kind[T]) -> Repository[T]:
        return Repository(self._store, self._namespace, kind)
