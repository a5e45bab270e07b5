"""W3C `traceparent`: which headers are kept, and which task a request's trace reaches."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import make_mocked_request

from paysandbox import tracing

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("header, kept", [
    (VALID, VALID),
    (f"  {VALID} ", VALID),  # surrounding whitespace
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "00-4bf92f3577b34da6a3ce"
     "929d0e0e4736-00f067aa0ba902b7-00"),  # not sampled: still the caller's trace
    ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later",  # a later version
     "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"),
    (VALID.upper(), None),  # the spec allows lowercase hex only
    ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),  # zero trace id
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),  # zero parent id
    ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),  # version ff
    (VALID + "-extra", None),  # version 00 has four fields
    ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", None),  # short trace id
    ("not a traceparent", None),
    ("", None),
    (None, None),
])
def test_parse(header: str | None, kept: str | None) -> None:
    assert tracing.parse(header) == kept


def test_a_child_keeps_the_trace_and_flags_with_a_new_span() -> None:
    child = tracing.child(VALID)
    assert tracing.parse(child) == child
    assert child.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert child.endswith("-01") and child[36:52] != "00f067aa0ba902b7"
    unsampled = tracing.child(VALID[:-2] + "00")
    assert unsampled.endswith("-00")


def test_without_a_parent_a_new_sampled_trace() -> None:
    first, second = tracing.child(None), tracing.child(None)
    assert tracing.parse(first) == first and first.endswith("-01")
    assert tracing.trace_id(first) != tracing.trace_id(second)


async def test_the_trace_reaches_the_requests_own_task_only() -> None:
    """A task started while serving a traced request (the engine's runner of scheduled
    commands is started by whichever request schedules first) later serves others: what
    it does is not caused by that request."""
    tracing.begin(make_mocked_request("POST", "/stripe/v1/payment_intents",
                                      headers={"traceparent": VALID}))
    assert tracing.current() == VALID

    async def later() -> str | None:
        return tracing.current()
    assert await asyncio.create_task(later()) is None

    tracing.begin(make_mocked_request("POST", "/stripe/v1/payment_intents",
                                      headers={"traceparent": "00-bad"}))
    assert tracing.current() is None
