"""Checkout.com's objects beside a payment: what a capture, refund or void request said
of itself (its reference and metadata), shown on its action."""

from __future__ import annotations

from typing import TypedDict

from paysandbox.core.payments import Payment
from paysandbox.objects import Kind
from paysandbox.providers.checkoutcom import wire
from paysandbox.providers.seam import Context


class ActionNote(TypedDict, total=False):
    reference: str
    metadata: dict[str, str]


ACTION_NOTES: Kind[ActionNote] = Kind("checkoutcom.action")


async def notes(ctx: Context, p: Payment) -> dict[str, ActionNote]:
    """The notes of payment `p`'s actions, by action id."""
    found: dict[str, ActionNote] = {}
    stored = ctx.objects(ACTION_NOTES)
    for i, h in enumerate(p.history):
        if h.action in ("capture", "void", "refund"):
            aid = wire.action_id(p, i, h.action)
            note = await stored.get(aid)
            if note is not None:
                found[aid] = note
    return found
