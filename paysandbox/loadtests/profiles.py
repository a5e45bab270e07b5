"""The users a load shape wants at each moment: pure, no Locust import."""

from __future__ import annotations

import math

KINDS = ("ramp", "step", "spike", "soak", "scenario")


def profile(kind: str, t: float, peak: int, duration: float) -> int | None:
    """Users wanted at `t` seconds; None once the shape is over."""
    if t >= duration:
        return None
    x = t / duration
    if kind == "ramp":
        return max(1, math.ceil(peak * min(1.0, x * 3)))
    if kind == "step":
        return max(1, math.ceil(peak * (int(x * 4) + 1) / 4))
    if kind == "spike":
        return peak if 0.4 <= x < 0.6 else max(1, peak // 5)
    if kind == "soak":
        return max(1, math.ceil(peak * min(1.0, x * 10)))
    if kind == "scenario":
        return peak
    raise ValueError(f"unknown shape {kind!r}; use one of {', '.join(KINDS)}")
