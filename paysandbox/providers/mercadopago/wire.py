"""Mercado Pago's wire format: JSON in, Mercado Pago's payment objects out.

Also the one place its error envelope is built
(`{"message", "error", "status", "cause": [{"code", "description", "data"}]}`) and its
webhook signature: `x-signature: ts=<seconds>,v1=<hex>` where v1 is HMAC-SHA256, keyed
by the application's secret, of the manifest `id:<data.id>;request-id:<x-request-id>;
ts:<ts>;`, as `mercadopago.webhook.WebhookSignatureValidator` checks it.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from paysandbox.contracts import Violation
from paysandbox.core.disputes import DisputeKind, DisputeStatus
from paysandbox.core.money import currency, to_major
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Refund, Status
from paysandbox.errors import ApiError, InvalidRequest
from paysandbox.providers.base import data_table
from paysandbox.webhooks.dispatcher import Event, Signed

#: Mercado Pago's API answers in its own zone (GMT-4) with milliseconds.
ZONE = timezone(timedelta(hours=-4))

_ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "request_entity_too_large",
                415: "unsupported_media_type", 429: "too_many_requests",
                500: "internal_server_error", 502: "bad_gateway",
                503: "service_unavailable", 504: "gateway_timeout"}

#: payment_method_id -> (payment_type_id, currency, our canonical method).
METHODS: Mapping[str, tuple[str, str | None, str]] = {
    "pix": ("bank_transfer", "BRL", "pix"),
    "bolbradesco": ("ticket", "BRL", "boleto"),
    "pec": ("ticket", "BRL", "boleto"),
    "oxxo": ("ticket", "MXN", "oxxo"),
    "paycash": ("ticket", "MXN", "oxxo"),
    **{card: ("credit_card", None, "card") for card in (
        "visa", "master", "amex", "elo", "hipercard", "cabal", "naranja", "diners",
        "cencosud", "argencard", "cmr", "tarshop")},
    **{card: ("debit_card", None, "card") for card in (
        "debvisa", "debmaster", "debelo", "debcabal", "maestro")},
}


def new_id() -> int:
    """Numeric ids like Mercado Pago's (eleven digits)."""
    return random.randint(10**10, 10**11 - 1)


def date(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, ZONE).isoformat(timespec="milliseconds")


def parse_date(text: str) -> float:
    """`yyyy-MM-dd'T'HH:mm:ss.SSSz` (an offset is required) -> epoch seconds."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidRequest(
            "The following parameters must be valid date and format "
            "(yyyy-MM-dd'T'HH:mm:ssz) date_of_expiration. For example "
            "2030-05-30T23:59:59.000-04:00.", param="date_of_expiration", code="23")
    return parsed.timestamp()


def to_minor(value: float | int, code: str) -> int:
    """transaction_amount (major units) -> minor units; 4037 if it has too many decimals."""
    units = currency(code).minor_units
    try:
        exact = Decimal(str(value)).scaleb(units)
    except InvalidOperation:
        exact = Decimal("NaN")
    if not exact.is_finite() or exact != exact.to_integral_value() or exact <= 0:
        raise InvalidRequest(
            f"Invalid value for transaction_amount: {value}. Use a positive amount with at "
            f"most {units} decimal places for {code}.", param="transaction_amount",
            code="4037")
    return int(exact)


def amount(minor: int, code: str) -> float | int:
    major = to_major(minor, code)
    return int(major) if major == major.to_integral_value() else float(major)


# -- requests -------------------------------------------------------------------------

def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A JSON body -> parameters (checked against the route's contract by the shared
    envelope); Mercado Pago's 400 naming the problem if it is not a JSON object."""
    if not raw.strip():
        data: Any = {}
    else:
        if content_type not in ("application/json", "application/octet-stream", "text/plain"):
            raise InvalidRequest(f"Invalid content type {content_type}: Mercado Pago's API "
                                 "takes JSON bodies (Content-Type: application/json).",
                                 code="1")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            reason = "is not valid UTF-8" if "utf-8" in str(exc).lower() else "is not valid JSON"
            raise InvalidRequest(f"Params Error: the request body {reason} ({exc}). Send a "
                                 'JSON object, for example {"transaction_amount": 100}.',
                                 code="1") from None
    if not isinstance(data, dict):
        raise InvalidRequest("Params Error: the request body must be a JSON object.", code="1")
    return data


