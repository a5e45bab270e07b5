"""How Adyen's Checkout API speaks HTTP: API keys, versioned paths, JSON bodies, its
error envelope with a pspReference, idempotency."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError
from paysandbox.providers.adyen import reports, wire
from paysandbox.providers.adyen.notifications import NAME
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.seam import basic_credentials, json_fingerprint, provider_path

MIN_VERSION = 68
REPORTS_PATH = f"/{NAME}{reports.REPORTS}/"

#: The name Adyen's errors give each request body (its API's structure), by the
#: request contract of its route.
STRUCTURES: Mapping[str, str] = {
    "payments.request": "PaymentRequest",
    "payment_details.request": "PaymentDetailsRequest",
    "payment_methods.request": "PaymentMethodsRequest",
    "captures.request": "PaymentCaptureRequest",
    "refunds.request": "PaymentRefundRequest",
    "cancels.request": "PaymentCancelRequest",
    "reversals.request": "PaymentReversalRequest",
    "amount_updates.request": "PaymentAmountUpdateRequest",
    "standalone_cancels.request": "StandalonePaymentCancelRequest",
    "retrieve_applicable_defense_reasons.request": "DefenseReasonsRequest",
    "supply_defense_document.request": "SupplyDefenseDocumentRequest",
    "delete_dispute_defense_document.request": "DeleteDefenseDocumentRequest",
    "defend_dispute.request": "DefendDisputeRequest",
    "accept_dispute.request": "AcceptDisputeRequest",
    "stored_payment_methods.request": "StoredPaymentMethodsQuery",
    "list_recurring_details.request": "RecurringDetailsRequest",
    "disable.request": "DisableRequest",
}

# The structure of the body being checked: the envelope asks `invalid` about a
# violation after `decode`, in the same request's task.
_STRUCTURE: ContextVar[str] = ContextVar("adyen_structure", default="Request")


class AdyenDialect:
    idempotency_header = "Idempotency-Key"
    replay_header = "idempotency-key-replayed"

    def authenticate(self, request: web.Request) -> str:
        """The API key (or the web-service user of Basic auth) is the namespace; a
        Checkout API path below the oldest version imitated is a 404 before anything
        else (the Disputes API has one version, in its fixed path)."""
        version = int(request.match_info.get("version", MIN_VERSION))
        if version < MIN_VERSION:
            raise AdyenError(f"Checkout API v{version} is not imitated: use v{MIN_VERSION} "
                             "or newer in the path, for example /checkout/v71/payments.",
                             code="000", status=404, error_type="configuration")
        if provider_path(request).startswith(REPORTS_PATH):
            # A report user (report@Company.{CompanyAccount}) whose password is the API
            # key the payments were made with.
            if reports.company_account(request) is None:
                raise AdyenError("HTTP Status Response - Unauthorized: reports are "
                                 "downloaded with a report user's Basic credentials "
                                 "(report@Company.YourCompany, and here the API key as "
                                 "its password).", code="000", status=401,
                                 error_type="security")
            return tenant(basic_credentials(request)[1])
        key = request.headers.get("X-API-Key", "").strip() or basic_credentials(request)[0]
        if not key:
            raise AdyenError("HTTP Status Response - Unauthorized", code="000", status=401,
                             error_type="security")
        return tenant(key)

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        structure = STRUCTURES.get(schema or "", "Request")
        _STRUCTURE.set(structure)
        if request.method in ("GET", "DELETE"):  # /storedPaymentMethods: the query
            return dict(request.query)
        data = wire.parse_json(request.get(RAW_BODY, b""), request.content_type)
        if not isinstance(data, dict):
            raise wire.unparsable(f"Unable to parse the request: expected a JSON object "
                                  f"({structure}), got {type(data).__name__}.")
        return data

    def invalid(self, violation: Violation) -> ApiError:
        return wire.violation_error(violation, _STRUCTURE.get())

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        # Adyen repeats the pspReference in a header; its SDKs read an error's from there.
        psp = body.get("pspReference") if isinstance(body, Mapping) else None
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        if isinstance(psp, str):
            headers["pspReference"] = psp
        return web.Response(body=wire.dumps(body), status=status, headers=headers)

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        response = self.respond(wire.error_body(error, psp_of(request.get(REQUEST_ID, ""))),
                                request, error.status)
        if error.code == "704" and error.status == 409:
            response.headers["transient-error"] = "true"
        return response

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (AdyenError(
                    f"request already processed or in progress: the Idempotency-Key '{key}' "
                    "was first used with a different request. Use a new key for a new "
                    "request.", code="704", status=422),
                AdyenError("request already processed or in progress", code="704",
                           status=409))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        return json_fingerprint(request.method, provider_path(request), params)


def psp_of(request_id: str) -> str:
    """The pspReference an error answer carries (Adyen gives every request one)."""
    return (request_id.upper() + "0000000000000000")[:16]
