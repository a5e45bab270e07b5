"""Durations as QA writes them: 250ms, 1.5s, 2m, 1h, 3d (a bare number is seconds)."""

from __future__ import annotations

import re

DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"
_DURATION = re.compile(DURATION_PATTERN)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class DurationError(ValueError):
    pass


def seconds(value: object) -> float:
    """Seconds from 90, 1.5, "90s", "250ms", "15m", "2h" or "3d"; never negative."""
    if isinstance(value, bool):
        raise DurationError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise DurationError(f"a duration cannot be negative, got {value}")
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            number = float(value.strip().rstrip("mshd").strip()) if m.group(2) else float(value)
            return number * _UNITS[m.group(2)]
    raise DurationError(f"{value!r} is not a duration: write seconds (90) or a number with "
                        "a unit: 250ms, 1.5s, 15m, 2h, 3d")
