"""Mollie's Settlements API (read-only) -> the account's daily payouts (paysandbox/
ledger), as Mollie shows them (https://docs.mollie.com/reference/get-settlement).

Each payout is one settlement (`stl_…`, with a bank reference `<organization>.<YYMM>.
<NN>`): `pending` from 00:00 UTC of the day its funds became available, `paidout` (with
`settledAt`) once it has arrived a day later, `failed` when the bank refused it (its
amount is back on the balance). Its `periods` (by the month the movements
were made) give the revenue per payment method (refunds and chargebacks as their own
lines, negative) and the costs per method (the fees of the pricing); revenue less costs
is its amount. `next` is what the next payout will take (what is owed plus the funds
of the next day that becomes available), `open` everything not yet paid out; both are
404 while empty. A settlement's payments, refunds and chargebacks are listed from the
movements it pays out. With a scenario's `settlement:` discrepancies, they show what
the books report (a line left out is in no list; a partial payout's amount is what was
paid).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from paysandbox.core.ledger import Entry, EntryType
from paysandbox.core.payments import Payment
from paysandbox.errors import ResourceMissing
from paysandbox.providers.mollie import chargebacks, magic, wire
from paysandbox.providers.mollie.balances import Account, account, settlement_id
from paysandbox.providers.mollie.payments import api_base, body, listing, page_of
from paysandbox.providers.seam import Context

#: A settlement's status for its payout's.
_STATUS = {"in_transit": "pending", "paid": "paidout", "failed": "failed"}


@dataclass(frozen=True, slots=True)
class Batch:
    """A settlement: a payout, or the `open` or `next` funds not yet paid out."""

    id: str
    reference: str | None
    created: float
    status: str
    settled: float | None
    amount: int
    entries: tuple[Entry, ...]


def _organization(namespace: str) -> str:
    """The organization number a bank reference starts with: one per API key."""
    return str(int.from_bytes(hashlib.sha256(namespace.encode()).digest()[:4]) % 9_000_000
               + 1_000_000)


def batches(ctx: Context, a: Account) -> list[Batch]:
    """Every payout as a settlement, newest first."""
    by_id = {e.id: e for e in a.books.entries}
    org = _organization(ctx.namespace)
    out: list[Batch] = []
    month, seq = "", 0
    for p in a.books.payouts:
        day = datetime.fromtimestamp(p.created, UTC)
        seq = seq + 1 if day.strftime("%y%m") == month else 1
        month = day.strftime("%y%m")
        status = _STATUS[p.status(a.now)]
        out.append(Batch(settlement_id(p), f"{org}.{month}.{seq:02d}", p.created,
                         status, p.arrival if status == "paidout" else None,
                         p.amount,
                         tuple(by_id[i] for i in p.entries if i in by_id)))
    out.reverse()
    return out


def _unpaid(a: Account) -> list[Entry]:
    paid = {i for p in a.books.payouts for i in p.entries}
    return [e for e in a.books.entries if e.id not in paid]


def _pending_batch(name: str, a: Account, found: Sequence[Entry]) -> Batch:
    if not found:
        raise ResourceMissing(f"There is no {name} settlement: no funds are waiting to "
                              "be paid out.")
    return Batch(name, None, min(e.created for e in found), "open", None,
                 sum(e.net for e in found), tuple(found))


def open_batch(a: Account) -> Batch:
    return _pending_batch("open", a, _unpaid(a))


def next_batch(a: Account) -> Batch:
    unpaid = _unpaid(a)
    days = sorted({e.available_on for e in unpaid if e.available_on > a.now})
    due = days[0] if days else -1.0
    return _pending_batch("next", a, [e for e in unpaid if e.available_on <= due])


def _method(p: Payment | None) -> str:
    return (p.extra.get("method") or p.method or "creditcard") if p else "creditcard"


def _title(method: str) -> str:
    found = magic.METHODS.get(method)
    return found.title if found else method


def _line(description: str, method: str, count: int, minor: int, currency: str
          ) -> dict[str, Any]:
    amount = wire.money(minor, currency)
    return {"description": description, "method": method, "count": count,
            "amountNet": amount, "amountVat": None, "amountGross": amount}


def _lines(groups: dict[tuple[str, str], tuple[int, int]], currency: str
           ) -> list[dict[str, Any]]:
    return [_line(desc, method, n, total, currency)
            for (desc, method), (n, total) in groups.items()]


def _add(groups: dict[tuple[str, str], tuple[int, int]], key: tuple[str, str],
         amount: int) -> None:
    n, total = groups.get(key, (0, 0))
    groups[key] = (n + 1, total + amount)


def periods(entries: Iterable[Entry], a: Account) -> dict[str, dict[str, Any]]:
    """Revenue and costs per method, per year and month the movements were made."""
    months: dict[tuple[str, str], tuple[dict[tuple[str, str], tuple[int, int]],
                                        dict[tuple[str, str], tuple[int, int]]]] = {}
    for e in entries:
        at = datetime.fromtimestamp(e.created, UTC)
        revenue, costs = months.setdefault((at.strftime("%Y"), at.strftime("%m")), ({}, {}))
        method = _method(a.payments.get(e.payment_id or ""))
        title = _title(method)
        if e.type is EntryType.CHARGE:
            _add(revenue, (title, method), e.amount)
            _add(costs, (title, method), e.fee)
        elif e.type is EntryType.REFUND:
            _add(revenue, (f"Refunds {title}", "refund"), e.amount)
        elif e.type is EntryType.CHARGEBACK:
            _add(revenue, (f"Chargebacks {title}", "chargeback"), e.amount)
            if e.fee:
                _add(costs, ("Chargeback fees", "chargeback"), e.fee)
        else:
            _add(revenue, (f"Chargeback reversals {title}", "chargeback"), e.amount)
    out: dict[str, dict[str, Any]] = {}
    for (year, month), (revenue, costs) in sorted(months.items()):
        out.setdefault(year, {})[month] = {"revenue": _lines(revenue, a.currency),
                                           "costs": _lines(costs, a.currency)}
    return out


def settlement(ctx: Context, a: Account, b: Batch) -> dict[str, Any]:
    """Mollie's settlement object (https://docs.mollie.com/reference/get-settlement)."""
    url = f"{api_base(ctx)}/settlements/{b.id}"
    return {
        "resource": "settlement",
        "id": b.id,
        "reference": b.reference,
        "createdAt": wire.timestamp(b.created),
        "settledAt": None if b.settled is None else wire.timestamp(b.settled),
        "status": b.status,
        "amount": wire.money(b.amount, a.currency),
        "balanceId": a.balance_id,
        "periods": periods(b.entries, a),
        "_links": {
            "self": wire.link(url),
            "payments": wire.link(url + "/payments"),
            "refunds": wire.link(url + "/refunds"),
            "chargebacks": wire.link(url + "/chargebacks"),
            "documentation": wire.link(f"{wire.DOCS}/reference/get-settlement",
                                       "text/html"),
        },
    }


