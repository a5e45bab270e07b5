"""Razorpay's Refunds -> the canonical refund command, and back."""

from __future__ import annotations

from typing import Any

from paysandbox.core.commands import RefundPayment
from paysandbox.core.money import to_major
from paysandbox.core.payments import Payment, Refund, Status
from paysandbox.providers.razorpay import wire
from paysandbox.providers.razorpay.payments import payment_of, run
from paysandbox.providers.seam import Context


def _check_refundable(p: Payment, amount: int | None) -> None:
    if p.status is Status.REFUNDED:
        raise wire.bad_request("The payment has been fully refunded already",
                               field="id", source="NA", step="NA", reason="NA")
    if p.status not in wire.CAPTURED:
        raise wire.bad_request(
            f"Only captured payments can be refunded; this payment is "
            f"{wire.payment_status(p)}.", field="id", source="NA", step="NA", reason="NA")
    # No amount is a full refund: of everything not yet refunded, disputed part included.
    asked = p.amount_captured - p.amount_refunded if amount is None else amount
    if p.amount_disputed and asked > p.amount_refundable:
        left = to_major(p.amount_refundable, p.currency)
        raise wire.bad_request(
            f"The payment is under dispute: {to_major(p.amount_disputed, p.currency)} "
            f"{p.currency} of it is held by a dispute, so at most {left} {p.currency} can "
            "be refunded." if p.amount_refundable else
            "The payment is under dispute: all of it is refunded or held by a dispute, "
            "so it cannot be refunded.", field="amount", source="business",
            step="NA", reason="payment_disputed")
    if amount is not None and amount > p.amount_refundable:
        raise wire.bad_request(
            f"The refund amount provided is greater than amount captured: "
            f"{to_major(p.amount_refundable, p.currency)} {p.currency} can still be "
            "refunded.", field="amount")


async def refund_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_of(ctx, ctx.path["id"])
    _check_refundable(p, params.get("amount"))
    cmd = RefundPayment(p.id, refund_id=wire.new_id("rfnd"), amount=params.get("amount"),
                        reason=params.get("receipt"),
                        metadata={str(k): str(v) for k, v in
                                  (params.get("notes") or {}).items()})
    result = await run(ctx, cmd, p)
    assert result.refund is not None
    return wire.refund(result.payment, result.refund)


async def retrieve_refund(ctx: Context, params: dict[str, Any]) -> Any:
    rid = ctx.path["id"]
    p = await ctx.resolve(rid)
    r = p.refund(rid) if p is not None else None
    if p is None or r is None:
        raise wire.not_found()
    return wire.refund(p, r)


async def list_payment_refunds(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_of(ctx, ctx.path["id"])
    refunds = sorted(p.refunds, key=lambda r: -r.created)
    return wire.collection([wire.refund(p, r) for r in refunds])


async def retrieve_payment_refund(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_of(ctx, ctx.path["id"])
    r = p.refund(ctx.path["refund_id"])
    if r is None:
        raise wire.not_found("refund_id")
    return wire.refund(p, r)


async def list_refunds(ctx: Context, params: dict[str, Any]) -> Any:
    pays = await ctx.payments()
    found: list[tuple[Payment, Refund]] = sorted(
        ((p, r) for p in pays for r in p.refunds), key=lambda pr: -pr[1].created)
    return wire.collection([wire.refund(p, r) for p, r in
                            wire.window(found, params, created=lambda pr: pr[1].created)])
