"""Acme Acquiring's objects on the wire, and its webhook signature."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError
from paysandbox.providers.base import data_table
from paysandbox.webhooks.dispatcher import Signed

_STATUS = {
    Status.CREATED: "pending", Status.REQUIRES_ACTION: "pending", Status.PENDING: "pending",
    Status.AUTHORIZED: "authorized", Status.CAPTURED: "captured",
    Status.PARTIALLY_REFUNDED: "partially_refunded", Status.REFUNDED: "refunded",
    Status.FAILED: "declined", Status.VOIDED: "voided", Status.EXPIRED: "expired",
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def status(p: Payment) -> str:
    return _STATUS.get(p.status, p.status.value)


def timestamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decline(p: Payment) -> dict[str, str] | None:
    """Acme's response code and message for a declined payment (codes.yaml)."""
    if p.decline is None:
        return None
    known = data_table(__name__).get(str(p.decline)) or data_table(__name__)["generic_decline"]
    return {"code": str(known["code"]), "message": str(known["message"]),
            "reason": str(p.decline)}


def payment(p: Payment) -> dict[str, Any]:
    card = p.card
    return {
        "id": p.id,
        "object": "payment",
        "status": status(p),
        "amount": p.amount,
        "currency": p.currency,
        "captured_amount": p.amount_captured,
        "refunded_amount": p.amount_refunded,
        "reference": p.extra.get("reference"),
        "card": None if card is None else {"brand": card.brand, "last4": card.last4,
                                           "expiry_month": card.exp_month,
                                           "expiry_year": card.exp_year,
                                           "fingerprint": card.fingerprint},
        "decline": decline(p),
        "refunds": [{"id": r.id, "amount": r.amount, "created_at": timestamp(r.created)}
                    for r in p.refunds],
        "created_at": timestamp(p.created),
    }


_ERROR_TYPES = {400: "invalid_request", 401: "authentication", 404: "not_found",
                409: "conflict", 422: "unprocessable", 429: "rate_limited"}


def error(exc: ApiError) -> dict[str, Any]:
    return {"error": {"type": _ERROR_TYPES.get(exc.status, "server_error"),
                      "code": exc.code or _ERROR_TYPES.get(exc.status, "server_error"),
                      "message": exc.message, "field": exc.param}}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def signature(body: bytes, secret: str, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


class AcmeWebhooks:
    """Acme signs `<timestamp>.<body>` with the endpoint's secret and retries a
    delivery that is not answered 2xx after 1, 5 and 30 minutes."""

    retry_schedule: Sequence[float] = (60.0, 300.0, 1800.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/json",
                             "Acme-Signature": signature(body, secret, timestamp)})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


def event(event_id: str, type_: str, created: float, obj: Mapping[str, Any]) -> bytes:
    return dumps({"id": event_id, "type": type_, "created_at": timestamp(created),
                  "data": obj})
