"""`paysandbox serve --workers N`: N simulator processes on one port, one state.

The parent process serves nothing itself. It starts N workers (the same command, marked
by PAYSANDBOX_FLEET_WORKER), each binding the same port with SO_REUSEPORT so the kernel
spreads connections over them, and supervises them: SIGTERM and SIGINT are passed on
and the parent exits once every worker has (after `--drain-timeout` plus STOP_GRACE
seconds, a worker still running is killed); a worker that dies on its own is started
again, at most RESTARTS_PER_WORKER times per worker per minute for the fleet together,
beyond which the fleet stops with one line and exit status 1.

Workers share state through Redis: the `--store redis://…` given (many hosts behind a
load balancer scale the same way), or, with no `--store`, a private `redis-server` from
PATH on a unix socket in a temporary folder, without persistence, stopped with the fleet.
Memory cannot be shared, so `--store memory` with more than one worker is refused.

Every response of a worker carries `X-Paysandbox-Worker: <index>:<pid>`, so a client
(or a test) can tell which process served it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from paysandbox.settings import Settings

WORKER_ENV = "PAYSANDBOX_FLEET_WORKER"  # "<index>/<count>": this process is a worker
READY_ENV = "PAYSANDBOX_FLEET_READY_FD"  # the pipe a worker writes to once it listens
WORKER_HEADER = "X-Paysandbox-Worker"
RESTARTS_PER_WORKER = 5  # per minute, for the fleet together: N * 5 restarts in 60 s
READY_TIMEOUT = 60.0  # seconds for a worker to listen (start-up reads scenario files)
REDIS_TIMEOUT = 10.0  # seconds for the private redis-server to answer PING
STOP_GRACE = 10.0  # seconds beyond --drain-timeout before a worker is killed

INSTALL_REDIS = ("--workers {n} shares state in Redis, and no redis-server is on PATH: "
                 "install it (apt-get install redis-server, or brew install redis) or pass "
                 "--store redis://HOST:PORT/0")


class FleetError(Exception):
    """Why the fleet cannot start or had to stop: one line, and the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def worker_identity() -> tuple[int, int] | None:
    """(index, count) when this process is a worker of a fleet, else None."""
    mark = os.environ.get(WORKER_ENV, "")
    index, _, count = mark.partition("/")
    if not (index.isdigit() and count.isdigit()):
        return None
    return int(index), int(count)


def announce_ready() -> None:
    """Tell the parent that this worker listens (a no-op outside a fleet)."""
    fd = os.environ.get(READY_ENV, "")
    if not fd.isdigit():
        return
    with contextlib.suppress(OSError):
        os.write(int(fd), f"{os.getpid()}\n".encode())
        os.close(int(fd))


def _die_with_parent() -> None:
    """Children get SIGTERM if the parent dies, even by SIGKILL: no orphan keeps the port
    or the private Redis (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class PrivateRedis:
    """A redis-server of the fleet's own: a unix socket (mode 700) in a temporary folder,
    no TCP port, no persistence; stopped and its folder removed with the fleet."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._folder: Path | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FleetError(INSTALL_REDIS.format(n=self._workers), status=2)
        self._folder = Path(tempfile.mkdtemp(prefix="paysandbox-fleet-"))
        sock = self._folder / "redis.sock"
        log = self._folder / "redis.log"
        self.proc = await asyncio.create_subprocess_exec(
            binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--dir", str(self._folder),
            "--logfile", str(log), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the workers, which still need it
            preexec_fn=_die_with_parent)
        self.url = f"unix://{sock}"
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + REDIS_TIMEOUT
        try:
            while True:
                with contextlib.suppress(OSError, aioredis.RedisError):
                    await client.ping()
                    return self.url
                if self.proc.returncode is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                    raise FleetError(f"the fleet's redis-server did not answer within "
                                     f"{REDIS_TIMEOUT:g} s: {' '.join(tail.split()[-30:])}")
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


@dataclass
class Worker:
    index: int
    proc: asyncio.subprocess.Process
    ready: asyncio.StreamReader
    pid: int = 0


@dataclass
class Fleet:
    """The parent: starts, watches, restarts and stops the workers."""

    argv: Sequence[str]
    settings: Settings
    env: dict[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)
    restarts: deque[float] = field(default_factory=deque)
    stopping: bool = False
    failure: FleetError | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def spawn(self, index: int) -> Worker:
        read, write = os.pipe()
        env = {**os.environ, **self.env, WORKER_ENV: f"{index}/{self.settings.workers}",
               READY_ENV: str(write)}
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "paysandbox", *self.argv, env=env, pass_fds=(write,),
                stdin=asyncio.subprocess.DEVNULL, preexec_fn=_die_with_parent)
        finally:
            os.close(write)
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(read, "rb", 0))
        return Worker(index, proc, reader)

    async def wait_ready(self, worker: Worker) -> None:
        try:
            line = await asyncio.wait_for(worker.ready.readline(), READY_TIMEOUT)
        except TimeoutError:
            raise FleetError(f"worker {worker.index} did not listen within "
                             f"{READY_TIMEOUT:g} s") from None
        if not line.strip().isdigit():
            code = await worker.proc.wait()
            raise FleetError(f"worker {worker.index} exited with status {code} before it "
                             "listened (its error is above)")
        worker.pid = int(line)

    async def watch(self, worker: Worker) -> None:
        """Restart the worker whenever it dies on its own, within the budget."""
        n = self.settings.workers
        while True:
            code = await worker.proc.wait()
            if self.stopping:
                return
            now = time.monotonic()
            self.restarts.append(now)
            while self.restarts and self.restarts[0] < now - 60:
                self.restarts.popleft()
            if len(self.restarts) > n * RESTARTS_PER_WORKER:
                self.failure = FleetError(
                    f"workers died {len(self.restarts)} times within a minute (the last: "
                    f"worker {worker.index}, status {code}); stopping the fleet")
                self.stop.set()
                return
            print(f"paysandbox: worker {worker.index} (pid {worker.proc.pid}) exited with "
                  f"status {code}; starting it again", file=sys.stderr, flush=True)
            replacement = await self.spawn(worker.index)
            self.workers[worker.index - 1] = worker = replacement
            with contextlib.suppress(FleetError):  # one that dies at once is seen above
                await self.wait_ready(worker)

    async def shutdown(self) -> None:
        self.stopping = True
        live = [w for w in self.workers if w.proc.returncode is None]
        for w in live:
            with contextlib.suppress(ProcessLookupError):
                w.proc.send_signal(signal.SIGTERM)
        waits = [asyncio.ensure_future(w.proc.wait()) for w in live]
        if waits:
            _, late = await asyncio.wait(waits, timeout=self.settings.drain_timeout
                                         + STOP_GRACE)
            for w in live:
                if w.proc.returncode is None:
                    print(f"paysandbox: worker {w.index} (pid {w.proc.pid}) did not stop "
                          "in time; killed", file=sys.stderr, flush=True)
                    with contextlib.suppress(ProcessLookupError):
                        w.proc.kill()
            if late:
                await asyncio.wait(late)


