"""How Mollie's v2 API speaks HTTP: test API keys, JSON (or form) bodies, query
parameters on reads, its error envelope and idempotency keys."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, Unauthorized
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.mollie import wire
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import bearer_token, json_fingerprint, provider_path

_KEY = re.compile(r"^test_\w+$")


class _ContractError(MollieError):
    """A parameter that breaks the route's contract: 422 in a body, 400 in the query
    string of a read (as Mollie answers both)."""


class MollieDialect:
    idempotency_header = "Idempotency-Key"
    replay_header = "Idempotent-Replayed"

    def authenticate(self, request: web.Request) -> str:
        """The API key is the namespace: two keys never see each other's payments."""
        key = bearer_token(request)
        if not key:
            raise Unauthorized(
                "Missing authentication, or failed to authenticate. Send your API key as "
                "'Authorization: Bearer test_…' (any test-mode key works here, for example "
                "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM).")
        if key.startswith("live_"):
            raise Unauthorized("Failed to authenticate: this simulator never accepts live "
                               "API keys (live_…). Use a test-mode key: test_ followed by "
                               "letters and digits.")
        if key.startswith("access_"):
            raise Unauthorized("Failed to authenticate: organization access tokens and "
                               "OAuth (access_…) are not imitated. Use a test-mode API key "
                               "(test_…).")
        if not _KEY.match(key):
            shown = key[:9] + "…" if len(key) > 12 else key
            raise Unauthorized(f"Failed to authenticate: '{shown}' is not a Mollie API key. "
                               "Use a test-mode key: test_ followed by letters and digits.")
        return tenant(key)

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        """A read's query parameters; a write's JSON (or form) body. A cancellation
        (DELETE) takes no parameters."""
        if request.method == "GET":
            return _query(request)
        if request.method == "DELETE":
            return {}
        return _body(request.get(RAW_BODY, b""), request.content_type)

    def invalid(self, violation: Violation) -> ApiError:
        error = wire.violation_error(violation)
        return _ContractError(error.message, field=error.param)

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        return web.Response(body=wire.dumps(body), status=status, headers={
            "Content-Type": wire.CONTENT_TYPE, "X-Request-Id": request.get(REQUEST_ID, "")})

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        if isinstance(error, _ContractError) and request.method == "GET":
            error.status = 400
        return self.respond(wire.error_body(error), request, error.status)

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (MollieError(f"The idempotency key {key!r} was already used for another "
                            "request (another endpoint or other parameters). Use a new key "
                            "for a new request.", status=400),
                Conflict(f"A request with the idempotency key {key!r} is still being "
                         "processed. Retry in a moment with the same key."))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        """The same parameters, JSON or form, in any order, are the same request."""
        return json_fingerprint(request.method, provider_path(request), params)


def _query(request: web.Request) -> dict[str, Any]:
    data: dict[str, Any] = dict(request.query)
    if "limit" in data:
        try:
            data["limit"] = int(data["limit"])
        except ValueError:
            raise MollieError(f"The 'limit' parameter must be a number from 1 to 250, not "
                              f"{data['limit']!r}.", field="limit", status=400) from None
    if "testmode" in data:
        raise MollieError("The 'testmode' parameter is only for organization access tokens "
                          "and OAuth; with a test API key every payment is a test payment.",
                          field="testmode", status=400)
    return data


def _body(raw: bytes, ctype: str) -> dict[str, Any]:
    data: Any = {}
    if raw.strip():
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MollieError("The request body is not valid UTF-8. Encode the JSON body "
                              "as UTF-8.", status=400) from None
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise MollieError(f"The request body is not valid JSON: {exc}. Send a JSON "
                                  'object, for example {"amount": {"currency": "EUR", '
                                  '"value": "10.00"}, …}.', status=400) from None
        elif ctype == "application/x-www-form-urlencoded":
            data = parse_form(text)
        else:
            raise MollieError(f"Unsupported Media Type: the API takes JSON (Content-Type: "
                              f"application/json), not {ctype or 'an unnamed type'}.",
                              status=415)
    if not isinstance(data, dict):
        raise MollieError("The request body must be a JSON object, not "
                          f"{type(data).__name__}.", status=400)
    return data


_FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_FORM_PART = re.compile(r"\[([^\[\]]*)\]")


def parse_form(text: str) -> dict[str, Any]:
    """Mollie also takes form bodies, as its curl examples send them:
    `amount[currency]=EUR&amount[value]=10.00&method[]=ideal&metadata={"a":1}`."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        m = _FORM_KEY.match(key)
        if m is None:
            raise MollieError(f"Invalid parameter name in the form body: {key!r}.",
                              status=400)
        parts = [m.group(1), *_FORM_PART.findall(m.group(2))]
        appends = parts[-1] == "" and len(parts) > 1  # `method[]=ideal`
        if appends:
            parts.pop()
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _form_clash(key, parts[0])
        last = parts[-1]
        if appends:
            listed = node.setdefault(last, [])
            if not isinstance(listed, list):
                raise _form_clash(key, parts[0])
            listed.append(value)
        elif last in node:
            raise _form_clash(key, parts[0])
        else:
            node[last] = value
    if isinstance(root.get("metadata"), str):  # the docs send metadata as JSON text
        with contextlib.suppress(orjson.JSONDecodeError):
            root["metadata"] = orjson.loads(root["metadata"])
    return root


def _form_clash(key: str, field: str) -> MollieError:
    return MollieError(f"The form parameter {key!r} is given twice, or both as a value and "
                       "as an object.", field=field, status=400)
