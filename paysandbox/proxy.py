"""The HTTPS proxy mode (`--proxy-port`), for clients that honour HTTPS_PROXY.

`CONNECT api.stripe.com:443` is answered `200` and the tunnel is joined to the
simulator's own TLS site, which terminates it with the local CA's certificate and
serves the provider. CONNECT to any other host or port, and every other request, is
refused with 403: nothing is ever forwarded beyond the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from paysandbox.providers.base import bare_host, host_matches

log = logging.getLogger("paysandbox.proxy")

#: Bounds: the request head, the time to send it, and the tunnels open at once.
MAX_HEAD_BYTES = 8192
HEAD_TIMEOUT = 10.0
MAX_TUNNELS = 256
_CHUNK = 65536


class ConnectProxy:
    def __init__(self, hostnames: Iterable[str], upstream: tuple[str, int], *,
                 max_tunnels: int = MAX_TUNNELS) -> None:
        self.hostnames = tuple(h.lower() for h in hostnames)
        self.upstream = upstream
        self.max_tunnels = max_tunnels
        self._open: set[asyncio.StreamWriter] = set()

    def serves(self, target: str) -> bool:
        host, _, port = target.rpartition(":")
        return port == "443" and any(host_matches(p, bare_host(host)) for p in self.hostnames)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            writer.close()
            return
        method, _, rest = head.decode("latin-1").partition(" ")
        target = rest.partition(" ")[0]
        if method != "CONNECT" or not self.serves(target):
            log.warning("proxy refused %s %s: not a provider host", method, target)
            await _refuse(writer, 403, f"This proxy only tunnels to the simulated providers' "
                                       f"hosts on port 443 ({', '.join(self.hostnames)}); "
                                       f"{method} {target} is never forwarded.")
            return
        if len(self._open) >= self.max_tunnels:
            await _refuse(writer, 503, f"{self.max_tunnels} tunnels are open; retry later.")
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError as exc:
            await _refuse(writer, 502, f"The simulator's TLS site did not answer: {exc}")
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._open.difference_update((writer, up_writer))
            for w in (writer, up_writer):
                w.close()

    def close_tunnels(self) -> None:
        for writer in list(self._open):
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        if writer.can_write_eof():
            writer.write_eof()


async def _refuse(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    reason = {403: "Forbidden", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
    body = (message + "\n").encode()
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(ConnectionError, OSError):
        await writer.drain()
    writer.close()
