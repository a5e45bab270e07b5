"""Razorpay's words for what the engine refuses, and the checks handlers share."""

from __future__ import annotations

from typing import Any

from paysandbox.core.money import UnknownCurrency, currency
from paysandbox.core.payments import AmountExceeded, InvalidTransition
from paysandbox.errors import InvalidRequest
from paysandbox.providers.razorpay import wire


def checked_currency(code: Any) -> str:
    try:
        return currency(str(code)).code
    except UnknownCurrency:
        raise wire.bad_request(f"The currency {code} is not supported. Use an ISO 4217 "
                               "code such as INR.", field="currency") from None


def state_error(exc: InvalidTransition) -> InvalidRequest:
    return wire.bad_request(
        f"This payment cannot be {exc.action}d: its status is "
        f"{wire.payment_status(exc.payment)}.", source="NA", step="NA", reason="NA")


def amount_error(exc: AmountExceeded) -> InvalidRequest:
    return wire.bad_request(
        f"The {exc.action} amount ({exc.requested}) is greater than the amount "
        f"available ({exc.available}).", field="amount")
