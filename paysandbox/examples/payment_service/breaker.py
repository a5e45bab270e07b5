"""A circuit breaker per provider: stop sending payments to an acquirer that keeps
failing, probe it again after a cool-down, and close once a probe succeeds.

closed --(failure_threshold consecutive failures)--> open
open --(reset_after seconds)--> half_open (one probe at a time)
half_open --(probe succeeds)--> closed;  --(probe fails)--> open again

Only transport trouble counts as a failure (timeouts, resets, 5xx, 429): a declined
card is the acquirer working normally.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class CircuitBreaker:
    name: str
    failure_threshold: int = 5
    reset_after: float = 10.0
    clock: Callable[[], float] = time.monotonic
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False
    transitions: list[tuple[float, str]] = field(default_factory=list)

    def allow(self) -> bool:
        """May a request go to this provider now? In half-open, only one probe at a time."""
        if self.state == OPEN and self.clock() - self.opened_at >= self.reset_after:
            self._move(HALF_OPEN)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.probing = False
        if self.state != CLOSED:
            self._move(CLOSED)

    def failure(self) -> None:
        self.probing = False
        if self.state == HALF_OPEN:
            self._open()
            return
        self.failures += 1
        if self.state == CLOSED and self.failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self.opened_at = self.clock()
        self._move(OPEN)

    def _move(self, state: str) -> None:
        self.state = state
        self.transitions.append((self.clock(), state))

    def snapshot(self) -> dict[str, object]:
        return {"state": self.state, "consecutive_failures": self.failures,
                "transitions": [{"at": at, "state": s} for at, s in self.transitions[-20:]]}
