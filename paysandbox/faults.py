"""Latency distributions and transport faults: closed sets, each applies itself.

WireMock's DelayDistribution and Fault, for aiohttp: a distribution samples seconds
from the scenario's seeded generator; a fault knows how to break one HTTP exchange.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import random
import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from paysandbox.scenarios.durations import seconds

Sampler = Callable[[random.Random], float]


def distribution(spec: Any) -> Sampler:
    """A sampler of seconds from a scenario's `latency` value (validated already)."""
    if not isinstance(spec, Mapping):
        fixed = seconds(spec)
        return lambda _rng: fixed
    kind = spec["distribution"]
    if kind == "fixed":
        value = seconds(spec["value"])
        return lambda _rng: value
    if kind == "uniform":
        lo, hi = seconds(spec["min"]), seconds(spec["max"])
        return lambda rng: rng.uniform(lo, hi)
    if kind == "normal":
        mean, sd = seconds(spec["mean"]), seconds(spec["stddev"])
        return lambda rng: max(0.0, rng.gauss(mean, sd))
    if kind == "lognormal":
        mu, sigma = math.log(max(seconds(spec["median"]), 1e-9)), float(spec["sigma"])
        return lambda rng: rng.lognormvariate(mu, sigma)
    if kind == "pareto":
        scale, alpha = seconds(spec["scale"]), float(spec["alpha"])
        return lambda rng: scale * rng.paretovariate(alpha)
    if kind == "percentiles":
        return _empirical(spec)
    raise ValueError(f"unknown latency distribution {kind!r}")


_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "p999": 0.999, "max": 1.0}


def _empirical(spec: Mapping[str, Any]) -> Sampler:
    """Inverse-CDF sampling through the given percentiles, linear in between. Below p50
    it falls to half of p50 (a service's floor); past the last given percentile it
    extends the last slope to the maximum."""
    points = sorted((_QUANTILES[k], seconds(v)) for k, v in spec.items() if k in _QUANTILES)
    if points[-1][0] < 1.0:  # extrapolate the tail past the last percentile, gently
        q, v = points[-1]
        prev_q, prev_v = points[-2] if len(points) > 1 else (0.5, v)
        slope = (v - prev_v) / (q - prev_q) if q > prev_q else 0.0
        points.append((1.0, v + slope * (1.0 - q)))
    points.insert(0, (0.0, points[0][1] / 2))
    qs = [q for q, _ in points]
    vs = [v for _, v in points]

    def sample(rng: random.Random) -> float:
        u = rng.random()
        i = max(1, bisect.bisect_left(qs, u))
        q0, q1, v0, v1 = qs[i - 1], qs[i], vs[i - 1], vs[i]
        return v0 + (v1 - v0) * ((u - q0) / (q1 - q0) if q1 > q0 else 0.0)

    return sample


# -- transport faults -----------------------------------------------------------------

TRANSPORT_FAULTS = ("connection_reset", "empty_response", "malformed_body", "hang")
HANG_LIMIT = 300.0  # seconds: a hung request ends by itself, tests stay bounded


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault from a scenario: an HTTP status, or a transport-level failure."""

    kind: str  # http | connection_reset | empty_response | malformed_body | hang | slow_body
    status: int = 0
    retry_after: float | None = None
    duration: float = 0.0

    @property
    def ends_early(self) -> bool:
        """Whether the request ends before the provider does anything."""
        return self.kind not in ("malformed_body", "slow_body")

    @classmethod
    def parse(cls, spec: Any) -> Fault:
        if isinstance(spec, str):
            return cls(spec)
        if "http" in spec:
            retry = spec.get("retry_after")
            return cls("http", status=int(spec["http"]),
                       retry_after=seconds(retry) if retry is not None else None)
        if "slow_body" in spec:
            return cls("slow_body", duration=seconds(spec["slow_body"]))
        raise ValueError(f"unknown fault {spec!r}")


def reset(request: web.Request) -> None:
    """Close with a TCP RST: SO_LINGER 0 and an immediate close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def close_silently(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.close()


async def hang(request: web.Request, limit: float = HANG_LIMIT) -> None:
    """Answer nothing until the client gives up (or `limit` passes), then close."""
    transport = request.transport
    waited = 0.0
    while waited < limit and transport is not None and not transport.is_closing():
        await asyncio.sleep(0.2)
        waited += 0.2
    close_silently(request)


def truncate(body: bytes) -> bytes:
    """A JSON body cut short: what a client sees when a proxy dies mid-answer."""
    return body[: max(1, len(body) // 2)]


async def dribble(request: web.Request, response: web.Response, duration: float) -> None:
    """Send the real answer in small pieces spread over `duration` seconds."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    pieces = max(1, min(len(body), 20))
    size = math.ceil(len(body) / pieces)
    pause = duration / pieces
    for i in range(0, len(body), size):
        await stream.write(body[i:i + size])
        await asyncio.sleep(pause)
    await stream.write_eof()