_WORDS = {"integer": "an integer", "number": "a number", "string": "a string",
          "boolean": "a boolean", "object": "an object", "array": "an array"}


def violation_error(v: Violation) -> InvalidRequest:
    param = v.dotted
    if v.kind == "missing":
        return InvalidRequest(f"{param} attribute can't be null", param=param, code="1")
    if v.kind == "unknown":
        return InvalidRequest(f"The name of the following parameters is wrong : [{param}]",
                              param=param, code="8")
    if param == "transaction_amount" or param == "amount":
        return InvalidRequest(f"Invalid value for {param}: {v.message}. Use a positive "
                              "number, for example 100.5.", param=param, code="4037")
    if v.kind == "type":
        expected = v.expected if isinstance(v.expected, str) else "value"
        if isinstance(v.expected, list):
            expected = " or ".join(_WORDS.get(str(e), str(e)) for e in v.expected
                                   if e != "null")
        return InvalidRequest(f"{param} must be {_WORDS.get(expected, expected)}",
                              param=param, code="1")
    return InvalidRequest(f"Invalid {param}: {v.message}", param=param, code="1")


# -- responses ------------------------------------------------------------------------

def codes() -> Mapping[str, Mapping[str, Any]]:
    return data_table(__name__)


_PENDING_DETAIL = {"pix": "pending_waiting_transfer", "boleto": "pending_waiting_payment",
                   "oxxo": "pending_waiting_payment", "card": "pending_contingency"}


def status(p: Payment) -> tuple[str, str]:
    """(status, status_detail) as Mercado Pago names them."""
    s = p.status
    if p.disputes:
        back = charged_back(p)
        if back is not None:
            return back
    if s is Status.CAPTURED:
        return "approved", "accredited"
    if s is Status.PARTIALLY_REFUNDED:
        return "approved", "partially_refunded"
    if s is Status.REFUNDED:
        return "refunded", "refunded"
    if s is Status.AUTHORIZED:
        return "authorized", "pending_capture"
    if s is Status.PENDING:
        return ("in_process" if p.method == "card" else "pending"), _PENDING_DETAIL[p.method]
    if s in (Status.CREATED, Status.REQUIRES_ACTION):
        return "pending", "pending_challenge" if s is Status.REQUIRES_ACTION else "pending"
    if s is Status.EXPIRED:
        return "cancelled", "expired"
    if s is Status.VOIDED:
        why = next((h.detail for h in reversed(p.history) if h.action == "void"), None)
        return "cancelled", why if why in ("expired", "by_collector") else "by_payer"
    return "rejected", decline_detail(p)


def charged_back(p: Payment) -> tuple[str, str] | None:
    """A payment with a chargeback is `charged_back`: in_process while the chargeback
    is open, reimbursed once the seller is covered, settled once it is lost."""
    found = [d for d in p.disputes if d.kind is DisputeKind.CHARGEBACK]
    if not found:
        return None
    latest = max(found, key=lambda d: d.created)
    if latest.is_open:
        return "charged_back", "in_process"
    return "charged_back", "reimbursed" if latest.status is DisputeStatus.WON else "settled"


def decline_detail(p: Payment) -> str:
    if p.decline_code is not None:  # a native status_detail (a test name or a scenario)
        return p.decline_code
    if p.method != "card":
        return "rejected_by_bank"
    reason = p.decline or DeclineReason.GENERIC_DECLINE
    return str(codes()[reason.value]["status_detail"])


def _when(p: Payment, *actions: str) -> float | None:
    return next((h.at for h in p.history if h.action in actions and h.status in (
        Status.CAPTURED,)), None)


def user_id(token: str) -> int:
    """The account a test token belongs to: its last segment, as Mercado Pago's tokens
    end with the user id; otherwise a stable number derived from the token."""
    last = token.rsplit("-", 1)[-1]
    if last.isdigit() and 0 < len(last) <= 12:
        return int(last)
    return int(hashlib.sha256(token.encode()).hexdigest()[:12], 16) % 10**9


