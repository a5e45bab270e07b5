"""Razorpay's wire format: JSON bodies in, Razorpay's entities and error envelope out.

The one place the error envelope `{"error": {"code", "description", "source", "step",
"reason", "metadata", "field"}}` is built, and Razorpay's webhook signature
(`X-Razorpay-Signature`: hex HMAC-SHA256 of the raw body keyed by the webhook secret,
as `razorpay.Client().utility.verify_webhook_signature` checks it).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import string
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson

from paysandbox.contracts import ContractViolation, Violation
from paysandbox.contracts import check as check_contract
from paysandbox.core.fees import round_minor
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Refund, Status
from paysandbox.errors import ApiError, InvalidRequest
from paysandbox.providers.base import data_table
from paysandbox.providers.razorpay import magic
from paysandbox.webhooks.dispatcher import Signed

DOCS = "https://razorpay.com/docs/api"

_ALPHABET = (string.ascii_letters + string.digits).encode()
TO_BASE62 = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def new_id(prefix: str) -> str:
    """Ids shaped like Razorpay's: a type prefix and 14 base62 characters."""
    return prefix + "_" + random.randbytes(14).translate(TO_BASE62).decode()


def account_id(namespace: str) -> str:
    """A stable `acc_…` per key id, as every event of one account carries the same."""
    digest = hashlib.sha256(namespace.encode()).digest()[:14]
    return "acc_" + digest.translate(TO_BASE62).decode()


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- errors ---------------------------------------------------------------------------

def bad_request(description: str, *, field: str | None = None,
                reason: str = "input_validation_failed", source: str = "business",
                step: str = "payment_initiation", status: int = 400,
                metadata: Mapping[str, Any] | None = None) -> InvalidRequest:
    """A request Razorpay refuses, with its source, step and reason."""
    return InvalidRequest(description, param=field, status=status,
                          extra={"source": source, "step": step, "reason": reason,
                                 "metadata": dict(metadata or {})})


def not_found(field: str | None = "id") -> InvalidRequest:
    """Razorpay answers an unknown id with a 400, not a 404."""
    return bad_request("The id provided does not exist", field=field, source="NA",
                       step="NA", reason="NA")


def error_body(exc: ApiError) -> dict[str, Any]:
    if exc.status >= 500:
        code = "GATEWAY_ERROR" if exc.status in (502, 504) else "SERVER_ERROR"
    else:
        code = "BAD_REQUEST_ERROR"
    description = exc.message
    if exc.kind == "route_missing":
        closest = exc.extra.get("closest") or []
        description = ("The requested URL was not found on the server. "
                       f"{exc.message} See {DOCS} for the routes Razorpay offers."
                       + (f" Did you mean: {', '.join(closest)}?" if closest else ""))
    err: dict[str, Any] = {
        "code": code,
        "description": description,
        "source": exc.extra.get("source", "NA"),
        "step": exc.extra.get("step", "NA"),
        "reason": exc.extra.get("reason", "NA"),
        "metadata": dict(exc.extra.get("metadata") or {}),
    }
    if exc.param:
        err["field"] = exc.param
    return {"error": err}


# -- requests -------------------------------------------------------------------------

def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """A JSON body -> its parameters (checked against the route's contract after);
    Razorpay's 400 saying what to send if it is not a JSON object."""
    if content_type not in ("application/json", ""):
        raise bad_request(f"The request body must be JSON sent with Content-Type: "
                          f"application/json, not {content_type}. For example: "
                          '{"amount": 50000, "currency": "INR", "receipt": "rcpt_1"}')
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("The request body is not valid UTF-8. Send UTF-8 "
                              "encoded JSON.") from None
        raise bad_request("The request body is not valid JSON. Send a JSON object, for "
                          'example {"amount": 50000, "currency": "INR"}.') from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object, for example "
                          '{"amount": 50000, "currency": "INR"}.')
    return data


#: Query parameters of a list that are whole numbers (the rest are strings).
_LIST_INTS = frozenset({"count", "skip", "from", "to", "authorized", "year", "month",
                        "day"})


def parse_query(query: Mapping[str, str]) -> dict[str, Any]:
    """A list's query string -> its parameters, its numbers as integers."""
    params: dict[str, Any] = {}
    for key, value in query.items():
        if key in _LIST_INTS:
            if not value.lstrip("-").isdigit():
                raise bad_request(f"The {key} must be an integer.", field=key)
            params[key] = int(value)
        else:
            params[key] = value
    return params


