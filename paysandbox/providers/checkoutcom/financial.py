"""Checkout.com's Financial actions API over the sandbox's ledger: `GET
/financial-actions?payment_id=|action_id=&limit=&pagination_token=`
(https://api-reference.checkout.com/#tag/Financial-actions).

The ledger (paysandbox/ledger) is read when asked: each of the account's entries is a
financial action (a capture, a refund, a chargeback and its reversal) whose breakdown
is its gross amount and each fee line the pricing (pricing.yaml's `checkoutcom`:
interchange, scheme fee, markup as Checkout.com's premium, commission as its gateway
fee) charged for it, in the processing currency (the payment's) and the holding
currency (the account's settlement currency). `action_id` is the id of the payment's
action (`GET /payments/{id}/actions`), `payout_id` the settlement that paid it.

LIMITATIONS (what of the real API this does not imitate):
- Amounts in a breakdown are positive decimals in major units, as the reference's
  example shows them; the action type says which way the money went. Fee amounts in
  the processing currency are the holding currency's converted back at the entry's
  rate (8 decimals).
- Entity, sub-entity, currency account and processing channel ids are derived from the
  secret key (one of each per key); `mid`, `fx_trade_id`, the ARN, reserves and taxes
  are absent. The chargeback fee's breakdown type is a best reading of Checkout.com's
  list of breakdown types.
- An unknown payment or action id is an empty list (the API filters; it documents no
  404 for this route). Financial actions by date range and by payout id (CSV reports
  of the Reports API) are not served.
- No webhooks: the ledger is read on demand and nothing emits payout events.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from paysandbox.core.ledger import Entry, EntryType
from paysandbox.core.money import currency
from paysandbox.core.payments import Payment, Status
from paysandbox.providers.checkoutcom import wire
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.providers.seam import Context

#: The breakdown type of each of the ledger's fee lines.
FEE_TYPES: Mapping[str, str] = {
    "interchange": "Interchange Variable Fee",
    "scheme_fee": "Scheme Variable Fee",
    "markup": "Premium Variable Fee",
    "commission": "Gateway Fixed Fee",
    "dispute_fee": "Chargeback Fixed Fee",
    "processing": "Premium Variable Fee",
    "international": "Premium Variable Fee",
    "fx": "FX Markup",
}
_ACTION = {EntryType.CHARGE: ("Capture", "Capture"), EntryType.REFUND: ("Refund", "Refund"),
           EntryType.CHARGEBACK: ("Chargeback", "Chargeback (ADJM)"),
           EntryType.CHARGEBACK_REVERSAL: ("Chargeback", "Chargeback (RPDW)")}
MAX_LIMIT = 100
_PLACES = Decimal("0.00000001")


def payout_id(ledger_payout_id: str) -> str:
    """Checkout.com's 12-character payout (settlement) id, stable for the payout."""
    digest = hashlib.blake2b(ledger_payout_id.encode(), digest_size=8).digest()
    return base64.b32encode(digest).decode()[:12]


_CAPTURING = frozenset({"authorize", "complete", "capture"})


def action_ids(entries: Sequence[Entry], p: Payment) -> dict[str, str]:
    """The id of the payment's action (see wire.actions) each of its entries is the
    money of: its n-th charge the n-th capture of its history, its n-th refund the n-th
    refund; a chargeback's a stable id of its own."""
    captures = [i for i, h in enumerate(p.history) if h.action in _CAPTURING
                and h.status is Status.CAPTURED and h.amount]
    refunds = [i for i, h in enumerate(p.history) if h.action == "refund"]
    out: dict[str, str] = {}
    charges = 0
    for e in entries:
        if e.type is EntryType.CHARGE and charges < len(captures):
            out[e.id] = wire.action_id(p, captures[charges], "capture")
            charges += 1
            continue
        nth = next((n for n, r in enumerate(p.refunds) if r.id == e.source), None)
        if e.type is EntryType.REFUND and nth is not None and nth < len(refunds):
            out[e.id] = wire.action_id(p, refunds[nth], "refund")
        else:
            out[e.id] = wire.derived_id("act", p.id, e.source, e.type.value)
    return out


def _major(amount: int, code: str) -> float:
    return float(Decimal(abs(amount)).scaleb(-currency(code).minor_units))


