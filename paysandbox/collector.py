"""The garbage collector's policy for a process that is the simulator and nothing else."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info.get("generation", 0) >= 1:
        gc.freeze()


@contextlib.contextmanager
def long_lived_heap() -> Iterator[None]:
    """Manage the garbage collector for a process that is the simulator and nothing else
    (`paysandbox serve`): what start-up built, and then whatever survives a collection of
    the middle generation or a full one, is moved out of the collector's sight.

    Payments live until a reset, so a store of a million objects would otherwise be
    walked by every full collection: pauses of hundreds of milliseconds that show up
    as the tested service's p99. Freezing only after full collections still left every
    tenth middle collection a full one over all that survived since the last: pauses of
    70-165 ms under load, and 444 ms for the first one, over start-up
    (tests/bench/README.md, "Collector pauses"). Frozen this soon, a survivor is walked
    by at most two collections. Frozen objects are still freed by reference counting;
    the cost is that a reference cycle still alive at a middle collection is collected
    only at a reset (`release_frozen`) or when this ends. Requests, declines and
    deliveries leave no cycles behind; a failed delivery attempt does, while its error
    is handled.

    Not for a simulator embedded in another process (the pytest plugin, a test server):
    the heap there is its host's, and frozen objects are invisible to gc.get_referrers.
    """
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(_freeze_survivors)
        gc.unfreeze()


def release_frozen() -> None:
    """After a reset, let the next full collection see what the reset let go (only where
    `long_lived_heap` froze it)."""
    if _freeze_survivors in gc.callbacks:
        gc.unfreeze()