def check(data: Mapping[str, Any], contract: str) -> None:
    """Check a request against contracts_data/razorpay/<contract>.json: in strict mode the
    first violation is Razorpay's 400 naming the field; in report mode every violation
    is recorded and the request is served unless it cannot be (a required field
    missing, a value of the wrong type)."""
    try:
        check_contract("razorpay", contract, data)
    except ContractViolation as exc:
        raise violation_error(exc.violation) from None


def violation_error(v: Violation) -> InvalidRequest:
    field = v.dotted
    if v.kind == "missing":
        return bad_request(f"{field}: is required.", field=field)
    if v.kind == "unknown":
        return bad_request(f"{field} is/are not required and should not be sent",
                           field=field, reason="extra_field_sent")
    if v.kind == "type":
        leaf = str(v.path[-1]) if v.path else field
        if v.expected == "integer" or (isinstance(v.expected, list)
                                       and "integer" in v.expected
                                       and leaf in ("amount", "count", "skip")):
            return bad_request(f"The {leaf} must be an integer.", field=field)
        expected = v.expected if isinstance(v.expected, str) else " or ".join(v.expected)
        return bad_request(f"{field}: expected {expected} but provided "
                           f"{orjson.dumps(v.shown).decode()}", field=field)
    if v.kind == "range" and field == "amount":
        return bad_request("The amount must be atleast INR 1.00", field=field)
    return bad_request(f"{field}: {v.message}", field=field)


# -- entities -------------------------------------------------------------------------

_STATUS = {
    Status.CREATED: "created",
    Status.PENDING: "created",
    Status.REQUIRES_ACTION: "created",
    Status.AUTHORIZED: "authorized",
    Status.CAPTURED: "captured",
    Status.PARTIALLY_REFUNDED: "captured",
    Status.REFUNDED: "refunded",
    Status.FAILED: "failed",
    Status.EXPIRED: "failed",
    Status.VOIDED: "failed",
}

CAPTURED = frozenset({Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})


def payment_status(p: Payment) -> str:
    return _STATUS[p.status]


def codes() -> Mapping[str, Mapping[str, str]]:
    return data_table(__name__)


def failure_fields(p: Payment) -> Mapping[str, str]:
    """Razorpay's error fields for a failed payment: a native reason first (test
    amounts, expiry, cancellation), else the canonical reason's mapping."""
    natives = magic.NATIVE_FAILURES
    if p.status is Status.EXPIRED:
        return natives["payment_timed_out"]
    if p.status is Status.VOIDED:
        return natives["payment_cancelled"]
    if p.decline_code is not None and p.decline_code in natives:
        return natives[p.decline_code]
    reason = p.decline or DeclineReason.GENERIC_DECLINE
    return codes()[reason.value]


def _notes(notes: Mapping[str, Any]) -> Any:
    return dict(notes) if notes else []  # Razorpay renders empty notes as []


def _fee(p: Payment) -> tuple[int | None, int | None]:
    """2% plus 18% GST on it (the packaged pricing's numbers, rounded half up as the
    ledger rounds them), charged when the payment is captured."""
    if p.status not in CAPTURED:
        return None, None
    base = round_minor(Decimal(p.amount_captured) * Decimal("0.02"))
    tax = round_minor(Decimal(base) * Decimal("0.18"))
    return base + tax, tax


def payment(p: Payment) -> dict[str, Any]:
    x = p.extra
    failed = p.status in (Status.FAILED, Status.EXPIRED, Status.VOIDED)
    f = failure_fields(p) if failed else None
    fee, tax = _fee(p)
    refund_status = None
    if p.amount_refunded:
        refund_status = "full" if p.status is Status.REFUNDED else "partial"
    settled = p.status in CAPTURED or p.status is Status.AUTHORIZED
    return {
        "id": p.id,
        "entity": "payment",
        "amount": p.amount,
        "currency": p.currency,
        "status": payment_status(p),
        "order_id": x.get("order_id"),
        "invoice_id": None,
        "international": False,
        "method": "upi",
        "amount_refunded": p.amount_refunded,
        "refund_status": refund_status,
        "captured": p.status in CAPTURED,
        "description": p.description,
        "card_id": None,
        "bank": None,
        "wallet": None,
        "vpa": x.get("vpa"),
        "email": x.get("email"),
        "contact": x.get("contact"),
        "customer_id": x.get("customer_id"),
        "notes": _notes(p.metadata),
        "fee": fee,
        "tax": tax,
        "error_code": f["code"] if f else None,
        "error_description": f["description"] if f else None,
        "error_source": f["source"] if f else None,
        "error_step": f["step"] if f else None,
        "error_reason": f["reason"] if f else None,
        "acquirer_data": {"rrn": x.get("rrn") if settled else None,
                          "upi_transaction_id": x.get("upi_txn") if settled else None},
        "upi": {"payer_account_type": "bank_account", "vpa": x.get("vpa"),
                "flow": x.get("flow", "collect")},
        "created_at": int(p.created),
    }


