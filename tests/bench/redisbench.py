"""The Redis store against the memory store, per process, in one run.

A simulator on Redis does the same request work as one in memory plus what talking to
Redis costs it, and Redis does the state change's script. This measures both for
Stripe create+confirm (loadbench.py's request), with and without an idempotency key:

- the simulator's instructions per request under callgrind, memory store and Redis
  store, and their ratio: what a Redis-backed process serves next to a memory-backed
  one when the simulator's core is the bottleneck (instructions do not move with the
  machine's load, throughput does by 15%);
- the Redis server's CPU per request, from its own accounting: `INFO commandstats`
  (microseconds spent in each command, scripts included) and `INFO cpu` (the whole
  process, its event loop and networking too), so how many create+confirm/s one Redis
  core feeds;
- the round trips per request (calls Redis saw from clients, `INFO stats`
  total_commands_processed less the scripts' own calls);
- with `--wrk S`, req/s of each store for S seconds, twice, alternating (noisy; the
  instruction ratio is the stable one).

    python tests/bench/redisbench.py [--requests 300] [--warmup 300] [--wrk 5]
    python tests/bench/redisbench.py --replay 3000

`--replay N` measures Redis alone: a simulator on Redis (keeping `--retain`, default
1,000, payments, so that retention and trimming run as under a long load) serves 2N create+confirms
while each commit's script call (its keys and arguments) is recorded; then the calls are
replayed, in order, against a fresh redis-server under callgrind (N to fill the bounds,
then N measured: Redis instructions per commit) and against a plain one (`INFO
commandstats` and `INFO cpu` per commit, on an otherwise idle Redis).

It starts its own redis-server (loopback, no persistence, a temporary directory) and
stops it and every simulator before it exits; every step has a time limit. Exit status
0 when it measured, 2 when something did not start or answered anything but 200.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import redis  # noqa: E402
from instructions import allocations, connect, free_port, have_valgrind  # noqa: E402
from loadbench import BODY, HEADERS, HOST, REPO, SIM_PATH, BenchError, run_wrk  # noqa: E402


def start_redis(workdir: Path, *, callgrind: Path | None = None
                ) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed: apt-get install -y redis-server")
    workdir.mkdir(exist_ok=True)
    port = free_port()
    under = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind}"] \
        if callgrind is not None else []
    proc = subprocess.Popen(
        [*under, binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"redis://{HOST}:{port}/0"
    deadline = time.monotonic() + (60 if callgrind is not None else 15)
    while time.monotonic() < deadline:
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.RedisError:
            time.sleep(0.1)
    proc.kill()
    raise BenchError(f"redis-server did not answer on {url} in time")


def send(conn: http.client.HTTPConnection, count: int, keyed: bool) -> None:
    for _ in range(count):
        headers = dict(HEADERS)
        if keyed:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        conn.request("POST", SIM_PATH, BODY, headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise BenchError(f"POST {SIM_PATH} answered {response.status}: {body[:300]!r}")


def redis_counters(client: redis.Redis) -> dict[str, float]:
    stats = client.info("commandstats")
    cpu = client.info("cpu")
    inner = sum(int(v["calls"]) for k, v in stats.items()
                if k not in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_info"))
    return {
        "commands_usec": sum(float(v["usec"]) for k, v in stats.items()
                             if k != "cmdstat_info"),
        "scripts_usec": sum(float(v["usec"]) for k, v in stats.items()
                            if k in ("cmdstat_evalsha", "cmdstat_eval")),
        "cpu_s": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        "scripts": sum(int(v["calls"]) for k, v in stats.items()
                       if k in ("cmdstat_evalsha", "cmdstat_eval")),
        "inner": inner,
        "total": int(client.info("stats")["total_commands_processed"]),
    }


# Runs `paysandbox serve` with every commit's script call written to a file (one JSON
# line each, arguments as redis-py sends them, in base64), after the script's source.
_RECORDER = """
import base64, sys
import orjson
from paysandbox.store import redis as store
out = open(sys.argv[1], "wb")
def raw(v):
    if isinstance(v, bytes): return v
    if isinstance(v, float): return repr(v).encode()
    return str(v).encode()
