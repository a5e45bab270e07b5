"""Mollie's wire format: JSON in, HAL+JSON out, and back to the simulator's terms.

The one place Mollie's error envelope is built (`{"status", "title", "detail", "field",
"_links"}`, https://docs.mollie.com/overview/handling-errors), amounts are turned from
Mollie's exact-decimal strings into minor units and back, and Mollie's webhook is
shaped: a form POST carrying only `id=tr_…`, unsigned, retried on Mollie's documented
schedule (https://docs.mollie.com/overview/webhooks, "Retry schema").
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from paysandbox.contracts import Violation
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import HistoryEntry, Payment, Refund, Status
from paysandbox.errors import ApiError
from paysandbox.providers.base import data_table
from paysandbox.providers.mollie import magic
from paysandbox.webhooks.dispatcher import Signed

DOCS = "https://docs.mollie.com"
ERRORS_DOC = f"{DOCS}/overview/handling-errors"
CONTENT_TYPE = "application/hal+json"

_ALPHABET = (string.ascii_letters + string.digits).encode()
_TO_BASE62 = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))


def new_id(prefix: str, length: int = 10) -> str:
    """Ids shaped like Mollie's: `tr_7UhSN1zuXS`, `re_4qqhO89gsT`."""
    return prefix + "_" + random.randbytes(length).translate(_TO_BASE62).decode()


def profile_id(namespace: str) -> str:
    """One stable website profile per API key."""
    digest = hashlib.sha256(namespace.encode()).digest()
    return "pfl_" + digest[:10].translate(_TO_BASE62).decode()


def stable_id(prefix: str, seed: str, length: int = 10) -> str:
    """An id shaped like Mollie's that is the same every time it is read from the same
    thing (a balance of one key, a settlement of one payout)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + "_" + digest[:length].translate(_TO_BASE62).decode()


def mandate_id(payment_id: str) -> str:
    """The mandate a paid first payment made: a function of the payment's id, so the
    payment shows it whoever made it paid (providers/mollie/mandates.py)."""
    digest = hashlib.sha256(b"mandate:" + payment_id.encode()).digest()
    return "mdt_" + digest[:10].translate(_TO_BASE62).decode()


def card_fingerprint(payment_id: str) -> str:
    return hashlib.sha256(payment_id.encode()).hexdigest()[:24]


def timestamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- amounts ---------------------------------------------------------------------------

_VALUE = re.compile(r"^(\d+)(?:\.(\d+))?$")


class AmountError(ValueError):
    """An amount Mollie would refuse; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def decimals(currency: str) -> int:
    return magic.CURRENCIES[currency]


def parse_amount(amount: Mapping[str, str], where: str = "amount") -> tuple[int, str]:
    """`{"currency": "EUR", "value": "10.00"}` -> (1000, "EUR"), checked as Mollie does:
    a currency it takes, and a string with exactly that currency's decimals."""
    code = amount["currency"].upper()
    if code not in magic.CURRENCIES:
        raise AmountError(
            f"The currency '{amount['currency']}' is not supported. Use one of the "
            f"currencies Mollie takes, for example EUR: {', '.join(sorted(magic.CURRENCIES))}.",
            f"{where}.currency")
    places = decimals(code)
    value = amount["value"]
    m = _VALUE.match(value)
    example = _format(1050 if places else 10, places)
    if m is None:
        raise AmountError(
            f"The amount contains an invalid value: '{value}'. Send a positive decimal "
            f"string with exactly {places} decimals for {code}, for example \"{example}\".",
            f"{where}.value")
    got = len(m.group(2) or "") if m.group(2) is not None else 0
    if got != places:
        raise AmountError(
            f"The amount contains an invalid value: '{value}' has {got} "
            f"decimal{'' if got == 1 else 's'}, but "
            f"{code} takes exactly {places}; for example \"{example}\".", f"{where}.value")
    minor = int(m.group(1) + (m.group(2) or ""))
    if minor <= 0:
        raise AmountError(f"The amount is lower than the minimum: {value} {code}. The "
                          f"minimum is {_format(1, places)} {code}.", f"{where}.value")
    return minor, code