def _line(kind: str, amount: int, e: Entry, detail: str | None) -> dict[str, Any]:
    holding = e.currency.upper()
    processing = (e.original_currency or e.currency).upper()
    rate = e.exchange_rate or Decimal(1)
    in_processing = Decimal(abs(amount)) / rate if e.exchange_rate else Decimal(abs(amount))
    processing_amount = float(in_processing.scaleb(-currency(processing).minor_units)
                              .quantize(_PLACES))
    out: dict[str, Any] = {
        "breakdown_type": kind,
        "fx_rate_applied": float(rate),
        "holding_currency": holding,
        "holding_currency_amount": _major(amount, holding),
        "processing_currency": processing,
        "processing_currency_amount": processing_amount,
        "transaction_currency": processing,
        "transaction_currency_amount": processing_amount,
        "processing_to_transaction_currency_fx_rate": 1.0,
        "transaction_to_holding_currency_fx_rate": float(rate),
    }
    if detail is not None:
        out["fee_detail"] = detail
    return out


def financial_action(e: Entry, p: Payment, aid: str, namespace: str,
                     payouts: Mapping[str, str]) -> dict[str, Any]:
    action_type, gross_type = _ACTION[e.type]
    card = p.card
    gross = e.original_amount if e.original_amount is not None else e.amount
    breakdown = [_line(gross_type, e.amount, e, None)]
    if e.original_amount is not None:
        breakdown[0]["processing_currency_amount"] = breakdown[0][
            "transaction_currency_amount"] = _major(gross, e.original_currency or e.currency)
    breakdown += [_line(FEE_TYPES.get(f.kind, "Premium Variable Fee"), f.amount, e,
                        f.description) for f in e.fees]
    out: dict[str, Any] = {
        "payment_id": p.id,
        "action_id": aid,
        "action_type": action_type,
        "entity_id": wire.derived_id("ent", namespace, "entity"),
        "sub_entity_id": wire.derived_id("ent", namespace, "sub_entity"),
        "currency_account_id": wire.derived_id("ca", namespace, e.currency),
        "payment_method": (card.brand if card else p.method).upper(),
        "processing_channel_id": wire.derived_id("pc", namespace, "channel"),
        "response_code": "10000",
        "response_description": "Approved",
        "processed_on": wire.iso(e.created),
        "requested_on": wire.iso(e.created),
        "breakdown": breakdown,
    }
    if p.extra.get("reference"):
        out["reference"] = p.extra["reference"]
    if card is not None:
        out["card_type"] = card.funding.upper()
        out["card_category"] = "CONSUMER"
        if card.country:
            out["issuer_country"] = card.country
    if e.id in payouts:
        out["payout_id"] = payouts[e.id]
    return out


def _offset(token: str) -> int:
    try:
        value = int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid("pagination_token_invalid") from None
    if value < 0:
        raise Invalid("pagination_token_invalid")
    return value


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


async def list_financial_actions(ctx: Context, params: dict[str, Any]) -> Any:
    """Latest first, as the reference orders them; `limit` (1-100, default 100) per
    page and `_links.next` with a `pagination_token` while there are more."""
    if not params.get("payment_id") and not params.get("action_id"):
        raise Invalid("payment_id_or_action_id_required")
    limit = params.get("limit", MAX_LIMIT)
    start = _offset(params["pagination_token"]) if "pagination_token" in params else 0
    books = await ctx.ledger()
    payouts = {eid: payout_id(po.id) for po in books.payouts for eid in po.entries}
    pays = {p.id: p for p in await ctx.payments()}
    by_payment: dict[str, list[Entry]] = {}
    for e in books.entries:  # oldest first
        if e.payment_id in pays and params.get("payment_id", e.payment_id) == e.payment_id:
            by_payment.setdefault(e.payment_id, []).append(e)
    aids = {eid: aid for pid, es in by_payment.items()
            for eid, aid in action_ids(es, pays[pid]).items()}
    found = []
    for e in sorted((e for es in by_payment.values() for e in es),
                    key=lambda x: -x.created):
        p = pays[e.payment_id or ""]
        item = financial_action(e, p, aids[e.id], ctx.namespace, payouts)
        if "action_id" in params and item["action_id"] != params["action_id"]:
            continue
        found.append(item)
    page = found[start:start + limit]
    query = "&".join(f"{k}={params[k]}" for k in ("payment_id", "action_id") if k in params)
    base = ctx.api_url("/financial-actions")
    links: dict[str, Any] = {"self": {"href": f"{base}?{query}&limit={limit}"}}
    if start + limit < len(found):
        links["next"] = {"href": f"{base}?{query}&limit={limit}"
                                 f"&pagination_token={_token(start + limit)}"}
    return {"count": len(page), "limit": limit, "data": page, "_links": links}
