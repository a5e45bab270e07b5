"""Mollie's Balances API (read-only) -> the account's books (paysandbox/ledger), as
Mollie shows them (https://docs.mollie.com/reference/get-balance).

An API key has one balance, its primary one, in the settlement currency of the pricing
(`mollie.settlement.currency`, EUR by default). Its `availableAmount` is what became
available and was not yet paid out, its `pendingAmount` what is still on its way; it is
paid out daily (`transferFrequency: daily`), each payout being one settlement
(mollie/settlements.py). Every movement is a balance transaction: a paid payment (its
fees as `deductions`), a refund, a chargeback (its fee as `deductions`), a chargeback's
reversal, each payout (`outgoing-transfer`) and a payout the bank refused
(`returned-transfer`, when it was due to arrive).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paysandbox.core.ledger import DAY, Entry, EntryType, Payout
from paysandbox.core.payments import Payment
from paysandbox.errors import ResourceMissing
from paysandbox.ledger import AccountBooks
from paysandbox.providers.mollie import wire
from paysandbox.providers.mollie.payments import api_base, listing, page_of
from paysandbox.providers.seam import Context

#: Mollie's balance transaction type of each ledger entry type.
TYPES = {EntryType.CHARGE: "payment", EntryType.REFUND: "refund",
         EntryType.CHARGEBACK: "chargeback",
         EntryType.CHARGEBACK_REVERSAL: "chargeback-reversal"}

#: The currency of a balance that has seen no payment yet (the packaged pricing's).
DEFAULT_CURRENCY = "EUR"


@dataclass(frozen=True, slots=True)
class Account:
    """One API key's books at the request's moment, with its payments by id."""

    books: AccountBooks
    payments: Mapping[str, Payment]
    currency: str  # upper case, as Mollie writes it
    balance_id: str
    now: float


async def account(ctx: Context) -> Account:
    books = await ctx.ledger()
    pays = {p.id: p for p in await ctx.payments()}  # the payments the books are of
    code = books.entries[0].currency.upper() if books.entries else DEFAULT_CURRENCY
    return Account(books, pays, code, wire.stable_id("bal", "balance:" + ctx.namespace, 21),
                   ctx.clock.now())


def _missing(balance_id: str) -> ResourceMissing:
    return ResourceMissing(f"No balance exists with token {balance_id}.")


def _created(a: Account) -> float:
    """When the balance was opened: the day of the account's first payment (today's
    00:00 UTC while it has none)."""
    first = min((p.created for p in a.payments.values()), default=a.now)
    return first // DAY * DAY


def balance(ctx: Context, a: Account) -> dict[str, Any]:
    """Mollie's balance object (https://docs.mollie.com/reference/get-balance)."""
    code = a.currency.lower()
    base = api_base(ctx)
    return {
        "resource": "balance",
        "id": a.balance_id,
        "mode": "test",
        "createdAt": wire.timestamp(_created(a)),
        "currency": a.currency,
        "description": "Primary balance",
        "status": "active",
        "transferFrequency": "daily",
        "transferThreshold": wire.money(0, a.currency),
        "transferReference": "Mollie payout",
        "transferDestination": {"type": "bank-account", "beneficiaryName": "T. TEST",
                                "bankAccount": "NL53INGB0654422370",
                                "bankAccountId": wire.stable_id("bnk", a.balance_id, 6)},
        "availableAmount": wire.money(a.books.balance.available.get(code, 0), a.currency),
        "pendingAmount": wire.money(a.books.balance.pending.get(code, 0), a.currency),
        "_links": {
            "self": wire.link(f"{base}/balances/{a.balance_id}"),
            "documentation": wire.link(f"{wire.DOCS}/reference/get-balance", "text/html"),
        },
    }


async def balance_of(ctx: Context) -> Account:
    """The account, if the path names its balance (`primary` or its id)."""
    a = await account(ctx)
    wanted = ctx.path["id"]
    if wanted not in ("primary", a.balance_id):
        raise _missing(wanted)
    return a


