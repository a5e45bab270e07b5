"""The journal: what the payment service sent and what it got back.

A ring buffer bounded in entries and in bytes: each body is kept up to `body_bytes`
(cut with a marker that says how long it was), and the oldest entries go first once the
bodies held exceed `max_bytes`. Recording is cheap (references to bytes already in
hand, or a slice of them); decoding, card-number redaction and filtering happen only
when someone reads it.

Readers that follow it live (the dashboard's event stream) subscribe: each gets its own
queue of new entries, bounded (`Subscription.LIMIT` entries; at the bound the oldest
queued entry is dropped and counted, so a slow reader costs memory it cannot grow), and
at most `Journal.MAX_SUBSCRIBERS` follow at once (one more is refused with
`TooManySubscribers`). A queue holds references to entries the journal already keeps,
and recording costs one append per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from paysandbox import tracing
from paysandbox.core.cards import redact_pans


@dataclass(slots=True)
class Entry:
    seq: int
    at: float
    provider: str
    namespace: str | None
    method: str
    path: str
    query: str
    status: int
    request_id: str
    request_body: bytes
    response_body: bytes
    duration_ms: float
    notes: dict[str, Any] = field(default_factory=dict)
    request_length: int = 0  # the body's length before it was cut to the journal's limit
    response_length: int = 0
    traceparent: str | None = None  # the W3C header the request carried, when valid

    @property
    def size(self) -> int:
        """What the entry holds, as the journal's byte bound counts it."""
        return len(self.request_body) + len(self.response_body) + _ENTRY_OVERHEAD

    def to_json(self, *, bodies: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at,
            "provider": self.provider,
            "namespace": _mask_key(self.namespace),
            "method": self.method,
            "path": self.path,
            "query": _mask_query(self.query),
            "status": self.status,
            "request_id": self.request_id,
            "duration_ms": round(self.duration_ms, 3),
            **self.notes,
        }
        if self.traceparent is not None:
            out["traceparent"] = self.traceparent
        if bodies:
            out["request"] = _marked(_decode(self.request_body), self.request_body,
                                     self.request_length)
            out["response"] = _marked(_decode(self.response_body), self.response_body,
                                      self.response_length)
        return out


#: Bytes an entry costs beyond its bodies (the object, its strings), for the byte bound.
_ENTRY_OVERHEAD = 512


def _marked(decoded: Any, kept: bytes, length: int) -> Any:
    """A body cut to the journal's limit is text (it no longer parses), with a marker."""
    if length <= len(kept):
        return decoded
    text = decoded if isinstance(decoded, str) else kept.decode("utf-8", "replace")
    return f"{text}…[truncated by the journal: {length} bytes, the first {len(kept)} kept]"


def _mask_key(key: str | None) -> str | None:
    if key is None or len(key) <= 12:
        return key
    return key[:8] + "…" + key[-4:]


# Credentials in URLs (`http://user:pass@host/…`), in bodies as in queries.
_URL_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@\s\"']+@")
# … and form-encoded (`url=http%3A%2F%2Fuser%3Apass%40host`).
_ENCODED_URL_CREDENTIALS = re.compile(
    r"(\b[a-zA-Z][a-zA-Z0-9+.-]*%3A%2F%2F)(?:(?!%2F|%3F|%23|%40)[^&\s/\"'])+%40",
    re.IGNORECASE)


def mask_url_credentials(text: str) -> str:
    """Every URL's `user:password@` as `***@`."""
    if "@" in text:
        text = _URL_CREDENTIALS.sub(r"\1***@", text)
    if "%40" in text:
        text = _ENCODED_URL_CREDENTIALS.sub(r"\1***%40", text)
    return text


# Credentials some SDKs send in the query string (Mercado Pago's `?access_token=`).
_SECRET_QUERY = re.compile(r"((?:^|&)(?:access_token|client_secret|api_key|key)=)[^&]*",
                           re.IGNORECASE)


def _mask_query(query: str) -> str:
    if not query:
        return query
    return mask_url_credentials(redact_pans(_SECRET_QUERY.sub(r"\1***", query)))


# A card's security code may never be stored (PCI DSS 3.2): in form bodies
# (`card][cvc]=123`, `cvc=123`) and in JSON (`"cvc": "123"`, Adyen's `"cvc"`, …).
_CVC = re.compile(r'((?:cvc|cvv|cvv2|security_?code|encryptedSecurityCode)(?:%5D|\])?'
                  r'(?:=|"\s*:\s*"?))[^&"\s,}]*', re.IGNORECASE)


def _decode(body: bytes) -> Any:
    if not body:
        return None
    text = _CVC.sub(r"\1***", mask_url_credentials(redact_pans(body.decode("utf-8",
                                                                          "replace"))))
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def selected(e: Entry, *, provider: str | None = None, path: str | None = None,
             status: int | None = None, namespace: str | None = None,
             mentions: str | None = None) -> bool:
    """Whether `e` passes the filters of `Journal.query` (live readers apply the same)."""
    if provider and e.provider != provider:
        return False
    if namespace and e.namespace != namespace:
        return False
    if path and path not in e.path:
        return False
    if status is not None and e.status != status and e.status // 100 != status:
        return False
    if mentions:
        needle = mentions.encode()
        return mentions in e.path or mentions in e.query or needle in e.response_body \
            or needle in e.request_body
    return True


