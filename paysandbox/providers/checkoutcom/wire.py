"""Checkout.com's wire format: JSON in, Checkout.com's payment objects out.

Also the one place Checkout.com's error envelope is built (`{"request_id", "error_type",
"error_codes"}`, or an empty body for 401 and 404), and its webhook signature
(`Cko-Signature`: HMAC-SHA256 of the raw body keyed by the webhook's secret key, hex).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from paysandbox.contracts import ContractViolation, Violation, check
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError
from paysandbox.providers.base import data_table
from paysandbox.providers.checkoutcom.magic import RESPONSE_CODES
from paysandbox.webhooks.dispatcher import Signed

EVENT_VERSION = "1.0.0"

_B32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"abcdefghijklmnopqrstuvwxyz234567")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).translate(_B32).decode()[:26]


def new_id(prefix: str) -> str:
    """Ids shaped like Checkout.com's: a type prefix and 26 lowercase base32 characters."""
    return f"{prefix}_{_b32(random.randbytes(17))}"


def secret_id(prefix: str) -> str:
    """An id shaped like `new_id` that is also a secret (a hosted page's token)."""
    return f"{prefix}_{_b32(secrets.token_bytes(17))}"


def derived_id(prefix: str, *parts: object) -> str:
    """A stable id for something that follows from others (an action of a payment)."""
    return f"{prefix}_{_b32(hashlib.sha256(':'.join(map(str, parts)).encode()).digest())}"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- requests -------------------------------------------------------------------------

class Invalid(ApiError):
    """Checkout.com's 422 `request_invalid` with its list of error codes."""

    status = 422
    kind = "invalid_request"

    def __init__(self, *codes: str, error_type: str = "request_invalid",
                 status: int | None = None) -> None:
        super().__init__(", ".join(codes), code=codes[0] if codes else None, status=status,
                         extra={"error_codes": list(codes), "error_type": error_type})


#: What Checkout.com calls a field in its error codes, where it is not the field's name.
_FIELD_CODES = {
    ("source",): "payment_source",
    ("source", "type"): "payment_source_type",
    ("source", "number"): "card_number",
    ("source", "expiry_month"): "card_expiry_month",
    ("source", "expiry_year"): "card_expiry_year",
    ("source", "name"): "card_holder",
    ("source", "cvv"): "cvv",
    ("source", "token"): "token",
    ("3ds",): "three_ds",
    ("limit",): "paging_limit",  # GET /disputes: the spec's PagingError codes
    ("skip",): "paging_skip",
}


def field_code(path: Sequence[str | int]) -> str:
    key = tuple(str(p) for p in path)
    if key in _FIELD_CODES:
        return _FIELD_CODES[key]
    return "_".join(p.replace("3ds", "three_ds") for p in key) or "request"


def violation_error(v: Violation) -> Invalid:
    name = field_code(v.path)
    return Invalid(f"{name}_required" if v.kind == "missing" else f"{name}_invalid")


def validate(data: Any, contract: str) -> dict[str, Any]:
    """A parsed JSON body checked against its contract (paysandbox/contracts_data/checkoutcom/); in
    strict mode, or when it cannot be served, Checkout.com's 422 naming the field."""
    if not isinstance(data, dict):
        raise Invalid("request_body_malformed")
    try:
        checked: dict[str, Any] = check("checkoutcom", contract, data)
    except ContractViolation as exc:
        raise violation_error(exc.violation) from None
    return checked


# -- responses ------------------------------------------------------------------------

_SCHEMES = {"visa": "Visa", "mastercard": "Mastercard", "amex": "Amex",
            "discover": "Discover", "jcb": "JCB", "diners": "Diners Club International",
            "unionpay": "China UnionPay", "maestro": "Maestro"}


def scheme(brand: str) -> str:
    return _SCHEMES.get(brand, brand.capitalize())


def is_verification(p: Payment) -> bool:
    return bool(p.extra.get("verification"))


def status(p: Payment, *, fresh: bool = False) -> str:
    """The payment's `status` as Checkout.com reports it. `fresh` is the answer to the
    request that made it: an auto-captured payment is "Authorized" there and captured
    right after, as in the real API."""
    s = p.status
    if s in (Status.CREATED, Status.REQUIRES_ACTION, Status.PENDING):
        return "Pending"
    if s is Status.FAILED:
        return "Declined"
    if is_verification(p) and s in (Status.AUTHORIZED, Status.CAPTURED):
        return "Card Verified"
    if s is Status.AUTHORIZED or (fresh and s is Status.CAPTURED):
        return "Authorized"
    if s is Status.CAPTURED:
        return "Partially Captured" if p.amount_captured < p.amount_authorized else "Captured"
    return {Status.PARTIALLY_REFUNDED: "Partially Refunded", Status.REFUNDED: "Refunded",
            Status.VOIDED: "Voided", Status.EXPIRED: "Expired"}[s]


