"""Loopback load benchmark: the simulator against a raw aiohttp handler, in one run.

DESIGN.md, "Performance budget": on one core, a stateful Stripe create+confirm with the
journal on must serve at least half the requests/s of a raw aiohttp handler answering
the same POST with a static body, measured in the same run. This script measures both
with wrk, one after the other, each server pinned to one CPU and wrk to another, so the
ratio compares like with like on whatever machine it runs on.

    python tests/bench/loadbench.py [--duration 10] [--connections 50] [--json out.json]

Exit status: 0 when the benchmark ran (PASS or FAIL against the targets is printed);
1 with --strict when a target is missed; 2 when the benchmark itself is broken (a server
did not start, wrk is missing, or a run saw errors: a benchmark of errors is worthless),
and with --strict also when no round was valid (the server never saturated its CPU).
Every process it starts is stopped before it exits, on Ctrl-C and SIGTERM too; it talks
to 127.0.0.1 only, and every step has a time limit.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LUA = HERE / "wrk" / "post_form.lua"
HOST = "127.0.0.1"
SIM_PATH = "/stripe/v1/payment_intents"
BODY = b"amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded",
           "Authorization": "Bearer sk_test_bench"}

TARGET_RATIO = 0.5  # simulator req/s over raw req/s, at least
TARGET_P99_MS = 5.0  # simulator p99 at the benchmark's connections, below
# A measured run counts only if its server was the bottleneck: it used at least this
# much of its CPU. Below, something else took the CPU or wrk could not keep up, and
# the run measured the machine, not the server.
SATURATED_PERCENT = 95.0
# CPU used by other processes during a run, in % of one CPU, above which the table
# warns: they share wrk's CPU (the server's is full), so latencies include wrk's waits.
BUSY_PERCENT = 10.0
# Memory growth is fitted after this many payments: by then the simulator's bounded
# buffers (journal: 10,000 requests; event ring: 10,000 events, 3 per payment) are full.
GROWTH_AFTER = 12_000

# --floor: floor_server.py with the garbage collector on, then off
FLOORS = (("floor", "floor (floor_server.py)"), ("floor_nogc", "floor, collector off"))

_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class BenchError(Exception):
    """The benchmark could not measure what it claims to; exit 2."""


# -- processes ------------------------------------------------------------------------

@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BenchError(f"no VmRSS for {self.name} (pid {self.proc.pid})")


def pinned(cpu: int | None, argv: Sequence[str]) -> list[str]:
    """taskset execs the command, so the pid we get is the server's own."""
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None else list(argv)


def start_server(name: str, argv: Sequence[str], cpu: int | None, workdir: Path,
                 *, timeout: float = 20.0) -> Server:
    log = workdir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSANDBOX_")}
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("wb") as out:
        proc = subprocess.Popen(pinned(cpu, argv), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=REPO, env=env)
    server = Server(name, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = _LISTENING.search(log.read_text(errors="replace"))
        if m:
            server.port = int(m.group(1))
            return server
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with status {proc.returncode} before it "
                             f"listened:\n{server.log_tail()}")
        time.sleep(0.05)
    stop(server)
    raise BenchError(f"{name} did not print 'listening on …' within {timeout:.0f} s:\n"
                     f"{server.log_tail()}")


