"""A real 3-node Redis Cluster on loopback, for the store tests and the fleet tests
(the `redis_cluster_url` fixture in tests/conftest.py). Every wait is bounded; the nodes
are killed at the end, and their folders are pytest's temporary ones."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

NODES = 3
START_TIMEOUT = 30.0  # seconds for the nodes to answer and the cluster to be `ok`

INSTALL = ("The Redis Cluster tests need redis-server and redis-cli: apt-get install "
           "redis-server (`make test` installs it when run as root), or brew install redis.")


class ClusterError(RuntimeError):
    pass


def _free_ports(n: int) -> list[int]:
    """n free loopback ports whose cluster bus ports (port + 10000) are free too."""
    found: list[int] = []
    while len(found) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or port in found:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        found.append(port)
    return found


def _answer(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(command)
        return conn.recv(4096)


@contextlib.contextmanager
def local_cluster(workdir: Path) -> Iterator[str]:
    """Start the nodes, join them with `redis-cli --cluster create`, wait until
    CLUSTER INFO says `cluster_state:ok` on every node; yield a redis+cluster:// URL."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise ClusterError(INSTALL)
    ports = _free_ports(NODES)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            folder = workdir / str(port)
            folder.mkdir()
            procs.append(subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(folder / "nodes.conf"), "--save", "",
                 "--appendonly", "no", "--dir", str(folder),
                 "--logfile", str(folder / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + START_TIMEOUT
        for port, proc in zip(ports, procs, strict=True):
            while True:
                with contextlib.suppress(OSError):
                    if _answer(port, b"PING\r\n").startswith(b"+PONG"):
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = workdir / str(port) / "redis.log"
                    raise ClusterError(f"redis-server --cluster-enabled did not start on "
                                       f"127.0.0.1:{port}:\n"
                                       f"{log.read_text() if log.exists() else ''}")
                time.sleep(0.05)
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, timeout=START_TIMEOUT, check=False)
        if created.returncode != 0:
            raise ClusterError(f"redis-cli --cluster create failed:\n"
                               f"{created.stdout.decode()}{created.stderr.decode()}")
        for port in ports:
            while b"cluster_state:ok" not in _answer(port, b"CLUSTER INFO\r\n"):
                if time.monotonic() > deadline:
                    raise ClusterError(f"the cluster did not become ok on 127.0.0.1:{port}")
                time.sleep(0.05)
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)
