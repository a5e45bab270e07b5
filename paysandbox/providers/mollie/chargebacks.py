"""Mollie's Chargebacks API (read-only) -> Mollie's chargeback objects
(https://docs.mollie.com/reference/get-chargeback).

Mollie has no API to answer a chargeback: the funds are withdrawn when it is booked
and it stays so (lost) unless the bank reverses it, which sets `reversedAt` and gives
the funds back. A dispute here is a chargeback on its payment (paysandbox/core/
disputes.py): one its trigger wants won is defended by Mollie itself and reversed
after its decision delay; any other is lost when its window closes. Each booking and
each reversal calls the payment's webhook, as Mollie does.
"""

from __future__ import annotations

from typing import Any

from paysandbox.core.disputes import Dispute, DisputeStatus
from paysandbox.core.payments import Payment
from paysandbox.errors import ResourceMissing
from paysandbox.providers.mollie import wire
from paysandbox.providers.mollie.payments import api_base, body, listing, page_of, payment
from paysandbox.providers.seam import Context


def reversed_at(d: Dispute) -> float | None:
    if d.status is not DisputeStatus.WON:
        return None
    return next((h.at for h in reversed(d.history) if h.action == "won"), d.created)


def chargeback(ctx: Context, p: Payment, d: Dispute, *, embed: bool = False
               ) -> dict[str, Any]:
    """Mollie's chargeback object. `reason` is given by the bank for SEPA Direct Debit
    only, so a card chargeback has none; the settlement amount is the amount withdrawn,
    negative, in the payment's currency."""
    base = api_base(ctx)
    at = reversed_at(d)
    negative = wire.money(d.amount, p.currency)
    negative["value"] = "-" + negative["value"]
    out: dict[str, Any] = {
        "resource": "chargeback",
        "id": d.id,
        "amount": wire.money(d.amount, p.currency),
        "settlementAmount": negative,
        "createdAt": wire.timestamp(d.created),
        "reason": None,
        "reversedAt": None if at is None else wire.timestamp(at),
        "paymentId": p.id,
        "_links": {
            "self": wire.link(f"{base}/payments/{p.id}/chargebacks/{d.id}"),
            "payment": wire.link(f"{base}/payments/{p.id}"),
            "documentation": wire.link(f"{wire.DOCS}/reference/get-chargeback", "text/html"),
        },
    }
    if embed:
        out["_embedded"] = {"payment": body(ctx, p)}
    return out


def _embeds_payment(params: dict[str, Any]) -> bool:
    return "payment" in str(params.get("embed", "")).split(",")


async def get_chargeback(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    cid = ctx.path["chargeback"]
    d = next((x for x in p.disputes if x.id == cid), None)
    if d is None:
        raise ResourceMissing(f"No chargeback exists with token {cid}.")
    return chargeback(ctx, p, d, embed=_embeds_payment(params))


async def list_payment_chargebacks(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    found, nxt = page_of(sorted(p.disputes, key=lambda d: (-d.created, d.id)), params,
                         lambda d: d.id)
    embed = _embeds_payment(params)
    return listing(ctx, "chargebacks", [chargeback(ctx, p, d, embed=embed) for d in found],
                   f"{api_base(ctx)}/payments/{p.id}/chargebacks", params, nxt,
                   "chargebacks-api/list-chargebacks")


async def list_chargebacks(ctx: Context, params: dict[str, Any]) -> Any:
    pays = await ctx.payments()
    items = sorted(((p, d) for p in pays for d in p.disputes),
                   key=lambda pd: (-pd[1].created, pd[1].id))
    found, nxt = page_of(items, params, lambda pd: pd[1].id)
    embed = _embeds_payment(params)
    return listing(ctx, "chargebacks",
                   [chargeback(ctx, p, d, embed=embed) for p, d in found],
                   f"{api_base(ctx)}/chargebacks", params, nxt,
                   "chargebacks-api/list-chargebacks")