class Recorded:
    def __init__(self, script):
        self.script = script
        out.write(orjson.dumps({"script": script.script}) + b"\\n")
    async def __call__(self, keys=(), args=()):
        out.write(orjson.dumps([base64.b64encode(raw(v)).decode()
                                for v in (*keys, *args)] + [len(keys)]) + b"\\n")
        out.flush()
        return await self.script(keys=keys, args=args)
made = store.RedisStore.__init__
def init(self, *a, **k):
    made(self, *a, **k)
    self._commit = Recorded(self._commit)
store.RedisStore.__init__ = init
from paysandbox.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def record(count: int, workdir: Path, retain: int) -> tuple[str, list[list[bytes]]]:
    """The commits' script and its calls (keys, then arguments, then the number of keys)
    for `count` create+confirms of a simulator on Redis."""
    import base64

    import orjson
    server, url = start_redis(workdir / "record")
    out = workdir / "commits.jsonl"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSANDBOX_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _RECORDER, str(out), "serve", "--port", str(port),
         "--store", url, "--retain-payments", str(retain)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        conn = connect(port, proc, timeout=60)
        send(conn, count, False)
        conn.close()
    finally:
        stop(proc)
        stop(server)
    lines = out.read_bytes().splitlines()
    script = orjson.loads(lines[0])["script"]
    calls = []
    for line in lines[1:]:
        *parts, nkeys = orjson.loads(line)
        calls.append([str(nkeys).encode(), *(base64.b64decode(p) for p in parts)])
    return script, calls


def replay(count: int, workdir: Path, retain: int) -> dict[str, float]:
    """Redis instructions per commit under callgrind, and commandstats and CPU per
    commit without it, for the second half of 2 x `count` recorded commits."""
    script, calls = record(2 * count, workdir, retain)
    if len(calls) < 2 * count:
        raise BenchError(f"recorded {len(calls)} commits for {2 * count} requests")
    warm, measured = calls[:count], calls[count:2 * count]
    result: dict[str, float] = {
        "args": sum(len(c) - 1 - int(c[0]) for c in measured) / count,
        "keys": sum(int(c[0]) for c in measured) / count,
        "bytes": sum(sum(len(a) for a in c[1:]) for c in measured) / count}
    for under in (True, False):
        here = workdir / ("callgrind" if under else "plain")
        server, url = start_redis(here, callgrind=here / "redis.callgrind" if under else None)
        client = redis.Redis.from_url(url, socket_timeout=120)
        try:
            sha = client.script_load(script)
            for c in warm:
                client.execute_command("EVALSHA", sha, *c)
            if under:
                subprocess.run(["callgrind_control", "-z", str(server.pid)],
                               capture_output=True, check=True, timeout=60)
            else:
                before = redis_counters(client)
            for c in measured:
                client.execute_command("EVALSHA", sha, *c)
            if under:
                subprocess.run(["callgrind_control", "-d", str(server.pid)],
                               capture_output=True, check=True, timeout=60)
            else:
                after = redis_counters(client)
                result["script_us"] = (after["scripts_usec"] - before["scripts_usec"]) / count
                result["cpu_us"] = (after["cpu_s"] - before["cpu_s"]) * 1e6 / count
                result["inner"] = (after["inner"] - before["inner"]) / count
                result["memory_mb"] = int(client.info("memory")["used_memory"]) / 1e6
        finally:
            client.close()
            stop(server)
        if under:
            total = 0
            for dump in here.glob("redis.callgrind*"):
                with open(dump) as fh:
                    for line in fh:
                        if line.startswith(("summary:", "totals:")):
                            total = max(total, int(line.split()[1]))
            if total == 0:
                raise BenchError("redis-server under callgrind wrote no totals")
            result["instructions"] = total / count
    return result