def payment(p: Payment) -> dict[str, Any]:
    x = p.extra
    st, detail = status(p)
    code = p.currency
    captured = p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)
    # A partial capture leaves the payment at the amount captured, as Mercado Pago answers.
    total = amount(p.amount_captured if captured else p.amount, code)
    last = p.history[-1].at if p.history else p.created
    approved = _when(p, "authorize", "complete", "capture")
    method_id = x.get("payment_method_id", "")
    issuer = None if x.get("issuer_id") is None else str(x["issuer_id"])  # "24", as MP
    details: dict[str, Any] = {
        "acquirer_reference": None, "bank_transfer_id": None,
        "external_resource_url": x.get("external_resource_url"),
        "financial_institution": None,
        "installment_amount": total if p.method == "card" else 0,
        "net_received_amount": amount(p.amount_captured - p.amount_refunded, code)
        if captured else 0,
        "overpaid_amount": 0, "payable_deferral_period": None,
        "payment_method_reference_id": x.get("reference"),
        "total_paid_amount": total, "transaction_id": None,
    }
    out: dict[str, Any] = {
        "id": int(p.id),
        "date_created": date(p.created),
        "date_approved": date(approved),
        "date_last_updated": date(last),
        "date_of_expiration": date(x.get("expires_at")),
        "money_release_date": date(approved),
        "money_release_status": "released" if captured else None,
        "operation_type": "regular_payment",
        "issuer_id": issuer,
        "payment_method_id": method_id,
        "payment_type_id": x.get("payment_type_id"),
        "payment_method": {"id": method_id, "type": x.get("payment_type_id"),
                           "issuer_id": issuer},
        "status": st,
        "status_detail": detail,
        "currency_id": code,
        "description": p.description,
        "live_mode": False,
        "sponsor_id": None,
        "authorization_code": x.get("authorization_code") if approved else None,
        "collector_id": x.get("collector_id"),
        "payer": x.get("payer", {}),
        "metadata": x.get("metadata", dict(p.metadata)),
        "additional_info": x.get("additional_info", {}),
        "order": {},
        "external_reference": x.get("external_reference"),
        "transaction_amount": total,
        "transaction_amount_refunded": amount(p.amount_refunded, code),
        "coupon_amount": 0,
        "differential_pricing_id": None,
        "deduction_schema": None,
        "installments": x.get("installments", 1),
        "transaction_details": details,
        "fee_details": [],
        "charges_details": [],
        "captured": captured,
        "binary_mode": x.get("binary_mode", False),
        "call_for_authorize_id": None,
        "statement_descriptor": x.get("statement_descriptor"),
        "card": x.get("card", {}),
        "notification_url": x.get("notification_url"),
        "callback_url": x.get("callback_url"),
        "refunds": [refund(p, r) for r in p.refunds],
        "processing_mode": "aggregator",
        "merchant_account_id": None,
        "merchant_number": None,
        "acquirer_reconciliation": [],
        "point_of_interaction": _point_of_interaction(p),
    }
    if x.get("barcode"):
        out["barcode"] = {"content": x["barcode"]}
        details["barcode"] = {"content": x["barcode"]}
    if x.get("digitable_line"):
        details["digitable_line"] = x["digitable_line"]
    return out


def _point_of_interaction(p: Payment) -> dict[str, Any]:
    x = p.extra
    if p.method != "pix":
        return {"type": "UNSPECIFIED", "business_info": {"unit": "online_payments",
                                                         "sub_unit": "default"}}
    return {
        "type": "PIX",
        "business_info": {"unit": "online_payments", "sub_unit": "default"},
        "location": {"source": None, "state_id": None},
        "application_data": {"name": None, "version": None},
        "transaction_data": {
            "qr_code": x.get("qr_code"),
            "qr_code_base64": x.get("qr_code_base64"),
            "ticket_url": x.get("external_resource_url"),
            "transaction_id": None, "bank_transfer_id": None, "financial_institution": None,
            "bank_info": {"payer": {"id": None, "account_id": None, "long_name": None},
                          "collector": {"account_id": None, "long_name": None,
                                        "account_holder_name": "Payments Sandbox",
                                        "transfer_account_id": None},
                          "is_same_bank_account_owner": None, "origin_bank_id": None,
                          "origin_wallet_id": None},
            "infringement_notification": {"type": None, "status": None},
            "e2e_id": None,
        },
    }