async def _batch(ctx: Context) -> tuple[Account, Batch]:
    """The settlement the path names: its id, its bank reference, `open` or `next`."""
    a = await account(ctx)
    wanted = ctx.path["id"]
    if wanted == "open":
        return a, open_batch(a)
    if wanted == "next":
        return a, next_batch(a)
    found = next((b for b in batches(ctx, a) if wanted in (b.id, b.reference)), None)
    if found is None:
        raise ResourceMissing(f"No settlement exists with token {wanted}.")
    return a, found


async def list_settlements(ctx: Context, params: dict[str, Any]) -> Any:
    a = await account(ctx)
    if params.get("balanceId") not in (None, a.balance_id):
        raise ResourceMissing(f"No balance exists with token {params['balanceId']}.")
    found, nxt = page_of(batches(ctx, a), params, lambda b: b.id)
    return listing(ctx, "settlements", [settlement(ctx, a, b) for b in found],
                   f"{api_base(ctx)}/settlements", params, nxt,
                   "settlements-api/list-settlements")


async def get_settlement(ctx: Context, params: dict[str, Any]) -> Any:
    a, b = await _batch(ctx)
    return settlement(ctx, a, b)


async def get_next_settlement(ctx: Context, params: dict[str, Any]) -> Any:
    a = await account(ctx)
    return settlement(ctx, a, next_batch(a))


async def get_open_settlement(ctx: Context, params: dict[str, Any]) -> Any:
    a = await account(ctx)
    return settlement(ctx, a, open_batch(a))


def _newest_first(entries: Iterable[Entry], kind: EntryType) -> list[Entry]:
    return sorted((e for e in entries if e.type is kind), key=lambda e: e.created,
                  reverse=True)


async def list_settlement_payments(ctx: Context, params: dict[str, Any]) -> Any:
    a, b = await _batch(ctx)
    seen: dict[str, Payment] = {}
    for e in _newest_first(b.entries, EntryType.CHARGE):
        p = a.payments.get(e.payment_id or "")
        if p is not None:
            seen.setdefault(p.id, p)
    found, nxt = page_of(list(seen.values()), params, lambda p: p.id)
    return listing(ctx, "payments", [body(ctx, p) for p in found],
                   f"{api_base(ctx)}/settlements/{ctx.path['id']}/payments", params, nxt,
                   "settlements-api/list-settlement-payments")


async def list_settlement_refunds(ctx: Context, params: dict[str, Any]) -> Any:
    a, b = await _batch(ctx)
    base = api_base(ctx)
    items: list[dict[str, Any]] = []
    for e in _newest_first(b.entries, EntryType.REFUND):
        p = a.payments.get(e.payment_id or "")
        r = next((x for x in p.refunds if x.id == e.source), None) if p else None
        if p is not None and r is not None:
            items.append(wire.refund(p, r, base))
    found, nxt = page_of(items, params, lambda r: r["id"])
    return listing(ctx, "refunds", found, f"{base}/settlements/{ctx.path['id']}/refunds",
                   params, nxt, "settlements-api/list-settlement-refunds")


async def list_settlement_chargebacks(ctx: Context, params: dict[str, Any]) -> Any:
    a, b = await _batch(ctx)
    items: list[dict[str, Any]] = []
    for e in _newest_first(b.entries, EntryType.CHARGEBACK):
        p = a.payments.get(e.payment_id or "")
        dispute = e.source.partition(":")[0]
        d = next((x for x in p.disputes if x.id == dispute), None) if p else None
        if p is not None and d is not None:
            items.append(chargebacks.chargeback(ctx, p, d))
    found, nxt = page_of(items, params, lambda c: c["id"])
    return listing(ctx, "chargebacks", found,
                   f"{api_base(ctx)}/settlements/{ctx.path['id']}/chargebacks", params,
                   nxt, "settlements-api/list-settlement-chargebacks")
