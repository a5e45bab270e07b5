"""Mercado Pago's words for what the engine refuses."""

from __future__ import annotations

from paysandbox.core.payments import AmountExceeded, InvalidTransition
from paysandbox.errors import InvalidRequest, ResourceMissing
from paysandbox.providers.mercadopago import wire


def not_found(what: str) -> ResourceMissing:
    return ResourceMissing(f"{what} not found", code="2000")


_MP_ACTIONS = {"void": "cancelled", "capture": "captured", "refund": "refunded",
               "complete": "paid", "expire": "expired"}


def state_error(exc: InvalidTransition) -> InvalidRequest:
    st, detail = wire.status(exc.payment)
    verb = _MP_ACTIONS.get(exc.action, exc.action)
    hint = {"void": "only pending, in_process and authorized payments can be cancelled",
            "capture": "only authorized payments (created with capture: false) can be "
                       "captured",
            "refund": "only approved payments can be refunded"}.get(exc.action, "")
    return InvalidRequest(
        f"The action requested is not valid for the current payment state: payment "
        f"{exc.payment.id} is {st} ({detail}) and cannot be {verb}"
        + (f"; {hint}." if hint else "."), code="2018")


def amount_error(exc: AmountExceeded) -> InvalidRequest:
    p = exc.payment
    field = "transaction_amount" if exc.action == "capture" else "amount"
    return InvalidRequest(
        f"Invalid {field}: {wire.amount(exc.requested, p.currency)} is more than the "
        f"{wire.amount(exc.available, p.currency)} {p.currency} that can be "
        f"{'captured' if exc.action == 'capture' else 'refunded'}.", param=field,
        code="4037" if exc.action == "capture" else "2085")
