"""Soak: does the simulator's memory stay flat under full-rate load, with and without
webhooks? Not a test; run it by hand (a few minutes with the defaults):

    python tests/bench/soak.py                          # every mode, 45 s each
    python tests/bench/soak.py --duration 1800 --modes create-confirm:dead

Each mode starts `paysandbox serve` with its default limits (the server pinned to CPU 0
when `taskset` exists; the load on the other CPU), drives it for `--duration` seconds,
samples its RSS every second and reports:

- throughput (requests/s over the whole run) and, for webhooks, deliveries/s and drops
  (from GET /__admin/webhooks);
- RSS at the end of warm-up, at the end and at its highest;
- the slope of RSS over payments created after warm-up (`--warmup`, default a third of
  the run), in bytes per payment: flat memory is a slope near 0 (the goal: within 10% of
  the warm-up RSS over the whole run).

Modes: `create-confirm:none|healthy|dead` (one keep-alive client per connection, POST
/stripe/v1/payment_intents with confirm=true, one API key, a new Idempotency-Key each
time as Stripe's SDKs send) and
`locust:healthy|dead` (the Locust `providers` suite, every provider; needs locust).
`healthy` sends Stripe's webhooks to a local receiver that answers 200 at once (another
process, on the load's CPU); `dead` to 127.0.0.1:9, where nothing listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MODES = ("create-confirm:none", "create-confirm:healthy", "create-confirm:dead",
         "locust:healthy", "locust:dead")
BODY = b"amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa"
HEADERS = {"Authorization": "Bearer sk_test_soak",
           "Content-Type": "application/x-www-form-urlencoded"}

RECEIVER = """
import sys
from aiohttp import web
async def hook(request):
    await request.read()
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/{tail:.*}", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admin(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}/__admin{path}", timeout=10) as resp:
        return json.loads(resp.read())


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") else argv


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited at start-up")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def create_confirm(url: str, duration: float, connections: int,
                         done: list[int], rate: float = 0.0) -> None:
    """As fast as the server answers, or paced at `rate` requests/s in total."""
    import aiohttp

    started = time.monotonic()
    deadline = started + duration
    target = f"{url}/stripe/v1/payment_intents"
    sent = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while time.monotonic() < deadline:
            if rate:
                due = started + sent / rate
                sent += 1
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
            headers = {**HEADERS, "Idempotency-Key": uuid.uuid4().hex}  # as SDKs send
            async with session.post(target, data=BODY, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"create+confirm answered {resp.status}")
            done[0] += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(connections)))


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    load, hooks = mode.split(":")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    serve = [sys.executable, "-m", "paysandbox", "serve", "--port", str(port),
             "--log-level", "error", *args.sim_arg]
    try:
        if hooks == "healthy":
            rport = free_port()
            procs.append(subprocess.Popen(pinned(1, [sys.executable, "-c", RECEIVER,
                                                     str(rport)])))
            wait_up(f"http://127.0.0.1:{rport}/", procs[-1])
            serve += ["--webhook", f"stripe=http://127.0.0.1:{rport}/hooks"]
            if load == "locust":
                for provider in ("adyen", "checkoutcom", "razorpay", "mercadopago"):
                    serve += ["--webhook", f"{provider}=http://127.0.0.1:{rport}/hooks"]
        elif hooks == "dead":
            serve += ["--webhook", "stripe=http://127.0.0.1:9/"]
            if load == "locust":
                for provider in ("adyen", "checkoutcom", "razorpay", "mercadopago"):
                    serve += ["--webhook", f"{provider}=http://127.0.0.1:9/"]
        sim = subprocess.Popen(pinned(0, serve), stdout=subprocess.DEVNULL)
        procs.append(sim)
        wait_up(f"{url}/__admin/health", sim)
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, {1})
        samples: list[tuple[float, int, int]] = []  # (seconds, requests, rss)
        done = [0]
        cpu_before = cpu_seconds(sim.pid)
        started = time.monotonic()

        async def sample() -> None:
            while True:
                samples.append((time.monotonic() - started, done[0], rss_bytes(sim.pid)))
                await asyncio.sleep(1.0)

        async def drive() -> int:
            sampler = asyncio.create_task(sample())
            try:
                if load == "create-confirm":
                    await create_confirm(url, args.duration, args.connections, done,
                                         args.rate)
                    return done[0]
                return await locust(url, args, done)
            finally:
                sampler.cancel()

        requests = asyncio.run(drive())
        elapsed = time.monotonic() - started
        sim_cpu = (cpu_seconds(sim.pid) - cpu_before) / elapsed
        hooks_seen = admin(url, "/webhooks")["deliveries"]
        health = admin(url, "/health")
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
            if proc.poll() is None:
                proc.kill()
    warm = [s for s in samples if s[0] >= args.duration * args.warmup]
    slope = _slope([(float(r), float(m)) for _, r, m in warm])
    return {
        "mode": mode + (f"@{args.rate:g}/s" if args.rate and load == "create-confirm"
                        else ""),
        "seconds": round(elapsed, 1), "requests": requests,
        "rps": round(requests / elapsed), "simulator_cpu_pct": round(sim_cpu * 100),
        "rss_warm_mib": round(warm[0][2] / 2**20, 1),
        "rss_end_mib": round(samples[-1][2] / 2**20, 1),
        "rss_max_mib": round(max(m for _, _, m in samples) / 2**20, 1),
        "rss_by_quarter_mib": [round(samples[min(len(samples) - 1, len(samples) * q // 4)][2]
                                     / 2**20, 1) for q in (1, 2, 3, 4)],
        "slope_bytes_per_request": None if slope is None else round(slope, 2),
        "growth_after_warmup_pct": round((samples[-1][2] - warm[0][2]) / warm[0][2] * 100, 1),
        "delivered": hooks_seen["delivered"],
        "delivered_per_s": round(hooks_seen["delivered"] / elapsed),
        "dropped": hooks_seen["dropped"], "owed_at_end": hooks_seen["pending"],
        "store": health["store"],
    }


async def locust(url: str, args: argparse.Namespace, done: list[int]) -> int:
    out = Path(tempfile.mkdtemp(prefix="soak-locust-"))
    cmd = pinned(1, [sys.executable, "-m", "locust", "-f",
                     str(ROOT / "paysandbox" / "loadtests" / "providers.py"), "--headless",
                     "--host", url, "-u", str(args.users), "-r", str(args.users),
                     "-t", f"{args.duration:g}s", "--csv", str(out / "locust"),
                     "--only-summary", "--exit-code-on-error", "0"])
    proc = await asyncio.create_subprocess_exec(
        *cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    history = out / "locust_stats_history.csv"
    while proc.returncode is None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 1.0)
        with contextlib.suppress(OSError, StopIteration, ValueError, KeyError):
            rows = [r for r in csv.DictReader(history.open(newline=""))
                    if r["Name"] == "Aggregated"]
            if rows:
                done[0] = int(rows[-1]["Total Request Count"])
    with (out / "locust_stats.csv").open(newline="") as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    done[0] = int(total["Request Count"])
    return done[0]


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 4:
        return None
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return None if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys,
                                                                          strict=True)) / var


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=45.0, help="seconds per mode")
    parser.add_argument("--warmup", type=float, default=1 / 3,
                        help="share of the run before the slope is fitted (default 1/3)")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="create+confirm: pace the load at this many requests/s in "
                             "total (default 0: as fast as the server answers)")
    parser.add_argument("--users", type=int, default=32, help="Locust users")
    parser.add_argument("--sim-arg", action="append", default=[],
                        help="a `serve` flag for the simulator (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    results = []
    for mode in args.modes:
        result = run_mode(mode, args)
        results.append(result)
        print(json.dumps(result), flush=True)
    print()
    print(f"{'mode':<28} {'req/s':>7} {'sim CPU':>7} {'hooks/s':>8} {'dropped':>8} {'RSS warm':>9} "
          f"{'RSS end':>8} {'RSS max':>8} {'B/request':>10} {'growth':>7}")
    for r in results:
        slope = r["slope_bytes_per_request"]
        print(f"{r['mode']:<28} {r['rps']:>7} {r['simulator_cpu_pct']:>6}% "
              f"{r['delivered_per_s']:>8} {r['dropped']:>8} "
              f"{r['rss_warm_mib']:>8.1f}M {r['rss_end_mib']:>7.1f}M {r['rss_max_mib']:>7.1f}M "
              f"{'-' if slope is None else f'{slope:.2f}':>10} "
              f"{r['growth_after_warmup_pct']:>6.1f}%")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