async def list_balances(ctx: Context, params: dict[str, Any]) -> Any:
    a = await account(ctx)
    items = [a] if params.get("currency", a.currency).upper() == a.currency else []
    found, nxt = page_of(items, params, lambda x: x.balance_id)
    return listing(ctx, "balances", [balance(ctx, x) for x in found],
                   f"{api_base(ctx)}/balances", params, nxt, "balances-api/list-balances")


async def get_balance(ctx: Context, params: dict[str, Any]) -> Any:
    return balance(ctx, await balance_of(ctx))


async def get_primary_balance(ctx: Context, params: dict[str, Any]) -> Any:
    return balance(ctx, await account(ctx))


# -- transactions ----------------------------------------------------------------------

def settlement_id(p: Payout) -> str:
    return wire.stable_id("stl", "settlement:" + p.id)


def transfer_id(p: Payout) -> str:
    return wire.stable_id("trf", "transfer:" + p.id)


def _context(e: Entry) -> dict[str, str]:
    pid = e.payment_id or ""
    if e.type is EntryType.REFUND:
        return {"paymentId": pid, "refundId": e.source}
    if e.type is EntryType.CHARGEBACK:
        return {"paymentId": pid, "chargebackId": e.source.partition(":")[0]}
    return {"paymentId": pid}


def entry_transaction(e: Entry, currency: str) -> dict[str, Any]:
    """One movement as a balance transaction (https://docs.mollie.com/reference/
    list-balance-transactions): `initialAmount` gross, `deductions` the fees withheld
    (negative), `resultAmount` what reached the balance."""
    out: dict[str, Any] = {
        "resource": "balance_transaction",
        "id": wire.stable_id("baltr", "entry:" + e.id, 22),
        "type": TYPES[e.type],
        "resultAmount": wire.money(e.net, currency),
        "initialAmount": wire.money(e.amount, currency),
    }
    if e.fee:
        out["deductions"] = wire.money(-e.fee, currency)
    out["createdAt"] = wire.timestamp(e.created)
    out["context"] = _context(e)
    return out


def payout_transaction(p: Payout, currency: str) -> dict[str, Any]:
    """A payout: the settlement leaving the balance for the bank account."""
    amount = wire.money(-p.amount, currency)
    return {
        "resource": "balance_transaction",
        "id": wire.stable_id("baltr", "payout:" + p.id, 22),
        "type": "outgoing-transfer",
        "resultAmount": amount,
        "initialAmount": amount,
        "createdAt": wire.timestamp(p.created),
        "context": {"settlementId": settlement_id(p), "transferId": transfer_id(p)},
    }


def returned_transaction(p: Payout, currency: str) -> dict[str, Any]:
    """A payout the bank refused: its amount back on the balance when it was due."""
    return {**payout_transaction(p, currency),
            "id": wire.stable_id("baltr", "returned:" + p.id, 22),
            "type": "returned-transfer",
            "resultAmount": wire.money(p.amount, currency),
            "initialAmount": wire.money(p.amount, currency),
            "createdAt": wire.timestamp(p.arrival)}


def transactions(a: Account) -> list[dict[str, Any]]:
    """Every balance transaction, newest first (a payout after the movements of its
    day)."""
    rows = [(e.created, 0, entry_transaction(e, a.currency)) for e in a.books.entries
            if e.type in TYPES]
    for p in a.books.payouts:
        rows.append((p.created, 1, payout_transaction(p, a.currency)))
        if p.failed:
            rows.append((p.arrival, 1, returned_transaction(p, a.currency)))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    return [r[2] for r in rows]


async def list_balance_transactions(ctx: Context, params: dict[str, Any]) -> Any:
    a = await balance_of(ctx)
    found, nxt = page_of(transactions(a), params, lambda t: t["id"])
    return listing(ctx, "balance_transactions", found,
                   f"{api_base(ctx)}/balances/{ctx.path['id']}/transactions", params, nxt,
                   "balances-api/list-balance-transactions")
