"""Fleet benchmark: `serve --workers 1` against `serve --workers 2`, on one Redis.

Both configurations use the same redis-server (started here on a unix socket, without
persistence, emptied between runs) and the same wrk load as loadbench.py (Stripe's
create+confirm, one API key). For each it prints requests/s and, from Redis's own
`INFO cpu` and `INFO commandstats` before and after the measured run, Redis CPU per
request and Redis commands per request; then the ratios of `--workers 2` to
`--workers 1`, and how many create+confirm/s one Redis core would feed at the measured
cost (where Redis saturates).

    python tests/bench/fleetbench.py [--duration 5] [--connections 50] [--json out.json]

Nothing is pinned: on a small machine the workers, Redis and wrk share the cores, and the
table says how many there are. Exit status 0 when it ran, 2 when it could not measure
(a server did not start, wrk or redis-server is missing, a run saw errors). Every
process it starts is stopped before it exits; every step has a time limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadbench import (  # noqa: E402  (a script beside this one, not a package)
    SIM_PATH,
    BenchError,
    WrkResult,
    post,
    run_wrk,
    start_server,
    stop,
)

CONFIGS = (("workers 1", ["--workers", "1"]), ("workers 2", ["--workers", "2"]))


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], redis.Redis, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("no redis-server on PATH: apt-get install redis-server")
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(folder),
         "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    client = redis.Redis(unix_socket_path=str(sock), socket_timeout=5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc, client, f"unix://{sock}"
        except (redis.RedisError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise BenchError("redis-server did not answer PING within 10 s") from None
            time.sleep(0.05)


def redis_counters(client: redis.Redis) -> tuple[float, int]:
    """Redis's CPU seconds (user + system, main thread and all) and commands served."""
    cpu = client.info("cpu")
    stats = client.info("commandstats")
    calls = sum(int(v["calls"]) for v in stats.values() if isinstance(v, dict))
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), calls


def measure(name: str, flags: list[str], store: str, client: redis.Redis,
            args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    client.flushall()
    server = start_server(name.replace(" ", "-"),
                          [sys.executable, "-m", "paysandbox", "serve", "--port", "0",
                           "--store", store, "--journal-size", "0", *flags],
                          None, workdir, timeout=60)
    try:
        url = f"http://127.0.0.1:{server.port}{SIM_PATH}"
        status, body = post(url)
        if status != 200:
            raise BenchError(f"{name}: the pre-flight POST got {status}: {body[:300]!r}")
        run_wrk(url, duration=1, connections=args.connections, threads=args.threads,
                cpu=None)  # warm-up
        cpu0, calls0 = redis_counters(client)
        result: WrkResult = run_wrk(url, duration=args.duration,
                                    connections=args.connections, threads=args.threads,
                                    cpu=None)
        cpu1, calls1 = redis_counters(client)
    finally:
        stop(server)
    if result.non_2xx or result.socket_errors or not result.requests:
        raise BenchError(f"{name}: {result.non_2xx} non-2xx, {result.socket_errors} socket "
                         f"errors in {result.requests} requests:\n{result.text}")
    return {"config": name, "requests": result.requests, "rps": round(result.rps, 1),
            "p99_ms": round(result.latency_us["p99"] / 1000, 2),
            "redis_us_per_request": round(1e6 * (cpu1 - cpu0) / result.requests, 1),
            "redis_calls_per_request": round((calls1 - calls0) / result.requests, 2)}


def table(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [f"fleetbench {meta['date']} commit {meta['commit']}: {meta['cpus']} CPUs, "
             f"{meta['duration']:g} s per config, wrk {meta['threads']} threads, "
             f"{meta['connections']} connections, Stripe create+confirm, one Redis "
             "(unix socket), journal off", "",
             "| config | req/s | p99 ms | Redis CPU us/request | Redis commands/request "
             "(scripts' own included) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['rps']:,.0f} | {r['p99_ms']} | "
                     f"{r['redis_us_per_request']} | {r['redis_calls_per_request']} |")
    one, two = rows
    lines += ["", f"workers 2 / workers 1: {two['rps'] / one['rps']:.2f}x req/s",
              f"one Redis core at {two['redis_us_per_request']} us/request feeds about "
              f"{1e6 / max(two['redis_us_per_request'], 0.1):,.0f} create+confirm/s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("fleetbench: install wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE, check=False).stdout.strip() or "unknown"
    meta = {"date": dt.date.today().isoformat(), "commit": commit, "cpus": os.cpu_count(),
            "duration": args.duration, "threads": args.threads,
            "connections": args.connections}
    with tempfile.TemporaryDirectory(prefix="fleetbench-") as tmp:
        workdir = Path(tmp)
        redis_folder = workdir / "redis"
        redis_folder.mkdir()
        proc, client, store = start_redis(redis_folder)
        try:
            rows = [measure(name, flags, store, client, args, workdir)
                    for name, flags in CONFIGS]
        except BenchError as exc:
            print(f"fleetbench: {exc}", file=sys.stderr)
            return 2
        finally:
            client.close()
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print(table(rows, meta))
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