def order(record: Mapping[str, Any], payments: Sequence[Payment]) -> dict[str, Any]:
    paid = sum(p.amount_captured for p in payments if p.status in CAPTURED)
    status = "paid" if paid else ("attempted" if payments else "created")
    return {
        "id": record["id"],
        "entity": "order",
        "amount": record["amount"],
        "amount_paid": paid,
        "amount_due": record["amount"] - paid,
        "currency": record["currency"],
        "receipt": record.get("receipt"),
        "offer_id": record.get("offer_id"),
        "status": status,
        "attempts": len(payments),
        "notes": _notes(record.get("notes") or {}),
        "created_at": record["created_at"],
    }


def refund(p: Payment, r: Refund) -> dict[str, Any]:
    return {
        "id": r.id,
        "entity": "refund",
        "amount": r.amount,
        "currency": p.currency,
        "payment_id": p.id,
        "notes": _notes(r.metadata),
        "receipt": r.reason,  # the refund's receipt is kept where a reason would be
        "acquirer_data": {"rrn": None},
        "created_at": int(r.created),
        "batch_id": None,
        "status": "processed",
        "speed_processed": "normal",
        "speed_requested": "normal",
    }


def collection(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"entity": "collection", "count": len(items), "items": items}


def window(items: Sequence[Any], params: Mapping[str, Any],
           created: Callable[[Any], float]) -> list[Any]:
    """The part of a list a request asks for: Razorpay's `from`/`to` (unix seconds) and
    `skip`/`count` (default 10)."""
    if "from" in params or "to" in params:
        lo, hi = params.get("from", 0), params.get("to", float("inf"))
        items = [i for i in items if lo <= created(i) <= hi]
    skip = params.get("skip", 0)
    return list(items[skip:skip + params.get("count", 10)])


# -- webhooks -------------------------------------------------------------------------

def event(namespace: str, type_: str, created: float,
          entities: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "entity": "event",
        "account_id": account_id(namespace),
        "event": type_,
        "contains": list(entities),
        "payload": {k: {"entity": v} for k, v in entities.items()},
        "created_at": int(created),
    }


#: Event ids by the body they were rendered into: Razorpay sends the id in the
#: `X-Razorpay-Event-Id` header, not in the body, and a scheme signs bodies only.
_EVENT_IDS: OrderedDict[bytes, str] = OrderedDict()
_EVENT_IDS_MAX = 50_000


def remember_event_id(body: bytes, event_id: str) -> bytes:
    _EVENT_IDS[body] = event_id
    while len(_EVENT_IDS) > _EVENT_IDS_MAX:
        _EVENT_IDS.popitem(last=False)
    return body


def event_id_of(body: bytes) -> str:
    found = _EVENT_IDS.get(body)
    if found is not None:
        return found
    digest = hashlib.sha256(body).digest()[:14]
    return "evt_" + digest.translate(TO_BASE62).decode()


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class RazorpayWebhooks:
    """Razorpay signs the raw body (no timestamp) with the webhook secret."""

    # Razorpay retries a delivery that is not acknowledged with a 2xx within 5 s with
    # exponential backoff for 24 hours (https://razorpay.com/docs/webhooks/); virtual s.
    retry_schedule: Sequence[float] = (60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                                       7200.0, 14400.0, 28800.0, 28800.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/json",
                             "User-Agent": "Razorpay-Webhook/v1",
                             "X-Razorpay-Event-Id": event_id_of(body),
                             "X-Razorpay-Signature": signature(body, secret)})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300
