"""State backends: the `Store` protocol and its implementations."""

from __future__ import annotations

from paysandbox.store.base import (
    AlreadyExists,
    IdempotencyConflict,
    IdempotencyRecord,
    NotFound,
    Store,
    StoreUnavailable,
)
from paysandbox.store.memory import MemoryStore

# RedisStore is imported from paysandbox.store.redis: it needs the optional `redis` package.

__all__ = [
    "AlreadyExists",
    "IdempotencyConflict",
    "IdempotencyRecord",
    "MemoryStore",
    "NotFound",
    "Store",
    "StoreUnavailable",
]
