"""How Stripe's v1 API speaks HTTP: keys, form bodies, its error envelope, idempotency."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from paysandbox.contracts import Violation, schema
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, IdempotencyError, InvalidRequest, Unauthorized
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.seam import provider_path
from paysandbox.providers.stripe import wire

_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]{1,247}$")

_PI_EXPANSIONS = ("latest_charge", "payment_method")
#: What `expand[]` may name, by request contract (every retrieval shares one).
_EXPANDABLE: dict[str, tuple[str, ...]] = {
    name: _PI_EXPANSIONS for name in (
        "create_payment_intent.request", "update_payment_intent.request",
        "confirm_payment_intent.request", "capture_payment_intent.request",
        "cancel_payment_intent.request", "retrieve.request")}


class StripeDialect:
    idempotency_header = "Idempotency-Key"
    replay_header = "Idempotent-Replayed"

    def authenticate(self, request: web.Request) -> str:
        """The API key is the namespace: two keys never see each other's objects."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
            except ValueError:  # not base64, not UTF-8, or not ASCII at all
                key = ""
        if not header:
            raise Unauthorized(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "sk_test_123'). This simulator accepts any test-mode key (sk_test_… or "
                "rk_test_…).")
        if not _KEY.match(key):
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
            live = key.startswith(("sk_live_", "rk_live_"))
            raise Unauthorized(
                f"Invalid API Key provided: {shown or '(empty)'}. "
                + ("This simulator never accepts live-mode keys; use a sk_test_… key."
                   if live else "Use a test-mode secret key, for example sk_test_123."))
        return tenant(key)

    async def decode(self, request: web.Request, contract: str | None) -> dict[str, Any]:
        """Form parameters from the body and the query string (Stripe reads both), typed
        by the contract where a form's strings stand for numbers or booleans."""
        if request.method == "GET" or request.method == "DELETE":
            params = _form(request.query_string, contract)
        else:
            raw = request.get(RAW_BODY, b"")
            ctype = request.content_type
            if raw and ctype not in ("application/x-www-form-urlencoded",
                                     "application/octet-stream"):
                raise InvalidRequest(
                    f"Invalid request: Stripe's API takes form-encoded bodies "
                    f"(Content-Type: application/x-www-form-urlencoded), not {ctype}. For "
                    "example: amount=2000&currency=usd&metadata[order_id]=6735")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequest("Invalid request: the body is not valid UTF-8. Encode "
                                     "parameters as UTF-8 and percent-encode them.") from None
            params = _form(text, contract)
            if request.query_string:
                params = {**_form(request.query_string, contract), **params}
        expandable = _EXPANDABLE.get(contract or "", ())
        for path in params.get("expand", ()):
            if path not in expandable:
                raise InvalidRequest(f"This property cannot be expanded ({path}).",
                                     param="expand")
        return params

    def invalid(self, violation: Violation) -> ApiError:
        return wire.violation_error(violation)

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        headers = {
            "Content-Type": "application/json",
            "Request-Id": "req_" + request.get(REQUEST_ID, ""),
            "Stripe-Version": request.headers.get("Stripe-Version", wire.API_VERSION),
        }
        key = request.headers.get("Idempotency-Key")
        if key is not None:  # Stripe echoes it; stripe-node reads it from the response
            headers["Idempotency-Key"] = key
        return web.Response(body=wire.dumps(body), status=status, headers=headers)

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return self.respond(wire.error_body(error), request, error.status)

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (IdempotencyError(
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request."),
                Conflict(
                    "There is currently another in-progress request using this Idempotent "
                    "Key (that probably means you submitted twice, and the other request is "
                    f"still going through): {key}. Please try again later.",
                    code="idempotency_key_in_use"))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        """The same parameters in any order are the same request (Stripe compares
        parameters, not bytes)."""
        pairs = sorted(parse_qsl(request.get(RAW_BODY, b"").decode("utf-8", "replace"),
                                 keep_blank_values=True))
        return hashlib.sha256(
            f"{request.method} {provider_path(request)} {pairs!r}".encode()).hexdigest()


def _form(raw: str, contract: str | None) -> dict[str, Any]:
    data = wire.parse_form(raw)
    if contract is None:
        return data
    typed: dict[str, Any] = wire.coerce(data, schema("stripe", contract))
    return typed