def _reserve(host: str, port: int) -> socket.socket:
    """A bound, not listening, SO_REUSEPORT socket: it holds a port chosen by the kernel
    (`port` 0) while the workers bind the same one; it takes no connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def run(argv: Sequence[str], settings: Settings, *, private_redis: bool) -> int:
    """The fleet's parent: its exit status (0 after a clean stop by signal)."""
    from paysandbox.cli import banner

    n = settings.workers
    if not hasattr(socket, "SO_REUSEPORT"):
        print(f"paysandbox: --workers {n} needs SO_REUSEPORT, which this platform lacks; "
              "run one process per port behind a load balancer instead", file=sys.stderr)
        return 2
    fleet = Fleet(argv=list(argv), settings=settings)
    redis = PrivateRedis(n) if private_redis else None
    held: list[socket.socket] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, fleet.stop.set)
    watchers: list[asyncio.Task[None]] = []
    try:
        store = settings.store
        if redis is not None:
            store = await redis.start()
            fleet.env["PAYSANDBOX_STORE"] = store
        else:
            await _check_store(store)  # one error line, rather than one per worker
        if settings.admin_token_generated and settings.admin_token:
            fleet.env["PAYSANDBOX_ADMIN_TOKEN"] = settings.admin_token  # one for all
        # Ports chosen by the kernel (0) are chosen once, here, for every worker.
        ports = {"port": settings.port, "tls_port": settings.tls_port,
                 "proxy_port": settings.proxy_port}
        tls = settings.tls or settings.proxy_port is not None
        for name, port in ports.items():
            if port == 0 and (name == "port" or tls):
                try:
                    held.append(_reserve(settings.host, 0))
                except OSError as exc:
                    raise FleetError(f"cannot bind {settings.host}: {exc}") from None
                ports[name] = held[-1].getsockname()[1]
                fleet.argv = [*fleet.argv, "--" + name.replace("_", "-"), str(ports[name])]
        for index in range(1, n + 1):
            fleet.workers.append(await fleet.spawn(index))
        for worker in fleet.workers:
            await fleet.wait_ready(worker)
        port = ports["port"] or settings.port
        shown = settings.replace(store=store)
        lines = banner(shown, port, ports["tls_port"] if tls else None,
                       ports["proxy_port"]).splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("store "))
        lines[at:at + 1] = [
            f"workers         {n} processes on port {port} (SO_REUSEPORT), pids "
            + ", ".join(str(w.pid) for w in fleet.workers)
            + f"; a response's {WORKER_HEADER} says which served it",
            "store           " + (
                f"private redis-server (pid {redis.proc.pid if redis.proc else '?'}) at "
                f"{store}, stopped with the fleet" if redis is not None
                else _shared(store))]
        print("\n".join(lines), flush=True)
        watchers = [asyncio.create_task(fleet.watch(w)) for w in list(fleet.workers)]
        if redis is not None and redis.proc is not None:
            watchers.append(asyncio.create_task(_redis_watch(fleet, redis.proc)))
        await fleet.stop.wait()
    except FleetError as exc:
        fleet.failure = exc
    finally:
        await fleet.shutdown()
        for task in watchers:
            task.cancel()
        for sock in held:
            sock.close()
        if redis is not None:
            await redis.stop()
    if fleet.failure is not None:
        print(f"paysandbox: {fleet.failure}", file=sys.stderr, flush=True)
        return fleet.failure.status
    return 0


async def _check_store(url: str) -> None:
    from paysandbox.store.base import StoreUnavailable
    from paysandbox.store.redis import RedisStore

    store = RedisStore(url)
    try:
        await store.ping()
    except StoreUnavailable as exc:
        raise FleetError(str(exc)) from None
    await store.close()


def _shared(store: str) -> str:
    from paysandbox.store.redis import redacted

    return f"{redacted(store)} (shared by the workers and every simulator using it)"


async def _redis_watch(fleet: Fleet, proc: asyncio.subprocess.Process) -> None:
    code = await proc.wait()
    if not fleet.stopping:
        fleet.failure = FleetError(f"the fleet's redis-server exited (status {code}); its "
                                   "state is gone, so the fleet stops")
        fleet.stop.set()