def _format(minor: int, places: int) -> str:
    if not places:
        return str(minor)
    return f"{Decimal(minor).scaleb(-places):.{places}f}"


def money(minor: int, currency: str) -> dict[str, str]:
    return {"value": _format(minor, decimals(currency)), "currency": currency}


# -- requests --------------------------------------------------------------------------

def violation_error(v: Violation) -> MollieError:
    field = v.dotted
    if v.kind == "missing":
        return MollieError(f"The '{field}' field is required; it is missing from the "
                           "request.", field=field)
    if v.kind == "unknown":
        return MollieError(f'Non-existent body parameter "{field}" for this API call. '
                           "Check its spelling against the API reference.", field=field)
    if v.kind == "type":  # v.message: "must be a string", "must be an object", …
        shown = orjson.dumps(v.shown).decode()[:80]
        hint = (' Amounts are objects of strings, for example {"currency": "EUR", '
                '"value": "10.00"}.') if field.startswith("amount") else ""
        return MollieError(f"The '{field}' field {v.message}, not {shown}.{hint}",
                           field=field)
    if v.kind == "enum":
        choices = ", ".join(str(c) for c in (v.expected or []) if c is not None
                            and not isinstance(c, dict))
        return MollieError(f"The '{field}' field is invalid: {v.message}"
                           + (f" ({choices})." if choices and choices not in v.message
                              else "."), field=field)
    return MollieError(f"The '{field}' field is invalid: {v.message}.", field=field)


# -- responses -------------------------------------------------------------------------

_STATUS = {
    Status.CREATED: "open",
    Status.REQUIRES_ACTION: "open",
    Status.PENDING: "pending",
    Status.AUTHORIZED: "authorized",
    Status.CAPTURED: "paid",
    Status.PARTIALLY_REFUNDED: "paid",
    Status.REFUNDED: "paid",
    Status.VOIDED: "canceled",
    Status.EXPIRED: "expired",
    Status.FAILED: "failed",
}

#: When a status was reached, by the property Mollie names it with.
_REACHED = {"paid": "paidAt", "canceled": "canceledAt", "expired": "expiredAt",
            "failed": "failedAt", "authorized": "authorizedAt"}

PAID = frozenset({Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})


def status(p: Payment) -> str:
    return _STATUS[p.status]


def is_cancelable(p: Payment) -> bool:
    method = magic.METHODS.get(p.extra.get("method") or "")
    return status(p) == "open" and method is not None and method.cancelable


def codes() -> Mapping[str, Mapping[str, str]]:
    return data_table(__name__)


def failure(p: Payment) -> dict[str, str]:
    """Mollie's failureReason and failureMessage for a failed card payment."""
    if p.decline_code is not None:  # a native failureReason from a scenario
        return {"failureReason": p.decline_code,
                "failureMessage": "The payment failed (" + p.decline_code + ")."}
    row = codes()[(p.decline or DeclineReason.GENERIC_DECLINE).value]
    return {"failureReason": row["failureReason"], "failureMessage": row["message"]}


def _reached(p: Payment, wanted: str) -> HistoryEntry | None:
    return next((h for h in reversed(p.history) if _STATUS[h.status] == wanted), None)


def _link(href: str, kind: str = CONTENT_TYPE) -> dict[str, str]:
    return {"href": href, "type": kind}


def link(href: str, kind: str = CONTENT_TYPE) -> dict[str, str]:
    """A HAL link as Mollie writes them."""
    return _link(href, kind)