def codes() -> Mapping[str, Mapping[str, str]]:
    return data_table(__name__)


def decline(p: Payment) -> tuple[str, str]:
    """(response_code, response_summary) of a declined payment."""
    if p.decline_code is not None:  # a native code: a test value or a scenario
        known = RESPONSE_CODES.get(p.decline_code)
        return p.decline_code, known.summary if known else "Declined"
    row = codes()[(p.decline or DeclineReason.GENERIC_DECLINE).value]
    return row["response_code"], row["response_summary"]


def source(p: Payment, *, last4: str = "last4") -> dict[str, Any] | None:
    """The card source; webhooks spell the last four digits `last_4`, the API `last4`."""
    c = p.card
    if c is None:
        return None
    x = p.extra
    out: dict[str, Any] = {
        "id": x.get("source_id"), "type": "card", "expiry_month": c.exp_month,
        "expiry_year": c.exp_year, "scheme": scheme(c.brand), last4: c.last4,
        "fingerprint": c.fingerprint, "bin": c.bin, "card_type": c.funding.upper(),
        "card_category": "CONSUMER", "issuer_country": c.country,
        "avs_check": "S", "cvv_check": "Y" if x.get("cvv") else "",
    }
    if x.get("card_name"):
        out["name"] = x["card_name"]
    return out


def _href(p: Payment, path: str = "") -> dict[str, str]:
    return {"href": f"{p.extra.get('base', '')}/payments/{p.id}{path}"}


def links(p: Payment, *, details: bool = False) -> dict[str, Any]:
    """A payment's `_links`; the 202 of a payment awaiting 3DS has only `self` and
    `redirect`, its details have `actions` too."""
    out: dict[str, Any] = {"self": _href(p)}
    if p.status is not Status.REQUIRES_ACTION or details:
        out["actions"] = _href(p, "/actions")
    if p.status is Status.REQUIRES_ACTION:
        out["redirect"] = {"href": p.extra.get("redirect")}
        return out
    if is_verification(p):
        return out
    if p.status is Status.AUTHORIZED:
        out["capture"] = _href(p, "/captures")
        out["void"] = _href(p, "/voids")
    if p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED) and p.amount_refundable:
        out["refund"] = _href(p, "/refunds")
    return out


def three_ds(p: Payment) -> dict[str, Any] | None:
    if not p.extra.get("three_ds"):
        return None
    challenged = any(h.status is Status.REQUIRES_ACTION for h in p.history)
    failed = p.decline is DeclineReason.AUTHENTICATION_FAILED
    out: dict[str, Any] = {"downgraded": p.decline_code == "20150" or False,
                           "enrolled": "N" if p.decline_code == "20150" else "Y"}
    if p.status is not Status.REQUIRES_ACTION:
        out["authentication_response"] = "N" if failed else "Y"
        out["challenged"] = challenged
        if not failed:
            out["eci"] = "05"
    return out


def balances(p: Payment) -> dict[str, int]:
    authorized = 0 if is_verification(p) else p.amount_authorized
    return {
        "total_authorized": authorized,
        "total_voided": authorized if p.status is Status.VOIDED else 0,
        "available_to_void": authorized if p.status is Status.AUTHORIZED else 0,
        "total_captured": p.amount_captured,
        "available_to_capture": p.amount_capturable if not is_verification(p) else 0,
        "total_refunded": p.amount_refunded,
        "available_to_refund": p.amount_refundable,
    }


def _outcome_fields(p: Payment) -> dict[str, Any]:
    if p.status is Status.FAILED:
        code, summary = decline(p)
        return {"response_code": code, "response_summary": summary}
    return {"auth_code": p.extra.get("auth_code"), "response_code": "10000",
            "response_summary": "Approved"}


def _common(p: Payment, *keys: str) -> dict[str, Any]:
    """The request's `reference` and `customer` as given back, and the other `keys`."""
    out: dict[str, Any] = {}
    x = p.extra
    for key in ("reference", "customer", *keys):
        if x.get(key) is not None:
            out[key] = x[key]
    return out