def stop(server: Server) -> None:
    proc = server.proc
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def post(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=BODY, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# -- wrk --------------------------------------------------------------------------------

@dataclass
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_us: dict[str, float]
    text: str = field(repr=False, default="")

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def non_2xx(self) -> int:
        # wrk counts a response with status > 399 as a status error; the pre-flight
        # request has already checked that the answer is a 200, not a redirect.
        return self.errors["status"]

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")


def run_wrk(url: str, *, duration: float, connections: int, threads: int,
            cpu: int | None) -> WrkResult:
    argv = pinned(cpu, ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s",
                        "--timeout", "2s", "--latency", "-s", str(LUA), url])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish within {duration + 30:.0f} s") from exc
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed (status {done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("WRK_RESULT "))
    return WrkResult(requests=data["requests"], duration_s=data["duration_us"] / 1e6,
                     errors=data["errors"], latency_us=data["latency_us"], text=done.stdout)


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_times() -> dict[str, float]:
    """Machine-wide CPU seconds from /proc/stat: time processes ran, and time stolen by
    the hypervisor. Interrupt time is left out on both sides of the comparison: it is
    in a process's own times only when the kernel does not account it apart."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, fields[:8])
    return {"busy": (user + nice + system) / _TICK, "steal": steal / _TICK}


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    rest = stat[stat.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / _TICK


class CpuMeter:
    """Who used the CPUs during a run: the server, wrk, and everything else.

    A server below ~100 % of its core was not the bottleneck (the run measured
    something else); wrk near 100 % of its core means the load generator limits the
    run; CPU used by other processes means the machine was not quiet."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __enter__(self) -> CpuMeter:
        self._t = time.monotonic()
        self._sys = _cpu_times()
        self._srv = _process_cpu(self.server.proc.pid)
        self._kids = _children_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self._t
        sys_now = _cpu_times()
        server = _process_cpu(self.server.proc.pid) - self._srv
        wrk = _children_cpu() - self._kids  # wrk is the only child reaped meanwhile
        busy = sys_now["busy"] - self._sys["busy"]
        self.percent = {
            "server": round(100 * server / wall, 1),
            "wrk": round(100 * wrk / wall, 1),
            "other": round(max(0.0, 100 * (busy - server - wrk) / wall), 1),
            "steal": round(100 * (sys_now["steal"] - self._sys["steal"]) / wall, 1),
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """Samples a process's RSS while wrk runs, to see how memory grows with payments."""

    def __init__(self, server: Server, every: float = 0.25) -> None:
        self.server, self.every = server, every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, BenchError):
                self.samples.append((time.monotonic(), self.server.rss_kib()))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def growth_per_payment(points: Sequence[tuple[float, float]], *,
                       after: int) -> tuple[float, float, float] | None:
    """Bytes of RSS per payment: least-squares slope of RSS over payments created, on
    the samples taken after `after` payments (once the bounded buffers, journal and
    event ring, are full, what is left is what grows without bound). Returns (slope,
    first, last payment count of the window), or None with too few samples."""
    window = [(x, y) for x, y in points if x >= after]
    if len(window) < 8:
        window = sorted(points)[len(points) // 2:]
    if len(window) < 4:
        return None
    xs, ys = [x for x, _ in window], [y for _, y in window]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var
    return slope, min(xs), max(xs)


# -- profile ----------------------------------------------------------------------------

# py-spy's frames: `func (file.py:line)`, and with --native also `func (file.c:line)`,
# `func (libpython3.11.so.1.0)` or `0x7f… (libc.so.6)`.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]+?)(?::(?P<line>\d+))?\)$")
# CPython's cyclic garbage collector (Modules/gcmodule.c), when native frames are there.
_GC_FRAMES = frozenset({"gc_collect_main", "collect", "gc_collect_with_callback",
                        "gc_collect_generations"})


def _short(path: str) -> str:
    for marker in ("site-packages/", str(REPO) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarize_profile(collapsed: Path, top: int = 15) -> dict[str, Any]:
    """Shares of samples from py-spy's collapsed stacks (`--format raw`).

    - self_by_line / self_by_function: the innermost frame (a C function when the
      profile has native frames, else the Python line that called into C);
    - simulator_self: each sample charged to the innermost simulator function on its
      stack, so that the stdlib and library calls a simulator function makes count
      as its own (new_id's random.choices counts as new_id). Two buckets stand apart:
      the garbage collector (wherever an allocation triggered it: it is a cost of
      what the heap holds, not of the line that tripped it) and samples with no
      simulator frame at all (aiohttp, uvloop, asyncio around the handler);
    - simulator_inclusive: simulator functions anywhere on the stack."""
    self_lines: Counter[str] = Counter()
    self_funcs: Counter[str] = Counter()
    sim_self: Counter[str] = Counter()
    sim_lines: defaultdict[str, Counter[int]] = defaultdict(Counter)
    sim_inclusive: Counter[str] = Counter()
    total = gc_samples = 0
    for raw in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = []
        for part in stack.split(";"):
            m = _FRAME.match(part.strip())
            if m and not m["func"].startswith("0x"):
                frames.append((m["func"], _short(m["file"]), int(m["line"] or 0)))
        if not frames:
            continue
        total += count
        func, file, line = frames[-1]
        self_lines[f"{func} ({file}:{line})" if line else f"{func} ({file})"] += count
        self_funcs[f"{func} ({file})"] += count
        ours = [(f, p, n) for f, p, n in frames if p.startswith("paysandbox/")
                and p not in ("paysandbox/__main__.py", "paysandbox/cli.py")]
        if any(f in _GC_FRAMES and not p.endswith(".py") for f, p, _ in frames):
            gc_samples += count
            sim_self["(garbage collector, gc_collect_main)"] += count
        elif ours:
            f, p, n = ours[-1]
            sim_self[f"{f} ({p})"] += count
            sim_lines[f"{f} ({p})"][n] += count
        else:
            sim_self["(no simulator frame: aiohttp, uvloop, asyncio)"] += count
        for name in {f"{f} ({p})" for f, p, _ in ours}:
            sim_inclusive[name] += count
    if total == 0:
        raise BenchError(f"py-spy recorded no sample in {collapsed}")

    def share(counter: Counter[str], n: int = top) -> list[dict[str, Any]]:
        return [{"frame": k, "samples": v, "percent": round(100.0 * v / total, 1)}
                for k, v in counter.most_common(n)]

    def hottest_line(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        rows = share(counter, n)
        for row in rows:  # "func (file)" -> "func (file:hottest line)"
            lines = sim_lines.get(row["frame"])
            if lines:
                row["frame"] = row["frame"][:-1] + f":{lines.most_common(1)[0][0]})"
        return rows

    return {"samples": total, "gc_percent": round(100.0 * gc_samples / total, 1),
            "self_by_line": share(self_lines), "self_by_function": share(self_funcs),
            "simulator_self": hottest_line(sim_self, 25),
            "simulator_inclusive": share(sim_inclusive, 25)}


def profile_simulator(server: Server, url: str, out_dir: Path, *, duration: float,
                      connections: int, threads: int, cpu: int | None) -> dict[str, Any]:
    """py-spy samples the simulator while wrk loads it (a run apart from the measured
    ones: sampling slows the server down). Native frames are asked for, so that time
    in the garbage collector and in C extensions shows; where py-spy cannot unwind
    native stacks the profile falls back to Python frames. Writes the collapsed stacks
    and a flame graph, and returns the top hot spots."""
    if shutil.which("py-spy") is None:
        raise BenchError("--profile needs py-spy: pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    native = True
    for fmt, name in (("raw", "paysandbox.collapsed"), ("flamegraph", "paysandbox.svg")):
        target = out_dir / name
        for attempt in ((True, False) if native else (False,)):
            argv = pinned(cpu, ["py-spy", "record", "--pid", str(server.proc.pid),
                                "--duration", f"{max(1, round(duration))}", "--rate", "250",
                                "--format", fmt, "--output", str(target),
                                *(["--native"] if attempt else [])])
            spy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
            try:
                run_wrk(url, duration=duration, connections=connections, threads=threads,
                        cpu=cpu)
                out, _ = spy.communicate(timeout=duration + 30)
            except subprocess.TimeoutExpired as exc:
                raise BenchError(f"py-spy did not finish within {duration + 30:.0f} s") \
                    from exc
            finally:
                if spy.poll() is None:
                    spy.kill()
                    spy.wait(timeout=5)
            if spy.returncode == 0 and target.exists():
                native = attempt
                break
            if not attempt:
                raise BenchError(f"py-spy failed (status {spy.returncode}):\n"
                                 f"{out.decode(errors='replace') if out else ''}")
        if fmt == "raw":
            summary = summarize_profile(target)
    summary["native"] = native
    summary["files"] = [str(out_dir / "paysandbox.collapsed"), str(out_dir / "paysandbox.svg")]
    return summary


# -- measurements -----------------------------------------------------------------------

@dataclass
class Target:
    """One server under test and everything measured on it in this run."""

    name: str
    label: str
    server: Server
    url: str
    response_bytes: int = 0
    answered: int = 0  # requests answered so far; for the simulator, payments created
    rounds: list[dict[str, Any]] = field(default_factory=list)
    rss_points: list[tuple[float, float]] = field(default_factory=list)  # (payments, bytes)
    wrk_text: str = ""


def preflight(target: Target, *, check_body: bool) -> None:
    status, body = post(target.url)
    if status != 200:
        raise BenchError(f"{target.name}: pre-flight POST {target.url} answered {status}, "
                         f"not 200:\n{body[:500].decode(errors='replace')}")
    if check_body:
        obj = json.loads(body)
        if obj.get("object") != "payment_intent" or obj.get("status") != "succeeded":
            raise BenchError(f"{target.name}: pre-flight create+confirm did not succeed: "
                             f"{body[:500].decode(errors='replace')}")
    target.response_bytes = len(body)
    target.answered += 1


def measure_round(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.warmup > 0:
        warm = run_wrk(target.url, duration=args.warmup, connections=args.connections,
                       threads=args.threads, cpu=args.wrk_cpu)
        check(target, warm, "warm-up")
        out["warmup_requests"] = warm.requests
        target.answered += warm.requests
    with RssSampler(target.server) as sampler, CpuMeter(target.server) as cpu:
        result = run_wrk(target.url, duration=args.duration, connections=args.connections,
                         threads=args.threads, cpu=args.wrk_cpu)
    check(target, result, "measured run")
    for t, kib in sampler.samples:  # wrk keeps the server saturated: a steady rate
        done = min(result.requests, max(0.0, (t - sampler.started) * result.rps))
        target.rss_points.append((target.answered + done, kib * 1024.0))
    target.answered += result.requests
    target.wrk_text = result.text
    out.update({
        "requests": result.requests, "duration_s": round(result.duration_s, 3),
        "rps": round(result.rps, 1), "non_2xx": result.non_2xx, "errors": result.errors,
        "latency_ms": {k: round(v / 1000.0, 3) for k, v in result.latency_us.items()},
        "cpu_percent": cpu.percent,
        "saturated": cpu.percent["server"] >= SATURATED_PERCENT,
    })
    return out


def summarize(target: Target) -> dict[str, Any]:
    """Medians over the rounds whose server was saturated (all rounds if none was)."""
    valid = [r for r in target.rounds if r["saturated"]]
    used = valid or target.rounds
    med = statistics.median
    keys = used[0]["latency_ms"].keys()
    return {
        "url": target.url, "response_bytes": target.response_bytes,
        "rps": round(med(r["rps"] for r in used), 1),
        "latency_ms": {k: round(med(r["latency_ms"][k] for r in used), 3) for k in keys},
        "requests": sum(r["requests"] for r in target.rounds),
        "non_2xx": sum(r["non_2xx"] for r in target.rounds),
        "cpu_percent": {"server": med(r["cpu_percent"]["server"] for r in used),
                        "wrk": med(r["cpu_percent"]["wrk"] for r in used),
                        "other": max(r["cpu_percent"]["other"] for r in used),
                        "steal": max(r["cpu_percent"]["steal"] for r in used)},
        "rounds_used": len(used), "valid": bool(valid), "rounds": target.rounds,
    }


def memory(target: Target, rss_idle_kib: int) -> dict[str, Any]:
    growth = growth_per_payment(target.rss_points, after=GROWTH_AFTER)
    out: dict[str, Any] = {"rss_idle_kib": rss_idle_kib,
                           "rss_end_kib": target.server.rss_kib(),
                           "payments_created": target.answered,
                           "bytes_per_payment": None}
    if growth is not None:
        slope, first, last = growth
        out.update({"bytes_per_payment": round(slope),
                    "growth_window_payments": [round(first), round(last)]})
    return out


def check(target: Target, result: WrkResult, what: str) -> None:
    if result.requests == 0:
        raise BenchError(f"{target.name} {what}: wrk completed no request.\n{result.text}")
    if result.non_2xx or result.socket_errors:
        status, body = post(target.url)
        raise BenchError(
            f"{target.name} {what}: {result.non_2xx} non-2xx responses and socket errors "
            f"{ {k: v for k, v in result.errors.items() if k != 'status'} } out of "
            f"{result.requests} requests; a benchmark of errors measures nothing. One "
            f"request now answers {status}: {body[:400].decode(errors='replace')}\n"
            f"server log:\n{target.server.log_tail()}")


# -- report -------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    for mod in ("aiohttp", "uvloop", "orjson"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5, cwd=REPO).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "simulator"],
                               capture_output=True, text=True, timeout=5, cwd=REPO).stdout
        info["commit"] = head + (" (paysandbox/ modified)" if dirty.strip() else "")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        first = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                               timeout=5).stdout.splitlines()
        info["wrk"] = first[0].split(" [")[0] if first else None
    return info


def table(report: dict[str, Any]) -> str:
    raw, sim, mem = report["raw"], report["simulator"], report["memory"]
    shaped = report.get("shaped")
    rows = [("raw aiohttp (static body)", "raw", raw)]
    if shaped:
        rows.append(("aiohttp shaped as simulator", "shaped", shaped))
    rows.append(("simulator create+confirm", "simulator", sim))
    variant = report.get("variant")
    if variant:
        rows.append((("simulator " + " ".join(report["settings"]["compare_args"]))[:26],
                     "variant", variant))
    for key, label in FLOORS:
        if key in report:
            rows.append((label, key, report[key]))
    s = report["settings"]
    pin = (f"servers on CPU {s['server_cpu']}, wrk on CPU {s['wrk_cpu']}"
           if s["server_cpu"] is not None else "NOT pinned to CPUs")
    lines = [
        f"{report['date']}  commit {report['machine'].get('commit', '?')}  "
        f"{report['machine']['cpus']} CPUs  Python {report['machine']['python']}  "
        f"aiohttp {report['machine']['aiohttp']}  uvloop {report['machine']['uvloop']}",
        f"wrk {s['threads']} threads, {s['connections']} connections; {s['rounds']} round(s) "
        f"of {s['duration_s']:g} s per server, each after {s['warmup_s']:g} s of warm-up, "
        f"servers alternating; {pin}",
        "",
        f"{'':<27}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'requests':>10}{'non-2xx':>8}{'resp B':>7}   CPU % server/wrk/other",
    ]
    for label, _, r in rows:
        lat, cpu = r["latency_ms"], r["cpu_percent"]
        lines.append(f"{label:<27}{r['rps']:>8,.0f}{lat['p50']:>8.2f}{lat['p90']:>8.2f}"
                     f"{lat['p99']:>8.2f}{lat['max']:>8.1f}{r['requests']:>10,}"
                     f"{r['non_2xx']:>8}{r['response_bytes']:>7}   "
                     f"{cpu['server']:.0f}/{cpu['wrk']:.0f}/{cpu['other']:.0f}")
    if s["rounds"] > 1:
        lines.append("")
        lines.append("(medians over rounds; req/s by round: " + " | ".join(
            name + " " + " ".join(f"{r['rps']:,.0f}" + ("" if r["saturated"] else "*")
                                  for r in summary["rounds"])
            for _, name, summary in rows)
            + f"; * = server below {SATURATED_PERCENT:g}% CPU, left out)")
    t = report["targets"]
    lines += [
        "",
        f"ratio paysandbox/raw   {report['ratio']:.3f}   target >= {TARGET_RATIO:.2f}   "
        f"{'PASS' if t['ratio_ok'] else 'FAIL'}",
        f"simulator p99         {sim['latency_ms']['p99']:.2f} ms   target < "
        f"{TARGET_P99_MS:g} ms   {'PASS' if t['p99_ok'] else 'FAIL'}",
    ]
    if variant:
        lines.append(f"ratio paysandbox/variant {report['ratio_simulator_to_variant']:.3f}   "
                     f"(the simulator as configured, against "
                     f"{' '.join(report['settings']['compare_args'])})")
    if shaped:
        lines.append(f"ratio shaped/raw      {shaped['rps'] / raw['rps']:.3f}   (what the "
                     "application's structure costs before the simulator computes anything)")
    if "floor" in report:
        lines.append(f"ratio floor/raw       {report['floor']['rps'] / raw['rps']:.3f}   (the "
                     "least a stateful create+confirm can do on this stack; floor_server.py)")
        lines.append(f"ratio floor-no-gc/raw {report['floor_nogc']['rps'] / raw['rps']:.3f}   "
                     "(the same with the garbage collector off)")
    per = mem["bytes_per_payment"]
    window = mem.get("growth_window_payments")
    lines.append(
        f"simulator RSS         {mem['rss_end_kib'] / 1024:.1f} MiB after "
        f"{mem['payments_created']:,} payments (idle {mem['rss_idle_kib'] / 1024:.1f} MiB); "
        + (f"grows {per:,} bytes/payment (fitted over payments {window[0]:,}-{window[1]:,})"
           if per is not None else "growth per payment: too few samples"))
    invalid = [name for _, name, r in rows if not r["valid"]]
    if invalid:
        lines += ["", f"INVALID as a throughput measurement: in every {', '.join(invalid)} "
                      f"round the server used less than {SATURATED_PERCENT:g}% of its CPU, "
                      "so it was not the bottleneck (too few connections to saturate it, a "
                      "busy machine, or wrk itself). Run again on a quiet machine."]
    busy = max(r["cpu_percent"]["other"] for _, _, r in rows)
    if busy > BUSY_PERCENT and not invalid:
        lines += ["", f"note: other processes used up to {busy:.0f}% of a CPU during the "
                      "measured runs; the servers still had their CPU (server %), but wrk "
                      "shared its own, so latencies include some of wrk's waiting."]
    return "\n".join(lines)


def profile_table(summary: dict[str, Any]) -> str:
    kind = "Python and native frames" if summary["native"] else "Python frames only"
    lines = [f"profile: {summary['samples']} samples (py-spy, {kind}, idle excluded), "
             f"{summary['payments_in_store']:,} payments in the store; garbage collector "
             f"{summary['gc_percent']:.1f}%" + ("" if summary["native"] else " (not visible)")]
    for title, key in (
            ("self time, innermost frame, by line", "self_by_line"),
            ("self time, innermost frame, by function", "self_by_function"),
            ("self time charged to the innermost simulator function, with the library "
             "calls it makes (file:hottest line)", "simulator_self"),
            ("simulator functions, inclusive (anywhere on the stack)",
             "simulator_inclusive")):
        lines.append(f"  {title}:")
        lines += [f"    {row['percent']:5.1f}%  {row['frame']}" for row in summary[key]]
    lines.append("  files: " + ", ".join(summary["files"]))
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Loopback load benchmark: simulator vs raw aiohttp, same run, wrk.",
        epilog="example: python tests/bench/loadbench.py --duration 10 --json bench.json")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    p.add_argument("--warmup", type=float, default=3.0,
                   help="seconds of load before each measured run (0: none)")
    p.add_argument("--rounds", type=int, default=3,
                   help="measured runs per server, raw and simulator alternating; the "
                        "table shows medians (default 3)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--server-cpu", type=int, default=0, help="CPU the servers are pinned to")
    p.add_argument("--wrk-cpu", type=int, default=1, help="CPU wrk (and py-spy) is pinned to")
    p.add_argument("--no-pin", action="store_true",
                   help="run without taskset (numbers then are not comparable)")
    p.add_argument("--raw-body-bytes", type=int, default=1800,
                   help="size of the raw server's static JSON answer (default 1800)")
    p.add_argument("--sim-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for `simulator serve` (repeatable), e.g. "
                        "--sim-arg=--journal-size=0")
    p.add_argument("--compare-arg", action="append", default=[], metavar="ARG",
                   help="also measure a second simulator started with these extra `serve` "
                        "arguments (repeatable), alternating with the others, e.g. "
                        "--compare-arg=--contracts=off: what a feature costs, in one run")
    p.add_argument("--shaped", action="store_true",
                   help="also measure the raw handler mounted as the simulator mounts its "
                        "own (among its provider's routes, wrapped in an envelope, Stripe's "
                        "headers): the cost of the application's structure alone")
    p.add_argument("--floor", action="store_true",
                   help="also measure floor_server.py, the least a stateful create+confirm "
                        "can do on aiohttp (one flat handler, dicts, no engine), with the "
                        "garbage collector on and off: the best ratio any implementation "
                        "of the request path can reach here")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="after measuring, profile the simulator under the same load with "
                        "py-spy; write DIR/simulator.svg and DIR/simulator.collapsed")
    p.add_argument("--profile-duration", type=float, default=10.0)
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a target is missed, 2 when no round was valid")
    args = p.parse_args(argv)
    if not (0 < args.duration <= 600 and 0 <= args.warmup <= 120 and 1 <= args.rounds <= 20
            and 0 < args.profile_duration <= 120):
        p.error("bounds: 0 < --duration <= 600, 0 <= --warmup <= 120, 1 <= --rounds <= 20, "
                "0 < --profile-duration <= 120 (seconds)")
    if args.connections < args.threads:
        p.error("--connections must be at least --threads (wrk gives each thread some)")
    return args


def check_tools(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: apt-get install -y wrk")
    if args.no_pin:
        args.server_cpu = args.wrk_cpu = None
        return
    if shutil.which("taskset") is None:
        raise BenchError("taskset is not installed (util-linux); or pass --no-pin")
    allowed = os.sched_getaffinity(0)
    if args.server_cpu == args.wrk_cpu or not {args.server_cpu, args.wrk_cpu} <= allowed:
        raise BenchError(f"need two distinct CPUs among {sorted(allowed)} for --server-cpu "
                         f"({args.server_cpu}) and --wrk-cpu ({args.wrk_cpu}); or --no-pin")


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops the servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        check_tools(args)
        report = run(args)
    except BenchError as exc:
        print(f"loadbench: BROKEN: {exc}", file=sys.stderr)
        return 2
    if not args.strict:
        return 0
    if not all(report[k]["valid"] for k in ("raw", "simulator", "shaped", "variant",
                                            "floor", "floor_nogc") if k in report):
        return 2
    return 0 if report["targets"]["ratio_ok"] and report["targets"]["p99_ok"] else 1


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = dt.datetime.now(dt.UTC)
    py = sys.executable
    servers: list[Server] = []
    profile = None
    with tempfile.TemporaryDirectory(prefix="loadbench-") as tmp:
        workdir = Path(tmp)
        try:
            srv = start_server("raw", [py, str(HERE / "raw_server.py"), "--port", "0",
                                       "--body-bytes", str(args.raw_body_bytes)],
                               args.server_cpu, workdir)
            servers.append(srv)
            raw = Target("raw", "raw aiohttp", srv, f"http://{HOST}:{srv.port}/")
            targets = [raw]
            if args.shaped:
                srv = start_server("shaped", [py, str(HERE / "raw_server.py"), "--port", "0",
                                              "--body-bytes", str(args.raw_body_bytes),
                                              "--shaped"], args.server_cpu, workdir)
                servers.append(srv)
                targets.append(Target("shaped", "aiohttp shaped as simulator", srv,
                                      f"http://{HOST}:{srv.port}{SIM_PATH}"))
            srv = start_server("simulator", [py, "-m", "paysandbox", "serve", "--port", "0",
                                             *args.sim_arg], args.server_cpu, workdir)
            servers.append(srv)
            sim = Target("simulator", "simulator", srv, f"http://{HOST}:{srv.port}{SIM_PATH}")
            rss_idle = sim.server.rss_kib()
            targets.append(sim)
            variant = None
            if args.compare_arg:
                srv = start_server("variant", [py, "-m", "paysandbox", "serve", "--port", "0",
                                               *args.sim_arg, *args.compare_arg],
                                   args.server_cpu, workdir)
                servers.append(srv)
                variant = Target("variant", "simulator " + " ".join(args.compare_arg), srv,
                                 f"http://{HOST}:{srv.port}{SIM_PATH}")
                targets.append(variant)
            floors = []
            if args.floor:
                for key, label in FLOORS:
                    srv = start_server(key, [py, str(HERE / "floor_server.py"), "--port", "0",
                                             *(["--no-gc"] if key == "floor_nogc" else [])],
                                       args.server_cpu, workdir)
                    servers.append(srv)
                    floors.append(Target(key, label, srv,
                                         f"http://{HOST}:{srv.port}{SIM_PATH}"))
                targets += floors
            for target in targets:
                preflight(target, check_body=target is not raw and target.name != "shaped")
            for n in range(1, args.rounds + 1):
                for target in targets:
                    print(f"round {n}/{args.rounds}: {target.label}, {args.warmup:g} s "
                          f"warm-up + {args.duration:g} s …", flush=True)
                    target.rounds.append(measure_round(target, args))
            mem = memory(sim, rss_idle)
            if args.profile:
                print(f"profiling the simulator: 2 x {args.profile_duration:g} s under "
                      "load …", flush=True)
                profile = profile_simulator(sim.server, sim.url, args.profile,
                                            duration=args.profile_duration,
                                            connections=args.connections,
                                            threads=args.threads, cpu=args.wrk_cpu)
                profile["payments_in_store"] = sim.answered
        finally:
            for srv in reversed(servers):
                stop(srv)
    raw_sum, sim_sum = summarize(raw), summarize(sim)
    ratio = sim_sum["rps"] / raw_sum["rps"]
    report: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {"duration_s": args.duration, "warmup_s": args.warmup,
                     "rounds": args.rounds, "connections": args.connections,
                     "threads": args.threads, "server_cpu": args.server_cpu,
                     "wrk_cpu": args.wrk_cpu, "raw_body_bytes": args.raw_body_bytes,
                     "sim_args": args.sim_arg, "compare_args": args.compare_arg,
                     "shaped": args.shaped, "floor": args.floor,
                     "request": {"method": "POST", "body": BODY.decode(),
                                 "headers": HEADERS}},
        "raw": raw_sum, "simulator": sim_sum, "ratio": round(ratio, 4), "memory": mem,
        **({"shaped": summarize(targets[1])} if args.shaped else {}),
        **({"variant": summarize(variant),
            "ratio_simulator_to_variant": round(sim_sum["rps"] / summarize(variant)["rps"], 4)}
           if variant is not None else {}),
        **{t.name: summarize(t) for t in floors},
        "targets": {"ratio_min": TARGET_RATIO, "p99_max_ms": TARGET_P99_MS,
                    "ratio_ok": ratio >= TARGET_RATIO,
                    "p99_ok": sim_sum["latency_ms"]["p99"] < TARGET_P99_MS},
    }
    if profile is not None:
        report["profile"] = profile
    print()
    print("last simulator run, as wrk printed it:")
    print(sim.wrk_text.rstrip())
    print()
    print(table(report))
    if profile is not None:
        print()
        print(profile_table(profile))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return report


if __name__ == "__main__":
    raise SystemExit(main())