def details(p: Payment) -> dict[str, Any] | None:
    x = p.extra
    method = x.get("method")
    st = status(p)
    if method == "banktransfer":
        out: dict[str, Any] = {
            "bankName": "Stichting Mollie Payments", "bankAccount": "NL53ABNA0627535577",
            "bankBic": "ABNANL2A",
            "transferReference": "RF" + str(int(hashlib.sha256(p.id.encode()).hexdigest(),
                                                16))[:14]}
        if x.get("billingEmail"):
            out["billingEmail"] = x["billingEmail"]
        if st == "paid":
            out.update(consumerName="T. TEST", consumerAccount="NL72RABO0110438885",
                       consumerBic="RABONL2U")
        return out
    if method == "creditcard":
        if st == "failed":
            return failure(p)
        if st == "paid":
            return {"cardHolder": "T. TEST",
                    "cardNumber": p.card.last4 if p.card else "6787", "cardLabel": "Visa",
                    "cardFingerprint": card_fingerprint(p.id),
                    "cardAudience": "consumer", "cardCountryCode": "NL",
                    "cardSecurity": "normal", "feeRegion": "intra-eu"}
        return None
    if st != "paid" or method is None:
        return None
    if method == "bancontact":
        return {"cardNumber": "6787",
                "cardFingerprint": hashlib.sha256(p.id.encode()).hexdigest()[:24]}
    return {"consumerName": "T. TEST", "consumerAccount": "NL53INGB0654422370",
            "consumerBic": "INGBNL2A"}


def payment(p: Payment, base: str, *, refunds: Sequence[Refund] | None = None,
            checkout: str | None = None) -> dict[str, Any]:
    """A payment object (https://docs.mollie.com/reference/v2/payments-api/get-payment).

    `base` is the API root the client used (`http://host/mollie/v2`), so `_links` point
    back at the simulator."""
    x = p.extra
    st = status(p)
    out: dict[str, Any] = {
        "resource": "payment",
        "id": p.id,
        "mode": "test",
        "createdAt": timestamp(p.created),
        "amount": money(p.amount, p.currency),
        "description": p.description,
        "method": x.get("method"),
        "metadata": x.get("metadata"),
        "status": st,
        "isCancelable": is_cancelable(p),
    }
    if st in ("open", "pending"):
        out["expiresAt"] = timestamp(x["expiresAt"])
    reached_key = _REACHED.get(st)
    if reached_key:
        entry = _reached(p, st)
        if entry is not None:
            out[reached_key] = timestamp(entry.at)
    if p.status in PAID:
        out["amountRefunded"] = money(p.amount_refunded, p.currency)
        out["amountRemaining"] = money(p.amount_refundable, p.currency)
        if p.amount_disputed:
            out["amountChargedBack"] = money(p.amount_disputed, p.currency)
    for key in ("locale", "restrictPaymentMethodsToCountry"):
        if x.get(key):
            out[key] = x[key]
    if x.get("issuer"):
        out["issuer"] = x["issuer"]
    out["details"] = details(p)
    out["profileId"] = profile_id(p.namespace)
    sequence = x.get("sequenceType") or "oneoff"
    out["sequenceType"] = sequence
    mandate = x.get("mandateId") or (
        mandate_id(p.id) if sequence == "first" and p.status in PAID else None)
    for key, value in (("customerId", x.get("customerId")), ("mandateId", mandate),
                       ("subscriptionId", x.get("subscriptionId"))):
        if value:
            out[key] = value
    out["redirectUrl"] = x.get("redirectUrl")
    if x.get("cancelUrl"):
        out["cancelUrl"] = x["cancelUrl"]
    out["webhookUrl"] = x.get("webhookUrl")
    links: dict[str, Any] = {"self": _link(f"{base}/payments/{p.id}")}
    if st == "open" and checkout:
        links["checkout"] = _link(checkout, "text/html")
    links["dashboard"] = _link(f"https://my.mollie.com/dashboard/org_sandbox/payments/{p.id}",
                               "text/html")
    customer = x.get("customerId")
    if customer:
        links["customer"] = _link(f"{base}/customers/{customer}")
        if mandate:
            links["mandate"] = _link(f"{base}/customers/{customer}/mandates/{mandate}")
        if x.get("subscriptionId"):
            links["subscription"] = _link(
                f"{base}/customers/{customer}/subscriptions/{x['subscriptionId']}")
    if p.refunds:
        links["refunds"] = _link(f"{base}/payments/{p.id}/refunds")
    if p.disputes:
        links["chargebacks"] = _link(f"{base}/payments/{p.id}/chargebacks")
    links["documentation"] = _link(f"{DOCS}/reference/v2/payments-api/get-payment",
                                   "text/html")
    out["_links"] = links
    if refunds is not None:
        out["_embedded"] = {"refunds": [refund(p, r, base) for r in refunds]}
    return out


