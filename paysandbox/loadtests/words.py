"""Codes in words: what a report reader (a capacity planner, not the simulator's author)
should read instead of `444`, `HTTP 0` or a Python exception's repr. Pure functions,
no Locust import, so the report builder and the tests use them as they are."""

from __future__ import annotations

import http
import re
import socket
from typing import Any

#: The status the simulator journals for a connection it broke on purpose (nginx's
#: "closed without a response").
BROKEN = 444

#: A scenario's transport faults, as the journal notes them (`fault`).
FAULTS = {
    "connection_reset": "connection reset by an injected fault",
    "empty_response": "connection closed without an answer (injected)",
    "hang": "no answer: hung by an injected fault",
    "malformed_body": "malformed body (injected)",
    "slow_body": "slow body (injected)",
    "http": "HTTP error injected",
}

NO_RESPONSE = "no response"


def status_words(status: int | str, fault: str | None = None) -> str:
    """`503` -> "503 Service Unavailable"; `444` -> "connection closed by a fault";
    `0` -> "no response"."""
    try:
        code = int(status)
    except (TypeError, ValueError):
        return str(status)
    if code == 0:
        return NO_RESPONSE
    if code == BROKEN:
        return FAULTS.get(fault or "", "connection closed by a fault")
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def fault_words(fault: str, status: int = 0) -> str:
    """A journal note's fault kind in words (`http` with the status it injected)."""
    if fault == "http":
        return f"{status_words(status)} (injected)"
    return FAULTS.get(fault, fault)


def no_response(error: Any, timeout: float | None = None) -> str:
    """Why a request got no HTTP answer at all, from the client's exception."""
    name = type(error).__name__.lower()
    text = str(error).lower()
    if isinstance(error, (socket.timeout, TimeoutError)) or "timeout" in name \
            or "timed out" in text:
        after = f" after {timeout:g} s" if timeout else ""
        return f"{NO_RESPONSE}: timed out{after}"
    if isinstance(error, ConnectionRefusedError) or "refused" in text:
        return f"{NO_RESPONSE}: connection refused"
    if isinstance(error, ConnectionResetError) or "reset" in text:
        return f"{NO_RESPONSE}: connection reset"
    if "closed" in name or "closed" in text or "parse" in name:
        return f"{NO_RESPONSE}: connection closed before an answer"
    return f"{NO_RESPONSE}: {type(error).__name__}"


def failure_text(resp: Any, timeout: float | None = None) -> str:
    """A failed request's message for Locust's stats: the status in words and the start
    of the body, or why there was no answer (never `HTTP 0`)."""
    if not resp.status_code:
        return no_response(getattr(resp, "error", None), timeout)
    body = (getattr(resp, "text", "") or "")[:200]
    return f"{status_words(resp.status_code)}: {body}" if body else status_words(
        resp.status_code)


_HTTP = re.compile(r"^HTTP (\d{1,3})\b")


def error_kind(message: str) -> str:
    """A failure message -> a short kind, for errors over time (a handful of lines, not
    one per distinct body)."""
    text = message.strip()
    m = _HTTP.match(text)
    if m:
        return status_words(int(m.group(1)))
    m = re.match(r"^(\d{3}) [A-Z]", text)
    if m:
        return status_words(int(m.group(1)))
    if text.startswith(NO_RESPONSE):
        return text.split(" after ")[0]
    if "no webhook reached" in text:
        return "no webhook reached the service"
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return f"{NO_RESPONSE}: timed out"
    if "reset" in lowered:
        return f"{NO_RESPONSE}: connection reset"
    if "refused" in lowered:
        return f"{NO_RESPONSE}: connection refused"
    return text[:60] or "unknown"


def percent(ratio: float) -> str:
    """0.00045848… -> "0.046%": two significant digits below 1%, two decimals above."""
    value = ratio * 100
    if value == 0:
        return "0%"
    if abs(value) < 1:
        return f"{value:.2g}%"
    return f"{value:.2f}%"
