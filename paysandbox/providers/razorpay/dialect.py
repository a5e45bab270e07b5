"""How Razorpay's v1 API speaks HTTP: HTTP Basic with the key id and secret, JSON
bodies, list queries, its error envelope, and the one idempotency header it has."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, Unauthorized
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.razorpay import wire
from paysandbox.providers.seam import basic_credentials, json_fingerprint, provider_path

_KEY_ID = re.compile(r"^rzp_test_[A-Za-z0-9]{1,64}$")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
#: The contracts of the list and report routes: the only GETs whose query the
#: simulator reads (a GET of one entity reads none, whatever it is sent).
_QUERIES = frozenset({"list.request", "settlement_list.request",
                      "settlement_recon.request"})


class RazorpayDialect:
    # Razorpay has an idempotency header for refunds only; orders use `receipt` with
    # `unique_receipt`, and payment creation has none (the route table says which).
    idempotency_header = "X-Refund-Idempotency"
    replay_header = None

    def authenticate(self, request: web.Request) -> str:
        """HTTP Basic with the key id and key secret; the key id is the namespace."""
        key_id, secret = basic_credentials(request)
        if not key_id.startswith("rzp_test_") or not _KEY_ID.match(key_id) or not secret:
            hint = ("live key ids are never accepted; use a test key id (rzp_test_…)"
                    if key_id.startswith("rzp_live_") else
                    "use HTTP Basic auth with a test key id (rzp_test_…) as the username "
                    "and its key secret as the password, e.g. razorpay.Client(auth=("
                    "'rzp_test_1DP5mmOlF5G5ag', 'secret'))")
            raise Unauthorized(f"Authentication failed: {hint}.",
                               extra={"source": "NA", "step": "NA", "reason": "NA"})
        return tenant(key_id)

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        if request.method == "GET":
            return wire.parse_query(request.query) if schema in _QUERIES else {}
        raw = request.get(RAW_BODY, b"")
        return wire.parse_body(raw, request.content_type if raw else "")

    def invalid(self, violation: Violation) -> ApiError:
        return wire.violation_error(violation)

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        return web.Response(body=wire.dumps(body), status=status, headers={
            "Content-Type": "application/json",
            "X-Razorpay-Request-Id": request.get(REQUEST_ID, ""),
        })

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return self.respond(wire.error_body(error), request, error.status)

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (wire.bad_request("Different request with the same idempotency key has "
                                 "already been processed.", source="NA", step="NA",
                                 reason="NA"),
                Conflict("A request with this idempotency key is still being processed; "
                         "retry it after a moment.",
                         extra={"source": "NA", "step": "NA", "reason": "NA"}))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        """The same JSON body in any key order is the same request. A key Razorpay
        would refuse is refused here, before it is claimed."""
        key = request.headers.get(self.idempotency_header, "")
        if not _IDEMPOTENCY_KEY.match(key):
            raise wire.bad_request(
                "The X-Refund-Idempotency key must be at least 10 characters long and "
                "contain only letters, digits, hyphens and underscores, e.g. a UUID.",
                field="X-Refund-Idempotency")
        return json_fingerprint(request.method, provider_path(request), params)