def customer(namespace: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The payment's `customer` as the API answers it: the request's, with the `cus_`
    id of the customer it names (the same email is the same customer, per key)."""
    out: dict[str, Any] = {"id": given.get("id") or derived_id(
        "cus", namespace, given.get("email") or given.get("name") or new_id("cus"))}
    for key in ("email", "name", "phone"):
        if given.get(key) is not None:
            out[key] = given[key]
    return out


def created(p: Payment) -> dict[str, Any]:
    """The answer to `POST /payments`: 201 when processed, 202 when pending 3DS."""
    if p.status in (Status.REQUIRES_ACTION, Status.PENDING, Status.CREATED):
        out: dict[str, Any] = {"id": p.id, "status": "Pending", **_common(p)}
        tds = three_ds(p)
        if tds is not None:
            out["3ds"] = tds
        out["_links"] = links(p)
        return out
    approved = p.status is not Status.FAILED
    out = {
        "id": p.id,
        "action_id": action_id(p, 0, "authorization"),
        "amount": p.amount,
        "currency": p.currency,
        "approved": approved,
        "status": status(p, fresh=True),
        **_outcome_fields(p),
    }
    tds = three_ds(p)
    if tds is not None:
        out["3ds"] = tds
    out["risk"] = {"flagged": p.decline_code in ("40101", "40108")}
    out["source"] = source(p)
    out.update(_common(p))
    out["processed_on"] = iso(p.history[-1].at if p.history else p.created)
    out["scheme_id"] = p.extra.get("scheme_id")
    out["processing"] = processing(p)
    if approved and p.status is Status.AUTHORIZED and not is_verification(p):
        out["expires_on"] = iso(p.created + 7 * 86400)
    out["_links"] = links(p)
    return out


def processing(p: Payment) -> dict[str, Any]:
    return {"acquirer_transaction_id": p.extra.get("acquirer_transaction_id"),
            "retrieval_reference_number": p.extra.get("retrieval_reference_number")}


def details(p: Payment, notes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """`GET /payments/{id}`."""
    out: dict[str, Any] = {
        "id": p.id,
        "requested_on": iso(p.created),
        "source": source(p),
        "amount": p.amount,
        "currency": p.currency,
        "payment_type": p.extra.get("payment_type", "Regular"),
        **_common(p, "description"),
        "approved": p.status not in (Status.FAILED, Status.REQUIRES_ACTION, Status.PENDING,
                                     Status.CREATED),
        "status": status(p),
    }
    tds = three_ds(p)
    if tds is not None:
        out["3ds"] = tds
    out["risk"] = {"flagged": p.decline_code in ("40101", "40108")}
    out["metadata"] = dict(p.extra.get("metadata") or {})
    out["balances"] = balances(p)
    if p.status not in (Status.REQUIRES_ACTION, Status.PENDING, Status.CREATED):
        out["scheme_id"] = p.extra.get("scheme_id")
        out["actions"] = [{"id": a["id"], "type": a["type"], "response_code": a["response_code"],
                           "response_summary": a["response_summary"]}
                          for a in actions(p, notes)[::-1]]
        out["processing"] = processing(p)
    out["_links"] = links(p, details=True)
    return out


def action_id(p: Payment, index: int, kind: str) -> str:
    """The authorization shares the payment's suffix, as Checkout.com's do; the others
    are derived from their place in the payment's history."""
    if kind == "authorization":
        return "act_" + p.id.removeprefix("pay_")
    return derived_id("act", p.id, index, kind)


def _action(p: Payment, aid: str, type_: str, at: float, amount: int,
            note: Mapping[str, Any] | None, *, declined: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": aid, "type": type_, "processed_on": iso(at),
                           "amount": amount, "approved": not declined}
    if declined:
        code, summary = decline(p)
        out.update(response_code=code, response_summary=summary)
    else:
        if type_ in ("Authorization", "Card Verification"):
            out["auth_code"] = p.extra.get("auth_code")
        out.update(response_code="10000", response_summary="Approved")
    reference = (note or {}).get("reference") if type_ not in (
        "Authorization", "Card Verification") else p.extra.get("reference")
    if reference is not None:
        out["reference"] = reference
    out["processing"] = processing(p)
    meta = (note or {}).get("metadata")
    if meta:
        out["metadata"] = dict(meta)
    return out


def actions(p: Payment, notes: Mapping[str, Mapping[str, Any]], *,
            since: int = 0) -> list[dict[str, Any]]:
    """The payment's actions, oldest first, from its history (from entry `since`)."""
    found: list[dict[str, Any]] = []
    for i, h in enumerate(p.history):
        if i < since:
            continue
        if h.action in ("authorize", "complete"):
            if h.status in (Status.REQUIRES_ACTION, Status.PENDING):
                continue
            aid = action_id(p, i, "authorization")
            kind = "Card Verification" if is_verification(p) else "Authorization"
            if h.status is Status.FAILED:
                found.append(_action(p, aid, kind, h.at, p.amount, None, declined=True))
                continue
            found.append(_action(p, aid, kind, h.at, p.amount_authorized, None))
            if h.status is Status.CAPTURED and not is_verification(p):
                cid = action_id(p, i, "capture")
                found.append(_action(p, cid, "Capture", h.at, h.amount or p.amount, None))
        elif h.action == "capture":
            aid = action_id(p, i, "capture")
            found.append(_action(p, aid, "Capture", h.at, h.amount or 0, notes.get(aid)))
        elif h.action == "void":
            aid = action_id(p, i, "void")
            found.append(_action(p, aid, "Void", h.at, p.amount_authorized, notes.get(aid)))
        elif h.action == "refund":
            aid = action_id(p, i, "refund")
            found.append(_action(p, aid, "Refund", h.at, h.amount or 0, notes.get(aid)))
    return found


def accepted(p: Payment, aid: str, reference: str | None) -> dict[str, Any]:
    """The 202 answer to a capture, refund or void."""
    out: dict[str, Any] = {"action_id": aid}
    if reference is not None:
        out["reference"] = reference
    out["_links"] = {"payment": _href(p)}
    return out


# -- webhooks -------------------------------------------------------------------------

def event(event_id: str, type_: str, created_on: float, p: Payment,
          action: Mapping[str, Any] | None) -> dict[str, Any]:
    """A webhook in the shape Checkout.com's workflows send."""
    base = p.extra.get("base", "")
    data: dict[str, Any] = {"id": p.id}
    if action is not None:
        data["action_id"] = action["id"]
        data["amount"] = action["amount"]
        for key in ("auth_code", "response_code", "response_summary"):
            if key in action:
                data[key] = action[key]
    else:
        data["amount"] = p.amount
    data["currency"] = p.currency
    data.update(_common(p))
    data["metadata"] = dict(p.extra.get("metadata") or {})
    data["payment_type"] = p.extra.get("payment_type", "Regular")
    data["processed_on"] = iso(created_on)
    data["processing"] = processing(p)
    data["risk"] = {"flagged": p.decline_code in ("40101", "40108")}
    tds = three_ds(p)
    if tds is not None:
        data["3ds"] = tds
    data["source"] = source(p, last4="last_4")
    data["balances"] = balances(p)
    data["event_links"] = {"payment": f"{base}/payments/{p.id}",
                           "payment_actions": f"{base}/payments/{p.id}/actions"}
    return {
        "id": event_id,
        "type": type_,
        "version": EVENT_VERSION,
        "created_on": iso(created_on),
        "data": data,
        "_links": {"self": {"href": f"{base}/workflows/events/{event_id}"},
                   "subject": {"href": f"{base}/workflows/events/subject/{p.id}"},
                   "payment": {"href": f"{base}/payments/{p.id}"},
                   "payment_actions": {"href": f"{base}/payments/{p.id}/actions"}},
    }


class CheckoutWebhooks:
    """`Cko-Signature` is the hex HMAC-SHA256 of the raw body keyed by the secret key."""

    # "Receive webhooks": a failed webhook is resent up to eight times, after 5, 10,
    # 15 and 30 minutes, 1, 4, 12 and 12 hours (https://www.checkout.com/docs/workflows);
    # virtual seconds.
    retry_schedule: Sequence[float] = (300.0, 600.0, 900.0, 1800.0, 3600.0, 4 * 3600.0,
                                       12 * 3600.0, 12 * 3600.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/json; charset=utf-8",
                             "Cko-Signature": signature(body, secret)})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- errors ---------------------------------------------------------------------------

_ERROR_TYPES = {403: "action_not_allowed", 409: "conflict", 413: "request_invalid",
                415: "request_invalid", 422: "request_invalid", 429: "too_many_requests"}
_CODES_BY_STATUS = {413: "request_too_large", 415: "content_type_unsupported",
                    429: "too_many_requests", 500: "internal_error", 502: "bad_gateway",
                    503: "service_unavailable", 504: "gateway_timeout"}


def error_body(exc: ApiError, request_id: str) -> bytes:
    """401 and 404 have an empty body, as the real API's do; the rest the envelope."""
    if exc.status in (401, 404):
        return b""
    codes_ = exc.extra.get("error_codes")
    if codes_ is None:
        code = exc.code if exc.code and exc.code != "simulator_error" else \
            _CODES_BY_STATUS.get(exc.status, "request_invalid")
        codes_ = [code] if exc.code != "simulator_error" else ["simulator_error"]
    error_type = exc.extra.get("error_type") or _ERROR_TYPES.get(
        exc.status, "internal_error" if exc.status >= 500 else "request_invalid")
    return dumps({"request_id": request_id, "error_type": error_type, "error_codes": codes_})
