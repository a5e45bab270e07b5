"""Mollie's Refunds API (refunds of one payment) -> canonical commands, and back."""

from __future__ import annotations

from typing import Any

import orjson

from paysandbox.core.commands import RefundPayment
from paysandbox.errors import ResourceMissing
from paysandbox.providers.mollie import wire
from paysandbox.providers.mollie.payments import (
    amount_of,
    api_base,
    listing,
    page_of,
    payment,
    run,
)
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import Context, Reply


def _missing(refund_id: str) -> ResourceMissing:
    return ResourceMissing(f"No refund exists with token {refund_id}.")


async def create_refund(ctx: Context, params: dict[str, Any]) -> Any:
    amount, currency = amount_of(params)
    p = await payment(ctx, ctx.path["id"])
    if p.status not in wire.PAID:
        raise MollieError(f"The payment {p.id} cannot be refunded: its status is "
                          f"{wire.status(p)}. Only paid payments can be refunded.")
    if currency != p.currency:
        raise MollieError(f"The refund currency {currency} differs from the "
                          f"payment's ({p.currency}); refund in {p.currency}.",
                          field="amount.currency")
    meta = {} if params.get("metadata") is None else \
        {wire.REFUND_METADATA: orjson.dumps(params["metadata"]).decode()}
    command = RefundPayment(p.id, refund_id=wire.new_id("re"), amount=amount,
                            reason=params.get("description"), metadata=meta)
    result = await run(ctx, command, p, amount=amount)
    assert result.refund is not None
    return Reply(wire.refund(result.payment, result.refund, api_base(ctx)), status=201)


async def get_refund(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    refund_id = ctx.path["refund"]
    r = p.refund(refund_id)
    if r is None:
        raise _missing(refund_id)
    return wire.refund(p, r, api_base(ctx))


async def list_refunds(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    base = api_base(ctx)
    found, nxt = page_of(list(reversed(p.refunds)), params, lambda r: r.id)
    items = [wire.refund(p, r, base) for r in found]
    return listing(ctx, "refunds", items, f"{base}/payments/{p.id}/refunds", params, nxt,
                   "refunds-api/list-refunds")


async def cancel_refund(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    if p.refund(ctx.path["refund"]) is None:
        raise _missing(ctx.path["refund"])
    raise MollieError("Canceling a refund is not imitated by this simulator: its refunds "
                      "are final once created.")
