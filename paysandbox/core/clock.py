"""A virtual clock that can run faster than real time and be jumped forward.

Authorisation expiries, webhook retry back-off and subscription renewals are
hours or days long in production. Reading time through this clock lets tests
scale those waits down to seconds (``scale``) or skip them outright
(``advance``) without touching the code that schedules them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["VirtualClock"]


def _check_scale(scale: float) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise ValueError(f"Clock scale must be a number greater than 0, got {scale!r}")
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"Clock scale must be a finite number greater than 0, got {scale!r}")
    return float(scale)


class VirtualClock:
    """Virtual time = anchor + (wall elapsed since anchor) * scale + offset.

    ``offset`` is the total of manual ``advance`` calls. Changing the scale
    re-anchors at the current instant, so virtual time never jumps. Meant for
    a single event loop: no locking is done.
    """

    def __init__(
        self,
        *,
        scale: float = 1.0,
        start: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._scale = _check_scale(scale)
        self._wall = wall
        self._anchor_wall = wall()
        self._anchor_virtual = float(self._anchor_wall if start is None else start)
        self._offset = 0.0
        self._listeners: dict[int, Callable[[float], None]] = {}
        self._next_token = 0

    @property
    def scale(self) -> float:
        return self._scale

    def _scaled(self, wall_now: float) -> float:
        return self._anchor_virtual + (wall_now - self._anchor_wall) * self._scale

    def now(self) -> float:
        """Current virtual time in epoch seconds."""
        return self._scaled(self._wall()) + self._offset

    def now_int(self) -> int:
        """Current virtual time in whole epoch seconds (as in API timestamps)."""
        return math.floor(self.now())

    def now_datetime(self) -> datetime:
        """Current virtual time as a UTC-aware datetime."""
        return datetime.fromtimestamp(self.now(), tz=UTC)

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` of virtual time and notify listeners.

        Every listener is called with the new time even if an earlier one
        raises; the first exception is re-raised afterwards.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"Can only advance by a number of seconds, got {seconds!r}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"Can only advance by a finite, non-negative number of seconds, got {seconds!r}"
            )
        self._offset += seconds
        new_now = self.now()
        self._notify(new_now)
        return new_now

    def _notify(self, new_now: float) -> None:
        first_error: BaseException | None = None
        for callback in list(self._listeners.values()):
            try:
                callback(new_now)
            except Exception as exc:
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error

    def real_seconds_until(self, virtual_ts: float) -> float:
        """Wall seconds until the clock reaches ``virtual_ts`` at the current scale."""
        return max(0.0, (virtual_ts - self.now()) / self._scale)

    def set_scale(self, scale: float) -> None:
        """Change speed from now on; virtual time stays continuous."""
        new_scale = _check_scale(scale)
        wall_now = self._wall()
        self._anchor_virtual = self._scaled(wall_now)
        self._anchor_wall = wall_now
        self._scale = new_scale

    def on_advance(self, callback: Callable[[float], None]) -> Callable[[], None]:
        """Call ``callback(new_now)`` after each ``advance``; returns an unsubscribe function.

        Scheduled work (timers computed from ``real_seconds_until``) uses this
        to re-check deadlines that a manual jump may have made due.
        """
        token = self._next_token
        self._next_token += 1
        self._listeners[token] = callback

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    def state(self) -> dict[str, float]:
        """What makes this clock read as it does, for another process to `adopt`: two
        clocks with the same state read the same time (their wall clocks agreeing)."""
        return {"anchor_wall": self._anchor_wall, "anchor_virtual": self._anchor_virtual,
                "scale": self._scale, "offset": self._offset}

    def adopt(self, state: dict[str, float]) -> None:
        """Read as the clock whose `state()` this is (a fleet's shared clock). A change
        notifies the `on_advance` listeners as `advance` does, so scheduled work wakes in
        every process that follows the shared clock."""
        before = self.state()
        self._anchor_wall = float(state["anchor_wall"])
        self._anchor_virtual = float(state["anchor_virtual"])
        self._scale = _check_scale(float(state["scale"]))
        self._offset = float(state["offset"])
        if self.state() != before:
            self._notify(self.now())

    def snapshot(self) -> dict[str, float]:
        """State for admin/debug views: now, scale and total manual offset."""
        return {"now": self.now(), "scale": self._scale, "offset": self._offset}
