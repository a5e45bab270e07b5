"""Stripe's Refunds -> the canonical refund command, and back."""

from __future__ import annotations

from typing import Any

from paysandbox.core.commands import RefundPayment
from paysandbox.core.payments import Payment, Refund, Status
from paysandbox.errors import InvalidRequest
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import wire
from paysandbox.providers.stripe.errors import cursor_missing, metadata, missing, money
from paysandbox.providers.stripe.payments import payment_intent, run


async def create_refund(ctx: Context, params: dict[str, Any]) -> Any:
    target = params.get("payment_intent") or params.get("charge")
    if not target:
        raise InvalidRequest("One of the following params should be provided for this "
                             "request: payment_intent or charge.",
                             param="payment_intent", code="parameter_missing")
    if "charge" in params and "payment_intent" not in params:
        found = await ctx.resolve(target)
        if found is None:
            raise missing("charge", target, "charge")
        p = found
    else:
        p = await payment_intent(ctx, target, "payment_intent")
    amount = params.get("amount")
    # No amount is the whole unrefunded charge, as on Stripe: refused while a
    # chargeback holds part of it.
    wanted = amount if amount is not None else p.amount_captured - p.amount_refunded
    if p.amount_disputed and wanted > p.amount_refundable:
        left = p.amount_refundable
        raise InvalidRequest(
            f"Charge {p.extra.get('charge')} has been charged back; cannot issue a refund "
            + (f"of more than {money(left, p.currency)}, what is neither refunded nor "
               "disputed." if left else "(all of it is refunded or disputed)."),
            param="amount", code="charge_disputed")
    if p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED) and \
            (amount or 0) > p.amount_refundable:
        raise InvalidRequest(
            f"Refund amount ({money(amount or 0, p.currency)}) is greater than "
            f"unrefunded amount on charge ({money(p.amount_refundable, p.currency)})",
            param="amount", code="amount_too_large")
    if p.status is Status.REFUNDED:
        raise InvalidRequest(f"Charge {p.extra.get('charge')} has already been "
                             "refunded.", code="charge_already_refunded")
    if p.status not in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
        raise InvalidRequest(
            f"This PaymentIntent ({p.id}) does not have a successful charge to "
            f"refund: its status is {wire.pi_status(p)}.", param="payment_intent",
            code="charge_not_refundable" if p.status is not Status.AUTHORIZED
            else "charge_not_captured")
    cmd = RefundPayment(p.id, refund_id=wire.new_id("re"), amount=amount,
                        reason=params.get("reason"),
                        metadata=metadata({}, params.get("metadata")))
    result = await run(ctx, cmd, p, amount=amount)
    assert result.refund is not None
    return wire.refund(result.payment, result.refund)


async def retrieve_refund(ctx: Context, params: dict[str, Any]) -> Any:
    re_id = ctx.path["id"]
    p = await ctx.resolve(re_id)
    r = p.refund(re_id) if p else None
    if p is None or r is None:
        raise missing("refund", re_id)
    return wire.refund(p, r)


async def list_refunds(ctx: Context, params: dict[str, Any]) -> Any:
    pays: list[Payment]
    if "payment_intent" in params:
        pays = [await payment_intent(ctx, params["payment_intent"], "payment_intent")]
    elif "charge" in params:
        found = await ctx.resolve(params["charge"])
        pays = [found if found is not None else
                await payment_intent(ctx, params["charge"], "charge")]
    else:
        pays = await ctx.payments()
    refunds: list[tuple[Payment, Refund]] = sorted(
        ((p, r) for p in pays for r in p.refunds), key=lambda pr: pr[1].created, reverse=True)
    found_page, more = page(refunds, limit=params.get("limit", 10),
                            after=params.get("starting_after"), key=lambda pr: pr[1].id,
                            missing=cursor_missing)
    return wire.listing("/v1/refunds", [wire.refund(p, r) for p, r in found_page], more)