def measure(store: str, keyed: bool, args: argparse.Namespace, workdir: Path,
            client: redis.Redis | None) -> dict[str, float]:
    port = free_port()
    label = f"{store.split(':')[0]}-{'key' if keyed else 'nokey'}"
    out = workdir / f"{label}.callgrind"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSANDBOX_")}
    log = open(workdir / f"{label}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         "-m", "paysandbox", "serve", "--port", str(port), "--store", store],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    result: dict[str, float] = {}
    try:
        conn = connect(port, proc, timeout=180)
        send(conn, args.warmup, keyed)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True,
                       check=True, timeout=60)
        before = redis_counters(client) if client is not None else None
        send(conn, args.requests, keyed)
        after = redis_counters(client) if client is not None else None
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True,
                       check=True, timeout=60)
        conn.close()
    except (OSError, BenchError) as exc:
        tail = Path(log.name).read_bytes()[-2000:].decode(errors="replace")
        raise BenchError(f"{store}: {exc}; the server's output ends:\n{tail}") from exc
    finally:
        stop(proc)
        log.close()
    total = 0
    allocated = 0
    for dump in Path(workdir).glob(f"{out.name}*"):
        with open(dump) as fh:
            for line in fh:
                if line.startswith(("summary:", "totals:")):
                    total = max(total, int(line.split()[1]))
        allocated = max(allocated, allocations(str(dump)))
    if total == 0:
        raise BenchError(f"{store}: callgrind wrote no totals")
    n = args.requests
    result["instructions"] = total / n
    result["allocations"] = allocated / n
    if before is not None and after is not None:
        # the two INFO calls between the snapshots are not the simulator's
        result["calls"] = (after["total"] - before["total"]
                           - (after["inner"] - before["inner"]) - 2) / n
        result["redis_command_us"] = (after["commands_usec"] - before["commands_usec"]) / n
        result["redis_cpu_us"] = (after["cpu_s"] - before["cpu_s"]) * 1e6 / n
    return result


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def throughput(url_of: dict[str, tuple[str, int]], seconds: float, client: redis.Redis
               ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """req/s of each server, twice, alternating, and each server's own CPU per request
    (what its throughput is on a core of its own, whatever else ran); and Redis' CPU and
    commands' time per request while the Redis-backed one ran (Redis busy, so its own
    idle work is negligible beside it)."""
    rates: dict[str, list[float]] = {name: [] for name in url_of}
    spent = {"cpu_us": 0.0, "command_us": 0.0, "requests": 0.0}
    for name in url_of:
        spent[f"{name}_cpu_us"] = spent[f"{name}_requests"] = 0.0
    for _ in range(2):
        for name, (url, pid) in url_of.items():
            before = redis_counters(client)
            used = cpu_seconds(pid)
            run = run_wrk(url, duration=seconds, connections=32, threads=1, cpu=None)
            spent[f"{name}_cpu_us"] += (cpu_seconds(pid) - used) * 1e6
            spent[f"{name}_requests"] += run.requests
            after = redis_counters(client)
            if run.errors.get("status") or run.socket_errors:
                raise BenchError(f"{name}: wrk saw errors: {run.errors}")
            rates[name].append(run.requests / run.duration_s)
            if name == "redis":
                spent["cpu_us"] += (after["cpu_s"] - before["cpu_s"]) * 1e6
                spent["command_us"] += after["commands_usec"] - before["commands_usec"]
                spent["requests"] += run.requests
    n = max(1.0, spent["requests"])
    per = {"cpu_us": spent["cpu_us"] / n, "command_us": spent["command_us"] / n}
    for name in url_of:
        per[f"{name}_cpu_us"] = spent[f"{name}_cpu_us"] / max(1.0, spent[f"{name}_requests"])
    return rates, per


def serve_plain(store: str) -> tuple[subprocess.Popen[bytes], str]:
    """A simulator (not under callgrind), warmed up; its process and URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSANDBOX_")}
    proc = subprocess.Popen([sys.executable, "-m", "paysandbox", "serve", "--port", str(port),
                             "--store", store, "--journal-size", "1000"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    conn = connect(port, proc, timeout=60)
    send(conn, 200, False)
    conn.close()
    return proc, f"http://{HOST}:{port}{SIM_PATH}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--wrk", type=float, default=5.0,
                   help="also run wrk for this many seconds per store, twice (0: no)")
    p.add_argument("--replay", type=int, default=0, metavar="N",
                   help="measure Redis alone: record 2N commits, replay them (see above)")
    p.add_argument("--retain", type=int, default=1000, metavar="N",
                   help="with --replay: the recording simulator's --retain-payments")
    args = p.parse_args(argv)
    if not (1 <= args.requests <= 100_000 and 0 <= args.warmup <= 100_000
            and 0 <= args.wrk <= 60):
        p.error("bounds: 1 <= --requests <= 100000, 0 <= --warmup <= 100000, --wrk <= 60")
    if not have_valgrind("redisbench"):
        return 2
    if args.replay:
        if not 1 <= args.replay <= 100_000:
            p.error("bounds: 1 <= --replay <= 100000")
        with tempfile.TemporaryDirectory(prefix="redisbench-") as tmp:
            try:
                r = replay(args.replay, Path(tmp), args.retain)
            except (BenchError, subprocess.SubprocessError, OSError, redis.RedisError) as exc:
                print(f"redisbench: BROKEN: {exc}", file=sys.stderr)
                return 2
        print(f"commit script, {args.replay} replayed after {args.replay}: "
              f"{r['keys']:.1f} keys, {r['args']:.1f} arguments, {r['bytes']:,.0f} bytes, "
              f"{r['inner']:.1f} redis.calls per commit")
        print(f"Redis instructions per commit (callgrind): {r['instructions']:,.0f}")
        print(f"idle Redis, per commit: {r['script_us']:.1f} us in the script "
              f"(commandstats), {r['cpu_us']:.1f} us of CPU (INFO cpu); "
              f"used_memory {r['memory_mb']:.1f} MB")
        return 0
    rows: dict[str, dict[str, float]] = {}
    rates: dict[str, list[float]] = {}
    redis_load: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="redisbench-") as tmp:
        server, url = start_redis(Path(tmp))
        client = redis.Redis.from_url(url)
        started: list[subprocess.Popen[bytes]] = []
        try:
            for keyed in (False, True):
                for store in ("memory", url):
                    name = f"{'memory' if store == 'memory' else 'redis'}" + \
                        (", key" if keyed else "")
                    print(f"{name}: under callgrind, {args.warmup} + {args.requests} "
                          "requests …", flush=True)
                    client.flushall()
                    rows[name] = measure(store, keyed, args, Path(tmp),
                                         None if store == "memory" else client)
            if args.wrk:
                client.flushall()
                urls = {}
                for store in ("memory", url):
                    proc, target = serve_plain(store)
                    started.append(proc)
                    urls["memory" if store == "memory" else "redis"] = target, proc.pid
                rates, redis_load = throughput(urls, args.wrk, client)
        except (BenchError, subprocess.SubprocessError, OSError, redis.RedisError) as exc:
            print(f"redisbench: BROKEN: {exc}", file=sys.stderr)
            return 2
        finally:
            for proc in started:
                stop(proc)
            client.close()
            stop(server)
    print()
    print(f"{'':<14}{'instructions':>14}{'memory/this':>13}{'allocations':>13}"
          f"{'Redis calls':>13}{'Redis cmd us':>14}{'Redis CPU us':>14}")
    for name, r in rows.items():
        base = rows["memory, key" if name.endswith("key") else "memory"]["instructions"]
        extra = (f"{r['calls']:>13.2f}{r['redis_command_us']:>14.1f}{r['redis_cpu_us']:>14.1f}"
                 if "calls" in r else f"{'':>13}{'':>14}{'':>14}")
        print(f"{name:<14}{r['instructions']:>14,.0f}{base / r['instructions']:>13.3f}"
              f"{r['allocations']:>13,.0f}{extra}")
    for name, r in rows.items():
        if "redis_cpu_us" in r and r["redis_cpu_us"] > 0:
            print(f"{name}: one Redis core feeds about {1e6 / r['redis_cpu_us']:,.0f} "
                  f"create+confirm/s (by its CPU), {1e6 / r['redis_command_us']:,.0f} "
                  "(by its commands' time)")
    if rates:
        print()
        for name, got in rates.items():
            print(f"wrk {name}: " + " / ".join(f"{r:,.0f}" for r in got) + " req/s")
        ratio = max(rates["redis"]) / max(rates["memory"])
        print(f"wrk redis/memory (best of each): {ratio:.3f}")
        mem, red = redis_load["memory_cpu_us"], redis_load["redis_cpu_us"]
        print(f"simulator CPU per request under wrk: memory {mem:.0f} us, redis {red:.0f} us;"
              f" memory/redis {mem / max(red, 1e-9):.3f} (the throughput ratio on a core each)")
        print(f"Redis under that load, per create+confirm: {redis_load['cpu_us']:.1f} us of "
              f"CPU ({1e6 / max(redis_load['cpu_us'], 1e-9):,.0f}/s on one core), "
              f"{redis_load['command_us']:.1f} us in commands")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
