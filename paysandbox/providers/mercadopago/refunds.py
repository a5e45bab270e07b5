"""Mercado Pago's refunds of a payment -> canonical commands, and back."""

from __future__ import annotations

from typing import Any

from paysandbox.core.commands import RefundPayment
from paysandbox.errors import InvalidRequest
from paysandbox.providers.mercadopago import wire
from paysandbox.providers.mercadopago.errors import not_found
from paysandbox.providers.mercadopago.payments import payment, run
from paysandbox.providers.seam import Context, Reply


async def create_refund(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    amount = params.get("amount")
    minor = None if amount is None else wire.to_minor(amount, p.currency)
    if p.amount_disputed and (minor is None or minor > p.amount_refundable):
        left = p.amount_refundable
        raise InvalidRequest(
            f"The payment {p.id} has a chargeback: "
            + (f"at most {wire.amount(left, p.currency)} {p.currency}, what is neither "
               "refunded nor charged back, can be refunded." if left else
               "nothing is left to refund (all of it is refunded or charged back)."),
            param="amount", code="2085")
    command = RefundPayment(p.id, refund_id=str(wire.new_id()), amount=minor,
                            metadata={str(k): str(v) for k, v in
                                      (params.get("metadata") or {}).items()})
    result = await run(ctx, command, p, amount=minor)
    assert result.refund is not None
    return Reply(wire.refund(result.payment, result.refund), status=201)


async def list_refunds(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    return [wire.refund(p, r) for r in p.refunds]


async def get_refund(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    r = p.refund(ctx.path["refund_id"])
    if r is None:
        raise not_found("Refund")
    return wire.refund(p, r)
