"""Stripe's words for what the engine refuses, and the parameter checks handlers share."""

from __future__ import annotations

from collections.abc import Mapping

from paysandbox.core.money import UnknownCurrency, currency, to_major
from paysandbox.core.payments import AmountExceeded, InvalidTransition
from paysandbox.errors import InvalidRequest, ResourceMissing
from paysandbox.providers.stripe import wire


def missing(what: str, object_id: str, param: str = "id") -> ResourceMissing:
    return ResourceMissing(f"No such {what}: '{object_id}'", param=param,
                           code="resource_missing")


def cursor_missing(after: str) -> InvalidRequest:
    return InvalidRequest(f"No such object: '{after}'", param="starting_after",
                          code="resource_missing")


def checked_currency(code: str) -> str:
    try:
        return currency(code).code
    except UnknownCurrency as exc:
        raise InvalidRequest(f"Invalid currency: {code.lower()}. {exc}".rstrip(),
                             param="currency", code="parameter_invalid_string") from None


def metadata(current: Mapping[str, str], given: Mapping[str, str] | None) -> dict[str, str]:
    """Stripe merges metadata on update; an empty value removes a key, and `metadata=`
    (an empty hash) removes them all."""
    if given is not None and not given:
        return {}
    out = dict(current)
    for k, v in (given or {}).items():
        if v == "":
            out.pop(k, None)
        else:
            out[k] = v
    return out


def money(amount: int, code: str) -> str:
    return f"{to_major(amount, code)} {code.lower()}"


_STRIPE_STATUSES = {
    "capture": ("captured", ["requires_capture"]),
    "void": ("canceled", ["requires_payment_method", "requires_capture",
                          "requires_confirmation", "requires_action", "processing"]),
    "confirm": ("confirmed", ["requires_payment_method", "requires_confirmation"]),
    "update": ("updated", ["requires_payment_method", "requires_confirmation",
                           "requires_action"]),
    "complete": ("authenticated", ["requires_action"]),
    "refund": ("refunded", ["succeeded"]),
}


def state_error(exc: InvalidTransition) -> InvalidRequest:
    verb, allowed = _STRIPE_STATUSES.get(exc.action, (exc.action, []))
    status = wire.pi_status(exc.payment)
    if exc.action == "void":
        msg = (f"You cannot cancel this PaymentIntent because it has a status of {status}. "
               "Only a PaymentIntent with one of the following statuses may be canceled: "
               f"{', '.join(allowed)}.")
    else:
        msg = (f"This PaymentIntent could not be {verb} because it has a status of {status}. "
               "Only a PaymentIntent with one of the following statuses may be "
               f"{verb}: {', '.join(allowed)}.")
    return InvalidRequest(msg, code="payment_intent_unexpected_state",
                          extra={"payment_intent": wire.payment_intent(exc.payment)})


def amount_error(exc: AmountExceeded) -> InvalidRequest:
    if exc.action == "capture":
        return InvalidRequest(
            f"The amount_to_capture ({exc.requested}) must be less than or equal to the "
            f"PaymentIntent's amount_capturable ({exc.available}).",
            param="amount_to_capture", code="amount_too_large",
            extra={"payment_intent": wire.payment_intent(exc.payment)})
    return InvalidRequest(
        f"Refund amount ({exc.requested}) is greater than unrefunded amount on charge "
        f"({exc.available})", param="amount", code="amount_too_large")
