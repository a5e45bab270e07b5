"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a payment
service sends with its request is kept with the request's journal entry, and each
webhook that request causes carries the same trace id, so a trace in the service's
tracing joins the provider's side.

The simulator starts no trace of its own for a request: without a valid `traceparent`
the journal entry has none. A webhook always carries one: the trace of the request that
caused its event when there was one, else a new trace (a payment settling by itself on
the clock, an event from the admin API).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from contextvars import ContextVar

from aiohttp import web

#: version-traceid-parentid-flags, lowercase hex (the spec refuses uppercase). A version
#: above 00 may append fields after a dash; `ff` is never valid.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16

#: The valid `traceparent` of the request being served and the task serving it. The task
#: matters: a task started while serving a request inherits this context (the engine's
#: runner of scheduled commands is started by whichever request schedules first), and
#: what that task does later is not caused by that request.
_CURRENT: ContextVar[tuple[str, asyncio.Task[object] | None] | None] = ContextVar(
    "traceparent", default=None)


def parse(value: str | None) -> str | None:
    """The header if it is a valid `traceparent`, else None (the spec's answer to a
    malformed one: ignore it)."""
    if not value:
        return None
    value = value.strip()
    found = _TRACEPARENT.fullmatch(value)
    if found is None:
        return None
    version, trace_id, parent_id, _flags, rest = found.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return None
    if version == "00" and rest:
        return None  # version 00 has exactly four fields
    return value


def begin(request: web.Request) -> None:
    """Called by the provider envelope as a request starts. aiohttp serves each request in
    a task of its own with a copy of the context, so nothing leaks into the next one."""
    header = parse(request.headers.get("traceparent"))
    _CURRENT.set(None if header is None else (header, asyncio.current_task()))


def current() -> str | None:
    """The `traceparent` of the request being served in this task, if it sent one."""
    found = _CURRENT.get()
    if found is None:
        return None
    header, task = found
    try:
        here = asyncio.current_task()
    except RuntimeError:  # no running loop: not serving a request
        return None
    return header if here is task else None


def trace_id(traceparent: str) -> str:
    return traceparent[3:35]


#: Ids need to be unique, not secret: a seeded PRNG costs a fraction of os.urandom.
_ids = random.Random()
if hasattr(os, "register_at_fork"):  # `serve --workers` forks: no two share ids
    os.register_at_fork(after_in_child=_ids.seed)


def child(parent: str | None) -> str:
    """A `traceparent` for an outgoing call (a webhook attempt): the parent's trace id and
    sampled flag with a new span id, or a new sampled trace when there is no parent."""
    span = f"{_ids.getrandbits(64) or 1:016x}"  # all zeros is invalid
    if parent is None:
        return f"00-{_ids.getrandbits(128) or 1:032x}-{span}-01"
    return f"00-{trace_id(parent)}-{span}-{parent[53:55]}"