def refund(p: Payment, r: Refund) -> dict[str, Any]:
    value = amount(r.amount, p.currency)
    return {
        "id": int(r.id),
        "payment_id": int(p.id),
        "amount": value,
        "metadata": dict(r.metadata),
        "source": {"name": "Payments Sandbox", "id": str(p.extra.get("collector_id", "")),
                   "type": "collector"},
        "date_created": date(r.created),
        "unique_sequence_number": None,
        "refund_mode": "standard",
        "adjustment_amount": 0,
        "status": "approved",
        "reason": r.reason,
        "labels": [],
        "amount_refunded_to_payer": value,
        "additional_data": None,
        "partition_details": [],
        "external_refund_id": None,
        "expiration_date": None,
    }


def card_token(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- errors ---------------------------------------------------------------------------

def error_body(exc: ApiError) -> dict[str, Any]:
    message = exc.message
    if exc.kind == "route_missing":
        closest = exc.extra.get("closest") or []
        message += (" See https://www.mercadopago.com/developers/en/reference for the "
                    "routes Mercado Pago offers.")
        if closest:
            message += f" Did you mean: {', '.join(closest)}?"
    code: int | str = exc.code or _DEFAULT_CAUSE.get(exc.status, exc.status)
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    return {"message": message, "error": _ERROR_NAMES.get(exc.status, "bad_request"),
            "status": exc.status,
            "cause": [{"code": code, "description": message, "data": None}]}


#: Cause codes for errors raised without one (route missing, body too large, faults).
_DEFAULT_CAUSE = {400: 1, 401: 401, 404: 404, 413: 1}


# -- webhooks -------------------------------------------------------------------------

def notification(event_id: int, action: str, payment_id: str, created: float,
                 user_id: int, topic: str = "payment") -> dict[str, Any]:
    """A notification naming the object it is about (`data.id`): a payment, or a
    chargeback (topic `chargebacks`)."""
    return {"action": action, "api_version": "v1", "data": {"id": payment_id},
            "date_created": datetime.fromtimestamp(created, UTC).isoformat(
                timespec="seconds").replace("+00:00", "Z"),
            "id": event_id, "live_mode": False, "type": topic, "user_id": user_id}


def with_query(url: str, data_id: str, topic: str = "payment") -> str:
    """Mercado Pago adds `data.id` and `type` to the URL it notifies."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True),
             ("data.id", data_id), ("type", topic)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def signature_header(data_id: str, request_id: str, secret: str, ts: int) -> str:
    manifest = f"id:{data_id.lower()};request-id:{request_id};ts:{ts};"
    v1 = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={v1}"


class MercadoPagoWebhooks:
    """Signs each attempt with a fresh x-request-id, as Mercado Pago does."""

    # A notification not acknowledged is sent again every 15 minutes, then further
    # apart (https://www.mercadopago.com.br/developers/en/docs/your-integrations/
    # notifications/webhooks); virtual seconds.
    retry_schedule: Sequence[float] = (900.0, 900.0, 900.0, 3600.0, 4 * 3600.0,
                                       12 * 3600.0, 24 * 3600.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        sent = orjson.loads(body)
        data_id = str(sent["data"]["id"])
        request_id = str(uuid.uuid4())
        return Signed(body, {"Content-Type": "application/json",
                             "User-Agent": f"MercadoPago WebHook v1.0 {sent.get('type')}",
                             "x-request-id": request_id,
                             "x-signature": signature_header(data_id, request_id, secret,
                                                             timestamp)})

    def accepted(self, status: int, body: bytes) -> bool:
        return status in (200, 201)

    def address(self, event: Event, url: str) -> str:
        """Where one delivery goes: the notification_url or the configured endpoint,
        with `data.id` and `type` added to its query."""
        sent = orjson.loads(event.body)
        return with_query(url, str(sent["data"]["id"]), str(sent.get("type", "payment")))
