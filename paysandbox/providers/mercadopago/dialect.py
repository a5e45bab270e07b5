"""How Mercado Pago's API speaks HTTP: test access tokens, JSON bodies, its error
envelope and `X-Idempotency-Key`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, InvalidRequest, Unauthorized
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.mercadopago import chargebacks, wire
from paysandbox.providers.seam import bearer_token, json_fingerprint, provider_path

_TOKEN = re.compile(r"^TEST-[A-Za-z0-9_-]{1,250}$")
_NUMBER = re.compile(r"-?\d{1,9}")


class MercadoPagoDialect:
    idempotency_header = "X-Idempotency-Key"
    replay_header = None

    def authenticate(self, request: web.Request) -> str:
        """The access token is the namespace: two tokens never see each other's payments."""
        token = bearer_token(request)
        # The legacy query parameter, when no header is sent.
        if not request.headers.get("Authorization") and "access_token" in request.query:
            token = request.query["access_token"]
        if not token:
            raise Unauthorized(
                "unauthorized: no access token. Send your test access token as "
                "'Authorization: Bearer TEST-…' (for example "
                "mercadopago.SDK('TEST-123-4567')).", code="401")
        if not _TOKEN.match(token):
            shown = token[:10] + "…" if len(token) > 10 else token
            live = token.startswith("APP_USR-")
            raise Unauthorized(
                f"invalid access token {shown!r}. "
                + ("This simulator accepts test access tokens only (TEST-…), never production "
                   "credentials." if live else "Use a test access token such as "
                   "TEST-1234567890123456-010203-abcdef-123456789."), code="401")
        return tenant(token)

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        """A write's JSON body; the search's query parameters. Other reads take none."""
        if request.method in ("GET", "DELETE"):
            if schema in ("search_payments.request", "search_chargebacks.request",
                          "search_customers.request"):
                return _search(request)
            return {}
        if schema == "upload_documentation.request":
            return chargebacks.parse_files(request.get(RAW_BODY, b""),
                                           request.headers.get("Content-Type", ""))
        return wire.parse_body(request.get(RAW_BODY, b""), request.content_type)

    def invalid(self, violation: Violation) -> ApiError:
        return wire.violation_error(violation)

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        return web.Response(body=wire.dumps(body), status=status, headers={
            "Content-Type": "application/json;charset=UTF-8",
            "x-request-id": request.get(REQUEST_ID, "")})

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return self.respond(wire.error_body(error), request, error.status)

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (InvalidRequest(f"X-Idempotency-Key '{key}' was already used with a different "
                               "request. Use a new key (a UUID v4) for each new operation.",
                               code="4292"),
                Conflict(f"A request with X-Idempotency-Key '{key}' is still being "
                         "processed; retry it once that request has finished.", code="409"))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        """The same JSON in any key order is the same request. A key Mercado Pago would
        not take is refused here, before it is looked up."""
        key = request.headers.get(self.idempotency_header, "")
        if not 1 <= len(key) <= 64:
            raise InvalidRequest("Header X-Idempotency-Key must be 1 to 64 characters long; "
                                 "use a UUID v4.", code="4292")
        return json_fingerprint(request.method, provider_path(request), params)


def _search(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    for name in ("limit", "offset"):
        if name in params and _NUMBER.fullmatch(params[name]):
            params[name] = int(params[name])
    params.pop("access_token", None)
    return params
