from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paysandbox.core.clock import VirtualClock


class FakeWall:
    """A controllable stand-in for time.time."""

    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_defaults_follow_the_wall_clock() -> None:
    wall = FakeWall(1_700_000_000.0)
    clock = VirtualClock(wall=wall)
    assert clock.now() == 1_700_000_000.0
    wall.t += 5
    assert clock.now() == 1_700_000_005.0


def test_real_wall_clock_by_default() -> None:
    import time

    before = time.time()
    now = VirtualClock().now()
    assert before <= now <= time.time()


def test_start_and_scale() -> None:
    wall = FakeWall(50.0)
    clock = VirtualClock(scale=60.0, start=1_000.0, wall=wall)
    assert clock.now() == 1_000.0
    wall.t += 2  # two real seconds are two virtual minutes
    assert clock.now() == 1_120.0


def test_now_int_and_datetime() -> None:
    wall = FakeWall()
    clock = VirtualClock(start=1_700_000_000.75, wall=wall)
    assert clock.now_int() == 1_700_000_000
    assert isinstance(clock.now_int(), int)
    moment = clock.now_datetime()
    assert moment.tzinfo is UTC
    assert moment == datetime.fromtimestamp(1_700_000_000.75, tz=UTC)


def test_advance_moves_time_and_returns_new_now() -> None:
    wall = FakeWall()
    clock = VirtualClock(start=0.0, wall=wall)
    assert clock.advance(3600) == 3600.0
    assert clock.now() == 3600.0
    wall.t += 1
    assert clock.now() == 3601.0
    assert clock.advance(0) == 3601.0


def test_advance_is_not_scaled() -> None:
    clock = VirtualClock(scale=10.0, start=0.0, wall=FakeWall())
    assert clock.advance(5) == 5.0


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf")])
def test_advance_rejects_negative_and_non_finite(bad: float) -> None:
    clock = VirtualClock(start=0.0, wall=FakeWall())
    with pytest.raises(ValueError):
        clock.advance(bad)
    assert clock.now() == 0.0


def test_advance_fires_listeners_with_new_now() -> None:
    clock = VirtualClock(start=100.0, wall=FakeWall())
    seen_a: list[float] = []
    seen_b: list[float] = []
    clock.on_advance(seen_a.append)
    clock.on_advance(seen_b.append)
    clock.advance(10)
    clock.advance(5)
    assert seen_a == [110.0, 115.0]
    assert seen_b == [110.0, 115.0]


def test_unsubscribe_stops_notifications_and_is_idempotent() -> None:
    clock = VirtualClock(start=0.0, wall=FakeWall())
    seen: list[float] = []
    unsubscribe = clock.on_advance(seen.append)
    clock.advance(1)
    unsubscribe()
    unsubscribe()
    clock.advance(1)
    assert seen == [1.0]


def test_same_callback_registered_twice_is_unsubscribed_separately() -> None:
    clock = VirtualClock(start=0.0, wall=FakeWall())
    seen: list[float] = []
    first = clock.on_advance(seen.append)
    clock.on_advance(seen.append)
    first()
    clock.advance(1)
    assert seen == [1.0]


def test_listener_may_unsubscribe_during_notification() -> None:
    clock = VirtualClock(start=0.0, wall=FakeWall())
    seen: list[float] = []

    def once(now: float) -> None:
        seen.append(now)
        unsubscribe()

    unsubscribe = clock.on_advance(once)
    clock.on_advance(seen.append)
    clock.advance(1)
    clock.advance(1)
    assert seen == [1.0, 1.0, 2.0]


def test_failing_listener_does_not_starve_the_others() -> None:
    clock = VirtualClock(start=0.0, wall=FakeWall())
    seen: list[float] = []

    def boom(now: float) -> None:
        raise RuntimeError("listener failed")

    clock.on_advance(boom)
    clock.on_advance(seen.append)
    with pytest.raises(RuntimeError, match="listener failed"):
        clock.advance(7)
    assert seen == [7.0]
    assert clock.now() == 7.0


def test_set_scale_keeps_virtual_time_continuous() -> None:
    wall = FakeWall(0.0)
    clock = VirtualClock(scale=2.0, start=1_000.0, wall=wall)
    wall.t = 10.0
    assert clock.now() == 1_020.0
    clock.set_scale(100.0)
    assert clock.now() == 1_020.0  # no jump at the change
    wall.t = 11.0
    assert clock.now() == 1_120.0
    clock.advance(30)
    clock.set_scale(0.5)
    assert clock.now() == 1_150.0
    wall.t = 13.0
    assert clock.now() == 1_151.0
    assert clock.scale == 0.5


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_scale_must_be_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="scale"):
        VirtualClock(scale=bad, wall=FakeWall())
    clock = VirtualClock(wall=FakeWall())
    with pytest.raises(ValueError, match="scale"):
        clock.set_scale(bad)
    assert clock.scale == 1.0


def test_real_seconds_until() -> None:
    wall = FakeWall(0.0)
    clock = VirtualClock(scale=60.0, start=0.0, wall=wall)
    assert clock.real_seconds_until(3600.0) == 60.0
    wall.t = 30.0
    assert clock.real_seconds_until(3600.0) == 30.0
    assert clock.real_seconds_until(0.0) == 0.0  # already past
    clock.advance(3600)
    assert clock.real_seconds_until(3600.0) == 0.0


def test_snapshot() -> None:
    wall = FakeWall(0.0)
    clock = VirtualClock(scale=3.0, start=500.0, wall=wall)
    wall.t = 10.0
    clock.advance(20)
    clock.advance(2.5)
    assert clock.snapshot() == {"now": 552.5, "scale": 3.0, "offset": 22.5}
