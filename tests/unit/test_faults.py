"""Latency distributions sample what they promise (statistically, on a seeded generator)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from paysandbox.faults import Fault, distribution

N = 20_000


def quantiles(spec: object, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    sample = distribution(spec)
    return statistics.quantiles([sample(rng) for _ in range(N)], n=100, method="inclusive")


def test_fixed_and_shorthand():
    assert set(quantiles("250ms")) == {0.25}
    assert set(quantiles({"distribution": "fixed", "value": 2})) == {2.0}


def test_uniform_quantiles_are_linear():
    q = quantiles({"distribution": "uniform", "min": "100ms", "max": "300ms"})
    assert q[49] == pytest.approx(0.200, abs=0.005)
    assert q[94] == pytest.approx(0.290, abs=0.005)


def test_normal_is_centred_and_never_negative():
    rng = random.Random(3)
    sample = distribution({"distribution": "normal", "mean": "50ms", "stddev": "40ms"})
    values = [sample(rng) for _ in range(N)]
    assert min(values) >= 0.0
    assert statistics.median(values) == pytest.approx(0.050, abs=0.003)


def test_lognormal_median_and_tail():
    q = quantiles({"distribution": "lognormal", "median": "80ms", "sigma": 0.5})
    assert q[49] == pytest.approx(0.080, rel=0.05)
    assert q[98] == pytest.approx(0.080 * math.exp(0.5 * 2.3263), rel=0.08)


def test_pareto_minimum_and_median():
    q = quantiles({"distribution": "pareto", "scale": "10ms", "alpha": 2.0})
    assert q[0] >= 0.010
    assert q[49] == pytest.approx(0.010 * 2 ** 0.5, rel=0.05)  # scale * 2^(1/alpha)


def test_percentile_table_is_reproduced():
    """Checked on the CDF: the share of samples at or below each configured value is
    its quantile (the values themselves are noisy where the table is steep)."""
    rng = random.Random(2)
    sample = distribution({"distribution": "percentiles", "p50": "80ms", "p95": "400ms",
                           "p99": "1.2s"})
    values = [sample(rng) for _ in range(N)]
    for limit, share in ((0.080, 0.50), (0.400, 0.95), (1.2, 0.99)):
        assert sum(v <= limit for v in values) / N == pytest.approx(share, abs=0.005)
    assert max(values) < 2.0


def test_same_seed_same_samples():
    spec = {"distribution": "lognormal", "median": "80ms", "sigma": 1.0}
    assert quantiles(spec, seed=9) == quantiles(spec, seed=9)


@pytest.mark.parametrize(("spec", "kind", "early"), [
    ("connection_reset", "connection_reset", True),
    ("hang", "hang", True),
    ("malformed_body", "malformed_body", False),
    ({"http": 503, "retry_after": "2s"}, "http", True),
    ({"slow_body": "3s"}, "slow_body", False),
])
def test_faults_parse_and_say_whether_they_end_the_request(spec, kind, early):
    fault = Fault.parse(spec)
    assert fault.kind == kind
    assert fault.ends_early is early