def refund(p: Payment, r: Refund, base: str) -> dict[str, Any]:
    """A refund object (https://docs.mollie.com/reference/v2/refunds-api/get-payment-refund).

    Refunds stay `pending`: the simulator does not imitate Mollie settling them."""
    return {
        "resource": "refund",
        "id": r.id,
        "amount": money(r.amount, p.currency),
        "status": "pending",
        "createdAt": timestamp(r.created),
        "description": r.reason or "",
        "metadata": refund_metadata(r),
        "paymentId": p.id,
        "_links": {
            "self": _link(f"{base}/payments/{p.id}/refunds/{r.id}"),
            "payment": _link(f"{base}/payments/{p.id}"),
            "documentation": _link(f"{DOCS}/reference/v2/refunds-api/get-payment-refund",
                                   "text/html"),
        },
    }


#: Refund metadata is any JSON in Mollie; the core keeps strings, so it is kept encoded.
REFUND_METADATA = "mollie_metadata"


def refund_metadata(r: Refund) -> Any:
    raw = r.metadata.get(REFUND_METADATA)
    return orjson.loads(raw) if raw is not None else None


def listing(kind: str, items: list[dict[str, Any]], *, self_href: str,
            next_href: str | None, doc: str) -> dict[str, Any]:
    """A paginated list (https://docs.mollie.com/overview/pagination)."""
    return {
        "count": len(items),
        "_embedded": {kind: items},
        "_links": {
            "self": _link(self_href),
            "previous": None,
            "next": _link(next_href) if next_href else None,
            "documentation": _link(doc, "text/html"),
        },
    }


# -- errors ----------------------------------------------------------------------------

class MollieError(ApiError):
    """Mollie's usual refusal: 422 with the field at fault."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, param=field, status=status)


TITLES = {
    400: "Bad Request", 401: "Unauthorized Request", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
    413: "Request Entity Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


def error_body(exc: ApiError) -> dict[str, Any]:
    detail = exc.message
    if exc.kind == "route_missing":
        closest = exc.extra.get("closest") or []
        detail += (f" Did you mean: {', '.join(closest)}?" if closest else "") + \
            f" See {DOCS}/reference for the endpoints Mollie offers."
    body: dict[str, Any] = {"status": exc.status,
                            "title": TITLES.get(exc.status, "Error"),
                            "detail": detail}
    if exc.param:
        body["field"] = exc.param
    doc = f"{DOCS}/overview/authentication" if exc.status == 401 else ERRORS_DOC
    body["_links"] = {"documentation": _link(doc, "text/html")}
    return body


# -- webhooks --------------------------------------------------------------------------

def webhook_body(payment_id: str) -> bytes:
    return b"id=" + payment_id.encode()


class MollieWebhooks:
    """Mollie's webhook carries only the payment id; it is not signed (the receiver
    fetches the payment to learn what happened)."""

    # Ten calls in all: at once, then after 1, 2, 4, 8, 16 and 29 minutes, 1, 2 and
    # 22 hours (26 hours after the status change); virtual seconds.
    retry_schedule: Sequence[float] = (60.0, 120.0, 240.0, 480.0, 960.0, 1740.0, 3600.0,
                                       7200.0, 79200.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/x-www-form-urlencoded",
                             "User-Agent": "Mollie HTTP client/1.0",
                             "Accept": "*/*"})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300
