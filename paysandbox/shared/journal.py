"""The fleet's journal: every process's entries also go to one capped Redis stream, and
the admin journal reads that, so any process lists the whole fleet's requests.

The request path only appends to a local buffer; a background task writes what it
holds every `FLUSH` seconds in one pipelined round trip (XADD with MAXLEN ~ the
journal's size). Bounds: the stream keeps about `size` entries (Redis trims in whole
nodes, so a little more), each body as the local journal cut it (`--journal-body-bytes`);
the buffer holds `BUFFER` entries while Redis is slow or down, beyond which the oldest
are dropped and counted (`dropped`). Entries a process buffered but had not written when
it was killed are lost (at most `FLUSH` seconds' worth).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from paysandbox.journal import Entry, selected
from paysandbox.shared import stop_task

log = logging.getLogger("paysandbox.shared")

FLUSH = 0.005
BUFFER = 4096
_READ_CHUNK = 500


def _seq(stream_id: bytes | str) -> int:
    """An entry's number in the fleet's journal, from its stream id (`ms-n`): increasing,
    so `GET /__admin/journal?after=` works across processes."""
    ms, _, n = (stream_id.decode() if isinstance(stream_id, bytes) else stream_id
                ).partition("-")
    return int(ms) * 1000 + int(n or 0)


def _meta(e: Entry) -> bytes:
    return orjson.dumps({
        "at": e.at, "provider": e.provider, "namespace": e.namespace, "method": e.method,
        "path": e.path, "query": e.query, "status": e.status, "request_id": e.request_id,
        "duration_ms": e.duration_ms, "notes": e.notes, "request_length": e.request_length,
        "response_length": e.response_length, "traceparent": e.traceparent,
        "pid": os.getpid()}, default=str)


def _entry(stream_id: bytes, fields: dict[bytes, bytes]) -> Entry | None:
    try:
        m = orjson.loads(fields[b"m"])
        return Entry(_seq(stream_id), float(m["at"]), str(m["provider"]), m["namespace"],
                     str(m["method"]), str(m["path"]), str(m["query"]), int(m["status"]),
                     str(m["request_id"]), fields.get(b"q", b""), fields.get(b"r", b""),
                     float(m["duration_ms"]), dict(m.get("notes") or {}),
                     int(m.get("request_length", 0)), int(m.get("response_length", 0)),
                     m.get("traceparent"))
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return None  # not one of ours: skipped, as a reader cannot fix it


class SharedJournal:
    def __init__(self, client: aioredis.Redis, key: Callable[[str], str], *,
                 size: int) -> None:
        self._client = client
        self.key = key("journal")
        self.size = max(1, size)
        self._buffer: deque[Entry] = deque(maxlen=BUFFER)
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0
        self._down = False

    def __call__(self, entry: Entry) -> None:
        """The journal's sink: on the request path, so only a local append."""
        if len(self._buffer) == BUFFER:
            self.dropped += 1
        self._buffer.append(entry)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._buffer:
            await asyncio.sleep(FLUSH)  # gather what the next few ms of requests add
            taken, self._buffer = self._buffer, deque(maxlen=BUFFER)
            pipe = self._client.pipeline(transaction=False)
            for e in taken:
                fields: Any = {"m": _meta(e), "q": e.request_body, "r": e.response_body}
                pipe.xadd(self.key, fields, maxlen=self.size, approximate=True)
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                if not self._down:
                    self._down = True
                    log.warning("shared journal: Redis unreachable (%s); keeping up to %d "
                              "entries to write when it is back", exc, BUFFER)
                merged = [*taken, *self._buffer]  # newest kept; the oldest over the bound go
                self.dropped += max(0, len(merged) - BUFFER)
                self._buffer = deque(merged, maxlen=BUFFER)
                await asyncio.sleep(1.0)
                continue
            self._down = False

    async def stop(self) -> None:
        """Write what is buffered (within 2 s) before the process ends."""
        writer = self._writer
        if writer is not None and not writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
            await stop_task(writer)

    async def entry(self, seq: int) -> Entry | None:
        """The entry numbered `seq` (see `_seq`), whichever process wrote it."""
        if seq < 0:
            return None
        stream_id = f"{seq // 1000}-{seq % 1000}"
        found: list[Any] = await self._client.xrange(self.key, min=stream_id, max=stream_id,
                                                     count=1) or []
        return _entry(*found[0]) if found else None

    async def query(self, *, provider: str | None = None, path: str | None = None,
                    status: int | None = None, namespace: str | None = None,
                    mentions: str | None = None, limit: int = 100) -> list[Entry]:
        """Newest first, filtered as `Journal.query` filters."""
        found: list[Entry] = []
        end = "+"
        while len(found) < limit:
            chunk: list[Any] = await self._client.xrevrange(self.key, max=end, min="-",
                                                            count=_READ_CHUNK) or []
            for stream_id, fields in chunk:
                e = _entry(stream_id, fields)
                if e is not None and selected(e, provider=provider, path=path,
                                              status=status, namespace=namespace,
                                              mentions=mentions):
                    found.append(e)
                    if len(found) >= limit:
                        break
            if len(chunk) < _READ_CHUNK:
                break
            last = chunk[-1][0]
            end = "(" + (last.decode() if isinstance(last, bytes) else last)
        return found

    async def forget(self, namespace: str) -> None:
        """Delete one namespace's entries (a namespace's reset)."""
        start = "-"
        while True:
            chunk: list[Any] = await self._client.xrange(self.key, min=start, max="+",
                                                         count=_READ_CHUNK) or []
            doomed = [sid for sid, fields in chunk
                      if (e := _entry(sid, fields)) is not None and e.namespace == namespace]
            if doomed:
                await self._client.xdel(self.key, *doomed)
            if len(chunk) < _READ_CHUNK:
                return
            last = chunk[-1][0]
            start = "(" + (last.decode() if isinstance(last, bytes) else last)
