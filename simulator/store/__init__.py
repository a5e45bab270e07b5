"""State backends: the `Store` protocol and its implementations."""

from __future__ import annotations

from simulator.store.base import (
    AlreadyExists,
    IdempotencyConflict,
    IdempotencyRecord,
    NotFound,
    Store,
)
from simulator.store.memory import MemoryStore

__all__ = [
    "AlreadyExists",
    "IdempotencyConflict",
    "IdempotencyRecord",
    "MemoryStore",
    "NotFound",
    "Store",
]
