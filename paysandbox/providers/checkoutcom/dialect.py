"""How Checkout.com's API speaks HTTP: secret keys, JSON bodies, its error envelope (an
empty body for 401 and 404), `Cko-Idempotency-Key`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, Unauthorized
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.checkoutcom import wire
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.providers.seam import bearer_token, json_fingerprint, provider_path

#: The request contracts of the reads whose query string carries parameters (the other
#: reads take none, and a stray query string on them is ignored, as the real API does).
QUERY_CONTRACTS = frozenset({"list_disputes.request", "financial_actions.request"})
_INTEGERS = frozenset({"limit", "skip"})
_BOOLEANS = frozenset({"this_channel_only"})

_KEY = re.compile(r"^sk_(sbox|test)_[A-Za-z0-9_*#$=-]{1,200}$")


class CheckoutDialect:
    idempotency_header = "Cko-Idempotency-Key"
    replay_header = None

    def authenticate(self, request: web.Request) -> str:
        """The secret key is the namespace: two keys never see each other's payments.
        `Bearer sk_sbox_…` (the default SDK) or the raw `sk_test_…` (the Previous SDK)."""
        key = bearer_token(request) or request.headers.get("Authorization", "").strip()
        if not _KEY.match(key):
            raise Unauthorized("Invalid or missing secret key.")
        return tenant(key)

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        """A JSON body; on a read, its query parameters where it takes any (numbers and
        booleans typed, for the contract to check)."""
        if request.method == "GET":
            return _query(request) if schema in QUERY_CONTRACTS else {}
        raw = request.get(RAW_BODY, b"")
        if not raw.strip():
            return {}
        ctype = request.content_type
        if ctype not in ("application/json", "application/octet-stream") and \
                not ctype.endswith("+json"):
            raise Invalid("content_type_unsupported", status=415)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Invalid("request_body_malformed") from None
        if not isinstance(data, dict):
            raise Invalid("request_body_malformed")
        return data

    def invalid(self, violation: Violation) -> ApiError:
        return wire.violation_error(violation)

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        return web.Response(body=wire.dumps(body), status=status,
                            content_type="application/json",
                            headers={"Cko-Request-Id": request.get(REQUEST_ID, "")})

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        body = wire.error_body(error, request.get(REQUEST_ID, ""))
        response = web.Response(status=error.status, body=body,
                                headers={"Cko-Request-Id": request.get(REQUEST_ID, "")})
        if body:
            response.content_type = "application/json"
        if error.status == 401:
            response.headers["WWW-Authenticate"] = (
                'Bearer error="invalid_token", error_description="Use a sandbox secret key: '
                "'Authorization: Bearer sk_sbox_...' or, on the previous platform, the raw "
                "'sk_test_...' key\"")
        return response

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (Invalid("idempotency_key_invalid"),
                Conflict("Another request with this Cko-Idempotency-Key is still being "
                         "processed.", code="request_in_progress"))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        return json_fingerprint(request.method, provider_path(request), params)


def _query(request: web.Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in request.query.items():
        if key in _INTEGERS and re.fullmatch(r"-?[0-9]{1,12}", value):
            out[key] = int(value)
        elif key in _BOOLEANS and value.lower() in ("true", "false"):
            out[key] = value.lower() == "true"
        else:
            out[key] = value
    return out
