"""Razorpay's Settlements API over the sandbox's ledger: `/v1/settlements` (list and
fetch) and the combined settlement recon (`/v1/settlements/recon/combined`).

The ledger (paysandbox/ledger) is read when asked: one settlement per daily payout of the
account, its entries the recon's items. A settlement's id and UTR are derived from the
payout's, so they are the same on every read and in every process.

LIMITATIONS (what of the real API this does not imitate):
- `fees` and `tax` are the pricing's (pricing.yaml's `razorpay`: 2% and 18% GST on it;
  `fees` includes the tax, as Razorpay's does). The payment entity's `fee`/`tax`
  (wire.py) are 2% plus 18% GST whatever the pricing file says.
- A settlement is `processed` the day the payout is made, and `settlement.processed` is
  sent then (its event id comes from the settlement's, so a fleet announcing a day twice
  sends one event); a scenario's failed payout is a `failed` settlement with no webhook.
  Created and on-hold settlements, instant and on-demand settlements are not imitated;
  days are UTC days, where Razorpay dates settlements in IST.
- The recon lists the entries settled on a UTC day or month: payments, refunds and
  adjustments (a chargeback's debit and its reversal); transfers do not exist here.
  `card_*` fields are null (payments are UPI), `notes` is the payment's notes as JSON
  text, `posted_at` is null.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from paysandbox.core.ledger import Entry, EntryType, Payout
from paysandbox.core.payments import Payment
from paysandbox.providers.razorpay import wire
from paysandbox.providers.seam import Context
from paysandbox.webhooks.dispatcher import Event

DAY = 86400


def _base62(seed: str, n: int) -> str:
    return hashlib.blake2b(seed.encode(), digest_size=n).digest().translate(
        wire.TO_BASE62).decode()


def settlement_id(p: Payout) -> str:
    """`setl_` and 14 base62 characters, stable for the payout."""
    return "setl_" + _base62(p.id, 14)


def utr(p: Payout) -> str:
    """A UTR shaped like Razorpay's examples: the settlement's time and six characters."""
    return f"{int(p.created)}{_base62('utr:' + p.id, 6).lower()}"


def settlement(p: Payout, by_id: Mapping[str, Entry]) -> dict[str, Any]:
    """Razorpay's settlement entity (https://razorpay.com/docs/api/settlements/entity):
    the fees (tax included) and the tax of the entries it paid."""
    paid = [by_id[e] for e in p.entries if e in by_id]
    return {"id": settlement_id(p), "entity": "settlement", "amount": p.amount,
            "status": "failed" if p.failed else "processed",
            "fees": sum(e.fee for e in paid), "tax": sum(_tax(e) for e in paid),
            "utr": utr(p), "created_at": int(p.created)}


def _tax(e: Entry) -> int:
    return sum(f.amount for f in e.fees if f.kind == "tax")


def settlement_event(namespace: str, p: Payout, by_id: Mapping[str, Entry],
                     now: float) -> Event:
    """`settlement.processed` for the settlement of payout `p`; its id (Razorpay's
    `X-Razorpay-Event-Id`) comes from the settlement's."""
    eid = "evt_" + _base62("settlement.processed:" + p.id, 14)
    return Event(id=eid, provider="razorpay", namespace=namespace,
                 type="settlement.processed", created=now,
                 render=lambda: wire.remember_event_id(wire.dumps(wire.event(
                     namespace, "settlement.processed", now,
                     {"settlement": settlement(p, by_id)})), eid))


async def list_settlements(ctx: Context, params: dict[str, Any]) -> Any:
    books = await ctx.ledger()
    by_id = {e.id: e for e in books.entries}
    newest = sorted(books.payouts, key=lambda p: -p.created)
    return wire.collection([settlement(p, by_id) for p in
                            wire.window(newest, params, created=lambda p: p.created)])


async def retrieve_settlement(ctx: Context, params: dict[str, Any]) -> Any:
    books = await ctx.ledger()
    found = next((p for p in books.payouts if settlement_id(p) == ctx.path["id"]), None)
    if found is None:
        raise wire.not_found()
    return settlement(found, {e.id: e for e in books.entries})


# -- recon --------------------------------------------------------------------------

_TYPE = {EntryType.CHARGE: "payment", EntryType.REFUND: "refund",
         EntryType.CHARGEBACK: "adjustment", EntryType.CHARGEBACK_REVERSAL: "adjustment"}


def _period(params: Mapping[str, Any]) -> tuple[int, int]:
    """The UTC day or month (unix seconds, [start, end)) the recon asks for."""
    for name in ("year", "month"):
        if name not in params:
            raise wire.bad_request(f"The {name} field is required. For example: "
                                   "?year=2026&month=12&day=3", field=name)
    year, month, day = params["year"], params["month"], params.get("day")
    if day is None:
        start = calendar.timegm((year, month, 1, 0, 0, 0))
        return start, start + calendar.monthrange(year, month)[1] * DAY
    if day > calendar.monthrange(year, month)[1]:
        raise wire.bad_request(f"The day {day} is not a day of {year}-{month:02d}.",
                               field="day")
    start = calendar.timegm((year, month, day, 0, 0, 0))
    return start, start + DAY


def recon_item(e: Entry, p: Payment | None, payout: Payout) -> dict[str, Any]:
    """One row of the combined recon
    (https://razorpay.com/docs/api/settlements/fetch-recon)."""
    kind = _TYPE[e.type]
    dispute_id = e.source.split(":")[0] if kind == "adjustment" else None
    entity_id = {"payment": e.payment_id, "refund": e.source}.get(
        kind, "adj_" + _base62("adj:" + e.id, 14))
    extra = p.extra if p is not None else {}
    return {
        "entity_id": entity_id,
        "type": kind,
        "debit": max(-e.net, 0),
        "credit": max(e.net, 0),
        "amount": abs(e.amount),
        "currency": e.currency.upper(),
        "fee": e.fee,
        "tax": _tax(e),
        "on_hold": False,
        "settled": True,
        "created_at": int(e.created),
        "settled_at": int(payout.created),
        "settlement_id": settlement_id(payout),
        "posted_at": None,
        "credit_type": "default",
        "description": p.description if p is not None and kind == "payment" else None,
        "notes": orjson.dumps(dict(p.metadata) if p is not None else {}).decode(),
        "payment_id": None if kind == "payment" else e.payment_id,
        "settlement_utr": utr(payout),
        "order_id": extra.get("order_id"),
        "order_receipt": (extra.get("order") or {}).get("receipt"),
        "method": "upi",
        "card_network": None,
        "card_issuer": None,
        "card_type": None,
        "dispute_id": dispute_id,
    }


async def settlement_recon(ctx: Context, params: dict[str, Any]) -> Any:
    """The entries settled on a day (or in a month), oldest first."""
    start, end = _period(params)
    books = await ctx.ledger()
    by_id = {e.id: e for e in books.entries}
    pays = {p.id: p for p in await ctx.payments()}
    rows = [recon_item(by_id[eid], pays.get(by_id[eid].payment_id or ""), payout)
            for payout in books.payouts if start <= payout.created < end
            for eid in payout.entries if eid in by_id]
    skip = params.get("skip", 0)
    return wire.collection(rows[skip:skip + params.get("count", 10)])
