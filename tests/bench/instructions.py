"""Instructions per request under callgrind: raw aiohttp, the floor and the simulator.

Throughput on a shared VM moves by 15% from one run to the next, more than most changes
to the request path are worth. Instructions do not: callgrind counts the instructions
a server executes, the same for the same binary, inputs and environment whatever else
the machine is doing. So this measures what one create+confirm costs each server, as
instructions, and the same ratios as loadbench.py (raw over server, higher is better),
for comparing commits; loadbench.py remains the measure of req/s and latency.

For each server: start it under `valgrind --tool=callgrind` on 127.0.0.1, send
`--warmup` requests over one keep-alive connection (imports, caches, the first
collections), zero the counters (`callgrind_control -z`), send `--requests` more, dump
the counters (`callgrind_control -d`) and divide. The request is loadbench.py's
(`wrk/post_form.lua`): Stripe create+confirm with `pm_card_visa`, or the same bytes to
the raw server's `/`. Allocations per request are the calls into CPython's small-object
allocator in the same dump (`ALLOCATORS`).

    python tests/bench/instructions.py [--requests 300] [--servers raw floor simulator]
    python tests/bench/instructions.py --servers simulator --sim-dir /path/to/other/checkout

About a minute per server, mostly valgrind starting Python. Exit status 0 when it
measured, 2 when a server did not start or answered anything but 200. Every server is
killed before it exits; 127.0.0.1 only; every step has a time limit.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# loadbench's request, so both benchmarks measure the same thing
from loadbench import BODY, HEADERS, HOST, REPO, SIM_PATH, BenchError  # noqa: E402

SERVERS = {  # name: (argv after python, the path it answers)
    "raw": ([str(HERE / "raw_server.py")], "/"),
    "floor": ([str(HERE / "floor_server.py")], SIM_PATH),
    "simulator": (["-m", "paysandbox", "serve"], SIM_PATH),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def connect(port: int, proc: subprocess.Popen[bytes], timeout: float) -> http.client.HTTPConnection:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server exited with status {proc.returncode}")
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            conn.connect()
            return conn
        except OSError:
            time.sleep(0.25)
    raise BenchError(f"nothing listened on port {port} within {timeout:.0f} s")


def send(conn: http.client.HTTPConnection, path: str, count: int) -> None:
    for _ in range(count):
        conn.request("POST", path, BODY, HEADERS)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise BenchError(f"POST {path} answered {response.status}: {body[:300]!r}")


#: CPython's small-object allocator: every object and most buffers a request makes
#: (up to 512 bytes) come from it, so its calls count the allocations the garbage
#: collector later has to look at.
ALLOCATORS = frozenset({"_PyObject_Malloc", "_PyObject_Calloc"})


def allocations(dump: str) -> int:
    """Calls into ALLOCATORS recorded in one callgrind dump. Names are compressed
    (`cfn=(12) name` once, `cfn=(12)` after), and a `calls=N …` line follows the
    `cfn=` it counts."""
    names: dict[str, str] = {}
    target = ""
    found = 0
    with open(dump) as fh:
        for line in fh:
            if line.startswith(("cfn=", "fn=")):
                ref, _, name = line.split("=", 1)[1].strip().partition(" ")
                if name:
                    names[ref] = name
                if line.startswith("cfn="):
                    target = names.get(ref, ref)
            elif line.startswith("calls=") and target in ALLOCATORS:
                found += int(line[6:].split()[0])
    return found


def measure(name: str, args: argparse.Namespace, workdir: Path) -> tuple[float, float]:
    argv, path = SERVERS[name]
    cwd = args.sim_dir if name == "simulator" else REPO
    port = free_port()
    out = workdir / f"{name}.callgrind"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSANDBOX_")}
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, *argv, "--port", str(port)],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        conn = connect(port, proc, timeout=180)
        send(conn, path, args.warmup)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                       check=True, timeout=60)
        send(conn, path, args.requests)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True,
                       check=True, timeout=60)
        conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    total = 0
    allocated = 0
    for dump in glob.glob(f"{out}*"):
        with open(dump) as fh:
            for line in fh:
                if line.startswith(("summary:", "totals:")):
                    total = max(total, int(line.split()[1]))
        allocated = max(allocated, allocations(dump))
    if total == 0:
        raise BenchError(f"{name}: callgrind wrote no totals")
    return total / args.requests, allocated / args.requests


def have_valgrind(name: str) -> bool:
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            print(f"{name}: {tool} is not installed: apt-get install -y valgrind",
                  file=sys.stderr)
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300, help="measured requests per server")
    p.add_argument("--warmup", type=int, default=300, help="requests before measuring")
    p.add_argument("--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS))
    p.add_argument("--sim-dir", type=Path, default=REPO,
                   help="checkout whose paysandbox/ to measure (default: this one)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if not (1 <= args.requests <= 100_000 and 0 <= args.warmup <= 100_000):
        p.error("bounds: 1 <= --requests <= 100000, 0 <= --warmup <= 100000")
    if not have_valgrind("instructions"):
        return 2
    results: dict[str, float] = {}
    allocated: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="instructions-") as tmp:
        for name in args.servers:
            print(f"{name}: under callgrind, {args.warmup} + {args.requests} requests …",
                  flush=True)
            try:
                results[name], allocated[name] = measure(name, args, Path(tmp))
            except (BenchError, subprocess.SubprocessError, OSError) as exc:
                print(f"instructions: BROKEN: {name}: {exc}", file=sys.stderr)
                return 2
    print()
    print(f"{'':<12}{'instructions/request':>22}{'raw / this':>12}{'allocations/request':>21}")
    for name, per in results.items():
        ratio = f"{results['raw'] / per:.3f}" if "raw" in results else "-"
        print(f"{name:<12}{per:>22,.0f}{ratio:>12}{allocated[name]:>21,.0f}")
    if args.json:
        args.json.write_text(json.dumps({"requests": args.requests, "warmup": args.warmup,
                                         "instructions_per_request": results,
                                         "allocations_per_request": allocated},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
