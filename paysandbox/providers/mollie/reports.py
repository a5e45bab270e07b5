"""Mollie's balance report (https://docs.mollie.com/reference/get-balance-report): the
movements of the balance between two dates (`from` inclusive, `until` exclusive, in
Europe/Amsterdam time), summed, from the account's books (paysandbox/ledger).

A payment's gross amount and its fee are two movements (the fee a `fee-prepayment`, as
Mollie deducts its fees ahead of the invoice); a charge is pending until the day it
becomes available, refunds, chargebacks and payouts are available at once. Grouped by
status (`status-balances`: the pending and the available balance, each opened, moved
and closed) or by category (`transaction-categories`: payments, refunds, chargebacks,
transfers, fee-prepayments), with subtotals per transaction type and payment method.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from paysandbox.core.ledger import EntryType
from paysandbox.providers.mollie import wire
from paysandbox.providers.mollie.balances import TYPES, Account, balance_of
from paysandbox.providers.mollie.payments import api_base
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import Context

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

_CATEGORY = {EntryType.CHARGE: "payments", EntryType.REFUND: "refunds",
             EntryType.CHARGEBACK: "chargebacks",
             EntryType.CHARGEBACK_REVERSAL: "chargebacks"}


@dataclass(frozen=True, slots=True)
class Flow:
    """One movement of the balance: made at `created`, available at `available`."""

    category: str
    type: str
    method: str | None
    amount: int
    created: float
    available: float

    @property
    def pending(self) -> bool:
        return self.available > self.created


def flows(a: Account) -> list[Flow]:
    out: list[Flow] = []
    for e in a.books.entries:
        p = a.payments.get(e.payment_id or "")
        method = (p.extra.get("method") or p.method or None) if p else None
        out.append(Flow(_CATEGORY[e.type], TYPES[e.type], method, e.amount, e.created,
                        e.available_on))
        if e.fee:
            out.append(Flow("fee-prepayments", "fee-prepayment", method, -e.fee,
                            e.created, e.available_on))
    out += [Flow("transfers", "outgoing-transfer", None, -p.amount, p.created, p.created)
            for p in a.books.payouts if not p.failed]
    return out


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MollieError(f"The '{field}' parameter must be a date as YYYY-MM-DD, not "
                          f"{value!r}.", field=field, status=400) from None


def _start(d: date) -> float:
    return datetime.combine(d, time(), AMSTERDAM).timestamp()


class _Sums:
    """Amounts of flows, with subtotals per transaction type and method."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def total(self, found: Iterable[Flow], sign: int = 1) -> dict[str, Any]:
        found = list(found)
        by_type: dict[str, dict[str | None, list[int]]] = {}
        for f in found:
            by_type.setdefault(f.type, {}).setdefault(f.method, []).append(sign * f.amount)
        out: dict[str, Any] = {"amount": self.money(sum(sign * f.amount for f in found))}
        if found:
            out["subtotals"] = [
                {"transactionType": kind, "count": sum(len(v) for v in methods.values()),
                 "amount": self.money(sum(sum(v) for v in methods.values())),
                 "subtotals": [{"method": m, "count": len(v), "amount": self.money(sum(v))}
                               for m, v in methods.items() if m is not None]}
                for kind, methods in by_type.items()]
        return out

    def money(self, minor: int) -> dict[str, str]:
        return wire.money(minor, self.currency)


def totals(fs: list[Flow], t0: float, t1: float, grouping: str,
           currency: str) -> dict[str, Any]:
    s = _Sums(currency)

    def pending_at(t: float) -> list[Flow]:
        return [f for f in fs if f.pending and f.created < t <= f.available]

    def available_at(t: float) -> list[Flow]:
        return [f for f in fs if (f.available if f.pending else f.created) < t]

    def made_pending(found: list[Flow]) -> list[Flow]:
        return [f for f in found if f.pending and t0 <= f.created < t1]

    def moved(found: list[Flow]) -> list[Flow]:
        return [f for f in found if f.pending and t0 <= f.available < t1]

    def at_once(found: list[Flow]) -> list[Flow]:
        return [f for f in found if not f.pending and t0 <= f.created < t1]

    def amount(found: list[Flow]) -> dict[str, Any]:
        return {"amount": s.money(sum(f.amount for f in found))}

    if grouping == "status-balances":
        return {
            "pendingBalance": {"open": amount(pending_at(t0)),
                               "pending": s.total(made_pending(fs)),
                               "movedToAvailable": s.total(moved(fs), -1),
                               "close": amount(pending_at(t1))},
            "availableBalance": {"open": amount(available_at(t0)),
                                 "movedFromPending": s.total(moved(fs)),
                                 "immediatelyAvailable": s.total(at_once(fs)),
                                 "close": amount(available_at(t1))},
        }
    out: dict[str, Any] = {"open": {"pending": amount(pending_at(t0)),
                                    "available": amount(available_at(t0))}}
    for category in ("payments", "refunds", "chargebacks", "transfers", "fee-prepayments"):
        found = [f for f in fs if f.category == category]
        out[category] = {"pending": s.total(made_pending(found)),
                         "movedToAvailable": s.total(moved(found)),
                         "immediatelyAvailable": s.total(at_once(found))}
    out["close"] = {"pending": amount(pending_at(t1)), "available": amount(available_at(t1))}
    return out


async def get_balance_report(ctx: Context, params: dict[str, Any]) -> Any:
    a = await balance_of(ctx)
    first, until = _day(params["from"], "from"), _day(params["until"], "until")
    if until <= first:
        raise MollieError(f"The 'until' date ({until}) must be after the 'from' date "
                          f"({first}).", field="until", status=400)
    grouping = params.get("grouping", "status-balances")
    url = f"{api_base(ctx)}/balances/{ctx.path['id']}/report"
    return {
        "resource": "balance-report",
        "balanceId": a.balance_id,
        "timeZone": "Europe/Amsterdam",
        "from": first.isoformat(),
        "until": (until - timedelta(days=1)).isoformat(),  # the last day it covers
        "grouping": grouping,
        "totals": totals(flows(a), _start(first), _start(until), grouping, a.currency),
        "_links": {
            "self": wire.link(url + "?" + urlencode(params)),
            "documentation": wire.link(f"{wire.DOCS}/reference/get-balance-report",
                                       "text/html"),
        },
    }
