"""Load shapes. Add this file to the locustfiles and pick one with --shape:

    locust -f paysandbox/loadtests/checkout.py,loadtests/shapes.py --shape step --peak-users 40 \
        --shape-time 120 --headless ...

ramp      0 -> peak over the first third, hold, stop at --shape-time
step      peak/4, peak/2, 3peak/4, peak: four equal steps
spike     a fifth of peak; peak from 40% to 60% of the time; a fifth again
soak      peak within 10% of the time, then held (run it for hours)
scenario  peak at once and held: with --sim-scenario the scenario's phases start with
          the load, so an outage at `after: 20s` lands at a known load level

Every shape starts --sim-scenario (when given) on its first tick. `profile()` is the
pure function behind them
(paysandbox/loadtests/profiles.py: no Locust import, so tests and tools can use it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from locust import LoadTestShape

try:
    import paysandbox.loadtests  # noqa: F401
except ImportError:  # `locust -f paysandbox/loadtests/….py` from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from paysandbox.loadtests import plugin
from paysandbox.loadtests.profiles import profile


class PaysandboxShape(LoadTestShape):
    """The shape chosen with --shape (ramp by default)."""

    def tick(self) -> tuple[int, float] | None:
        env = self.runner.environment
        opts = env.parsed_options
        kind = (opts.shape if opts and opts.shape else "ramp")
        peak = opts.peak_users if opts else 10
        duration = opts.shape_time if opts else 60
        plugin.start_scenario(env)
        users = profile(kind, self.get_run_time(), peak, duration)
        if users is None:
            return None
        # Spawn fast enough to follow the profile: a spike must be a spike.
        return users, max(1.0, float(peak))