class TooManySubscribers(Exception):
    """Every subscriber slot is taken (`Journal.MAX_SUBSCRIBERS`)."""


class Subscription:
    """New journal entries for one live reader, oldest first; see the module's docstring
    for the bounds."""

    #: Entries a subscriber may fall behind by before the oldest are dropped.
    LIMIT = 256

    def __init__(self, journal: Journal, limit: int = LIMIT) -> None:
        self._journal = journal
        self._queue: deque[Entry] = deque(maxlen=max(1, limit))
        self._ready = asyncio.Event()
        self.dropped = 0  # entries dropped at the bound, since the subscription began
        self.closed = False

    def put(self, entry: Entry) -> None:
        queue = self._queue
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append(entry)
        self._ready.set()

    async def next(self, timeout: float) -> list[Entry]:
        """The entries queued since the last call, waiting up to `timeout` seconds for
        one; [] on time-out or once closed."""
        if not self._queue and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        taken = list(self._queue)
        self._queue.clear()
        return taken

    def close(self) -> None:
        """Stop following: wakes a reader waiting in `next`."""
        self.closed = True
        self._journal.unsubscribe(self)
        self._ready.set()


class Journal:
    #: Live readers at once (dashboards open); one more is refused.
    MAX_SUBSCRIBERS = 8

    def __init__(self, size: int = 10_000, *, max_bytes: int = 64 * 1024 * 1024,
                 body_bytes: int = 16 * 1024) -> None:
        self._entries: deque[Entry] = deque()
        self._size = max(size, 1)
        self._max_bytes = max_bytes
        self._body_bytes = body_bytes
        self._bytes = 0
        self._seq = itertools.count(1)
        self.enabled = size > 0 and max_bytes > 0
        self._subscribers: tuple[Subscription, ...] = ()
        #: Also given every entry recorded (a fleet's shared journal: paysandbox.shared).
        self.sink: Callable[[Entry], None] | None = None

    def subscribe(self, limit: int = Subscription.LIMIT) -> Subscription:
        """Follow new entries; raises TooManySubscribers beyond `MAX_SUBSCRIBERS`."""
        if len(self._subscribers) >= self.MAX_SUBSCRIBERS:
            raise TooManySubscribers(
                f"{self.MAX_SUBSCRIBERS} readers already follow the journal live; close a "
                "dashboard tab (or read GET /__admin/journal instead)")
        subscription = Subscription(self, limit)
        self._subscribers = (*self._subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers = tuple(s for s in self._subscribers if s is not subscription)

    def close_subscriptions(self) -> None:
        """On shutdown: every live reader stops, so no stream holds the server open."""
        for subscription in self._subscribers:
            subscription.close()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def record(self, *, at: float, provider: str, namespace: str | None, method: str,
               path: str, query: str, status: int, request_id: str, request_body: bytes,
               response_body: bytes, duration_ms: float,
               notes: Mapping[str, Any] | None = None) -> None:
        if not self.enabled:
            return
        cut = self._body_bytes
        entry = Entry(next(self._seq), at, provider, namespace, method, path, query, status,
                      request_id, request_body[:cut], response_body[:cut], duration_ms,
                      dict(notes) if notes else {}, len(request_body), len(response_body),
                      tracing.current())  # recorded while the request is served
        entries = self._entries
        entries.append(entry)
        self._bytes += entry.size
        while len(entries) > self._size or (self._bytes > self._max_bytes and len(entries) > 1):
            self._bytes -= entries.popleft().size
        for subscription in self._subscribers:
            subscription.put(entry)
        if self.sink is not None:
            self.sink(entry)

    @property
    def bytes(self) -> int:
        return self._bytes

    def query(self, *, provider: str | None = None, path: str | None = None,
              status: int | None = None, namespace: str | None = None,
              mentions: str | None = None, limit: int = 100) -> list[Entry]:
        """Newest first. `path` matches as a substring, `status` exactly (or by
        class: 4 means any 4xx); `mentions` is text (a payment's id) found in the path,
        the query or either body as kept."""
        found = []
        for e in reversed(self._entries):
            if not selected(e, provider=provider, path=path, status=status,
                            namespace=namespace, mentions=mentions):
                continue
            found.append(e)
            if len(found) >= limit:
                break
        return found

    def clear(self, namespace: str | None = None) -> None:
        if namespace is None:
            self._entries.clear()
        else:
            kept = [e for e in self._entries if e.namespace != namespace]
            self._entries.clear()
            self._entries.extend(kept)
        self._bytes = sum(e.size for e in self._entries)

    def get(self, seq: int) -> Entry | None:
        for e in reversed(self._entries):
            if e.seq <= seq:
                return e if e.seq == seq else None
        return None

    def __len__(self) -> int:
        return len(self._entries)
