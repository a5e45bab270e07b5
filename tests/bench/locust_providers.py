"""Capacity of the simulator under the Locust `providers` suite (FastHttpUser), and who
saturates first: the simulator or Locust. Not a test; run it by hand:

    python tests/bench/locust_providers.py --users 32 --run-time 20 [--processes 2]

It starts `paysandbox serve` on a free loopback port (journal on), runs the suite
headless, and prints req/s, req/s per Locust CPU-second and the simulator's CPU use:
a process near 100% of a core is the one that saturated.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--run-time", type=int, default=20, help="seconds")
    parser.add_argument("--processes", type=int, default=0,
                        help="Locust worker processes (0: one process)")
    parser.add_argument("--classes", nargs="*", default=["StripeUser"])
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = subprocess.Popen([sys.executable, "-m", "paysandbox", "serve", "--port", str(port),
                            "--log-level", "warning"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/__admin/health", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    out = Path(tempfile.mkdtemp(prefix="locust-bench-"))
    cmd = [sys.executable, "-m", "locust", "-f",
           str(ROOT / "paysandbox" / "loadtests" / "providers.py"),
           "--headless", "--host", url, "-u", str(args.users), "-r", str(args.users),
           "-t", f"{args.run_time}s", "--csv", str(out / "locust"), "--only-summary",
           "--exit-code-on-error", "0", *args.classes]
    if args.processes:
        cmd += ["--processes", str(args.processes)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        sim_before = cpu_seconds(sim.pid)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        log = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        sim_cpu = cpu_seconds(sim.pid) - sim_before
    finally:
        sim.terminate()
        sim.wait(15)
    locust_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with (out / "locust_stats.csv").open(newline="") as f:
        total = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    rps, n = float(total["Requests/s"]), int(total["Request Count"])
    print(f"users {args.users}, {args.run_time} s, Locust processes "
          f"{args.processes or 1}, classes {' '.join(args.classes)}")
    print(f"requests {n}, failures {total['Failure Count']}, {rps:.0f} req/s, "
          f"p50 {total['50%']} ms, p95 {total['95%']} ms, p99 {total['99%']} ms")
    print(f"Locust CPU {locust_cpu:.1f} s over {wall:.1f} s wall (incl. start-up) -> "
          f"{n / locust_cpu:.0f} requests per Locust CPU-second")
    print(f"simulator CPU {sim_cpu:.1f} s over the run -> {sim_cpu / args.run_time * 100:.0f}% "
          "of one core")
    if "CPU usage above" in log or "CPU usage was too high" in log:
        print("Locust warned that its CPU was saturated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
