"""Checkout.com's captures, refunds and voids -> canonical commands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paysandbox.core.commands import Capture, Command, RefundPayment, Void, Writes
from paysandbox.core.payments import Payment
from paysandbox.providers.checkoutcom import disputes, wire
from paysandbox.providers.checkoutcom.objects import ACTION_NOTES, ActionNote
from paysandbox.providers.checkoutcom.payments import not_allowed, payment, run
from paysandbox.providers.seam import Context, Reply


async def capture_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _act(ctx, params, "capture", lambda p, b, w: Capture(
        p.id, b.get("amount"), writes=w))


async def void_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _act(ctx, params, "void", lambda p, b, w: Void(
        p.id, b.get("reference"), writes=w))


async def refund_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _act(ctx, params, "refund", lambda p, b, w: RefundPayment(
        p.id, refund_id=wire.new_id("rfd"), amount=b.get("amount"),
        reason=b.get("reference"), metadata=b.get("metadata") or {}, writes=w))


async def _act(ctx: Context, params: dict[str, Any], action: str,
               command: Callable[[Payment, Mapping[str, Any], Writes], Command]) -> Reply:
    """The action, with its note (reference, metadata) written in the same step."""
    p = await payment(ctx, ctx.path["id"])
    if wire.is_verification(p):
        raise not_allowed(action)
    aid = wire.action_id(p, len(p.history), action)
    note = ActionNote()
    if params.get("reference") is not None:
        note["reference"] = params["reference"]
    if params.get("metadata") is not None:
        note["metadata"] = params["metadata"]
    writes = Writes(records=(ctx.objects(ACTION_NOTES).record(aid, note),) if note else ())
    result = await run(ctx, command(p, params, writes), p, params.get("amount"))
    disputes.after_capture(ctx, result.previous, result.payment)
    return Reply(wire.accepted(result.payment, aid, params.get("reference")), 202)
