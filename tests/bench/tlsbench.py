"""What TLS costs: Stripe create+confirm over plain HTTP and over HTTPS, one simulator,
one run, keep-alive connections (wrk's), the rounds of each alternating.

    python tests/bench/tlsbench.py [--duration 10] [--rounds 3] [--connections 50]

One `paysandbox serve --tls` pinned to CPU 0, wrk pinned to CPU 1, three targets:
plain HTTP on the prefix, HTTPS on the prefix, and HTTPS on the provider's hostname
(`Host: api.stripe.com`, `/v1/payment_intents`, routed by host). It prints each
target's median requests/s and its share of the plain one. Handshakes happen once per
connection (keep-alive), so this measures TLS's per-request cost: encryption and the
TLS transport. It talks to 127.0.0.1 only and stops the server on the way out.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import loadbench
from loadbench import LUA, BenchError, pinned, start_server, stop

TARGETS = {
    "plain, prefix": ("http", "/stripe/v1/payment_intents", None),
    "TLS, prefix": ("https", "/stripe/v1/payment_intents", None),
    "TLS, api.stripe.com": ("https", "/v1/payment_intents", "api.stripe.com"),
}


def wrk(url: str, host: str | None, *, duration: float, connections: int,
        cpu: int | None) -> loadbench.WrkResult:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "2s",
            "--latency", "-s", str(LUA)]
    if host:
        argv += ["-H", f"Host: {host}"]
    done = subprocess.run(pinned(cpu, [*argv, url]), capture_output=True, text=True,
                          timeout=duration + 30, stdin=subprocess.DEVNULL)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed (status {done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    result = loadbench.WrkResult(requests=data["requests"], duration_s=data["duration_us"] / 1e6,
                                 errors=data["errors"], latency_us=data["latency_us"])
    if result.errors["status"] or result.socket_errors:
        raise BenchError(f"{url} saw errors {result.errors}: a benchmark of errors is worthless")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tlsbench-") as tmp:
        workdir = Path(tmp)
        server = start_server("simulator", [
            sys.executable, "-m", "paysandbox", "serve", "--port", "0", "--tls",
            "--tls-port", "0", "--ca-dir", str(workdir / "ca"), "--log-level", "warning"],
            0, workdir)
        try:
            deadline = time.monotonic() + 20
            while not (found := re.search(r"TLS +https://127\.0\.0\.1:(\d+)",
                                          server.log.read_text())):
                if time.monotonic() > deadline:
                    raise BenchError(f"no TLS port in the banner:\n{server.log_tail()}")
                time.sleep(0.05)
            ports = {"http": server.port, "https": int(found.group(1))}
            urls = {name: (f"{scheme}://127.0.0.1:{ports[scheme]}{path}", host)
                    for name, (scheme, path, host) in TARGETS.items()}
            for url, host in urls.values():
                wrk(url, host, duration=args.warmup, connections=args.connections, cpu=1)
            rps: dict[str, list[float]] = {name: [] for name in TARGETS}
            p99: dict[str, list[float]] = {name: [] for name in TARGETS}
            for _ in range(args.rounds):
                for name, (url, host) in urls.items():
                    result = wrk(url, host, duration=args.duration,
                                 connections=args.connections, cpu=1)
                    rps[name].append(result.rps)
                    p99[name].append(result.latency_us["p99"] / 1000)
        finally:
            stop(server)
    # Each round's ratio to the plain run just before it, then their median: drift
    # between rounds (a neighbour's load) cancels out within a round.
    plain = rps["plain, prefix"]
    print(f"{'target':<22} {'req/s (median)':>15} {'of plain':>9} {'p99 ms':>8}   rounds")
    for name in TARGETS:
        share = statistics.median(r / p for r, p in zip(rps[name], plain, strict=True))
        print(f"{name:<22} {statistics.median(rps[name]):>15.0f} {share:>9.2f} "
              f"{statistics.median(p99[name]):>8.1f}   "
              + " ".join(f"{r:.0f}" for r in rps[name]))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as exc:
        print(f"tlsbench: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
