"""Stripe's Balance, Balance Transactions and Payouts, read from the sandbox's ledger
(https://docs.stripe.com/api/balance, https://docs.stripe.com/api/balance_transactions,
https://docs.stripe.com/api/payouts).

Nothing here is stored: every request reads the account's books (`Context.ledger`,
paysandbox/ledger) at the virtual clock's now and renders them as Stripe does. A ledger
entry is a balance transaction (a charge `charge`, a refund `refund`, a chargeback
`adjustment` / `dispute`, its reinstatement `adjustment` / `dispute_reversal`), and each
daily payout is a payout with a balance transaction of its own (`payout`, negative), so
the available transactions add up to the available balance.

A scenario's `settlement:` section (core/drift.py) shows here as Stripe would show it:
lines missing or listed twice, fees above the pricing, payouts late, partial or failed
(`failed`, `account_closed`, and a `payout_failure` transaction giving the amount back).

A payout goes to the bank account that was the account's default on its day
(accounts.py); to one of Stripe's failing test accounts it fails when it would have
arrived, with the account's failure code, a `payout_failure` transaction then and the
amount back in the available balance.

LIMITATIONS: payouts are automatic, daily and standard; they are never canceled or
reversed, and one a scenario fails fails when it is made (its `payout_failure`
transaction is dated with it). No manual or instant payouts (no POST
/v1/payouts), no `balance.available` or `payout.reconciliation_completed` webhooks
(`payout.created`, `payout.paid` and `payout.failed` are sent), no Connect balances, no
`instant_available`, `connect_reserved` or `issuing` balances, no `/v1/balance/history`
alias, no `expand[]` (nor `expand[]=balance_transaction` on charges and refunds). A
charge's and a refund's `balance_transaction` is the one listed here for it; a dispute's
own `balance_transactions` carry ids of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paysandbox.core.ledger import Entry, EntryType, Payout
from paysandbox.errors import InvalidRequest
from paysandbox.ledger import AccountBooks
from paysandbox.objects import Objects
from paysandbox.providers.seam import Context
from paysandbox.providers.stripe import accounts, wire
from paysandbox.providers.stripe.errors import cursor_missing, missing

#: How Stripe types and reports each ledger movement: (type, reporting_category).
_TYPES: Mapping[EntryType, tuple[str, str]] = {
    EntryType.CHARGE: ("charge", "charge"),
    EntryType.REFUND: ("refund", "refund"),
    EntryType.CHARGEBACK: ("adjustment", "dispute"),
    EntryType.CHARGEBACK_REVERSAL: ("adjustment", "dispute_reversal"),
}

_FEE_DESCRIPTIONS = {"processing": "Stripe processing fees",
                     "international": "International card fee",
                     "fx": "Currency conversion fee",
                     "dispute_fee": "Dispute fee"}


def charge_id(payment_id: str) -> str:
    """The charge a PaymentIntent's attempt made (see payments.py)."""
    return "ch_" + payment_id.removeprefix("pi_")


def _payout_txn_id(payout_id: str, kind: str = "payout") -> str:
    digest = hashlib.blake2b(f"{kind}:{payout_id}".encode(), digest_size=12)
    return "txn_" + digest.hexdigest()


def _source(e: Entry) -> str | None:
    if e.type is EntryType.CHARGE:
        return charge_id(e.payment_id) if e.payment_id else None
    if e.type in (EntryType.CHARGEBACK, EntryType.CHARGEBACK_REVERSAL):
        return e.source.split(":", 1)[0]  # the dispute id (the source names its step)
    return e.source


def _description(e: Entry) -> str | None:
    charge = charge_id(e.payment_id) if e.payment_id else None
    if e.type is EntryType.REFUND:
        return f"REFUND FOR CHARGE ({charge})"
    if e.type is EntryType.CHARGEBACK:
        return f"Chargeback withdrawal for {charge}"
    if e.type is EntryType.CHARGEBACK_REVERSAL:
        return f"Chargeback reversal for {charge}"
    return None


def balance_transaction(e: Entry, now: float) -> dict[str, Any]:
    """Stripe's balance transaction for one ledger entry."""
    kind, category = _TYPES[e.type]
    return {
        "id": e.id,
        "object": "balance_transaction",
        "amount": e.amount,
        "available_on": int(e.available_on),
        "created": int(e.created),
        "currency": e.currency,
        "description": _description(e),
        "exchange_rate": None if e.exchange_rate is None else float(e.exchange_rate),
        "fee": e.fee,
        "fee_details": [{"amount": f.amount, "application": None, "currency": e.currency,
                         "description": _FEE_DESCRIPTIONS.get(f.kind, f.description),
                         "type": "stripe_fee"} for f in e.fees],
        "net": e.net,
        "reporting_category": category,
        "source": _source(e),
        "status": "available" if e.available_on <= now else "pending",
        "type": kind,
    }


@dataclass(frozen=True, slots=True)
class Paid:
    """One of the ledger's payouts as Stripe shows it: the bank account it went to and,
    when that account is one of Stripe's failing test accounts, the bank's refusal
    (`failure`), which fails the payout when it would have arrived."""

    payout: Payout
    destination: str = accounts.STARTING_ACCOUNT
    failure: str | None = None

    def failed_at(self, now: float) -> float | None:
        """When the payout failed (None: it has not): a scenario's failed payout as it
        is made, a refused one at its arrival."""
        if self.payout.failed:
            return self.payout.created
        if self.failure is not None and self.payout.arrival <= now:
            return self.payout.arrival
        return None

    def status(self, now: float) -> str:
        if self.failed_at(now) is not None:
            return "failed"
        return "paid" if self.payout.arrival <= now else "in_transit"

    def failure_code(self, now: float) -> str | None:
        if self.failed_at(now) is None:
            return None
        return self.failure or "account_closed"


#: Stripe's payout failure codes and their messages (https://docs.stripe.com/api/payouts/failures).
FAILURE_MESSAGES: Mapping[str, str] = {
    "account_closed": "The bank account has been closed.",
    "no_account": "The bank account details on file are probably incorrect. No bank "
                  "account could be located with those details.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "debit_not_authorized": "Debit transactions are not approved on the bank account. "
                            "(Stripe requires bank accounts to be set up for both credit "
                            "and debit payouts.)",
    "invalid_currency": "The bank was unable to process this payout because of its "
                        "currency. This is probably because the bank account cannot "
                        "accept payments in that currency.",
}


def payout_transaction(p: Paid, now: float, *, failure: bool = False) -> dict[str, Any]:
    """The balance transaction that takes a payout's amount out of the balance, or
    (`failure`) that of a failed payout's return, dated when it failed."""
    po = p.payout
    amount = po.amount if failure else -po.amount
    at = p.failed_at(now) if failure else None
    when = int(po.created if at is None else at)
    return {
        "id": _payout_txn_id(po.id, "payout_failure" if failure else "payout"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": when,
        "created": when,
        "currency": po.currency,
        "description": "STRIPE PAYOUT FAILURE" if failure else "STRIPE PAYOUT",
        "exchange_rate": None,
        "fee": 0,
        "fee_details": [],
        "net": amount,
        "reporting_category": "payout_reversal" if failure else "payout",
        "source": po.id,
        "status": "available",
        "type": "payout_failure" if failure else "payout",
    }


def payout(p: Paid, now: float) -> dict[str, Any]:
    """Stripe's payout object for one of the ledger's daily payouts."""
    po = p.payout
    code = p.failure_code(now)
    return {
        "id": po.id,
        "object": "payout",
        "amount": po.amount,
        "arrival_date": int(po.arrival),
        "automatic": True,
        "balance_transaction": _payout_txn_id(po.id),
        "created": int(po.created),
        "currency": po.currency,
        "description": "STRIPE PAYOUT",
        "destination": p.destination,
        "failure_balance_transaction": None if code is None
        else _payout_txn_id(po.id, "payout_failure"),
        "failure_code": code,
        "failure_message": None if code is None else FAILURE_MESSAGES[code],
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "reconciliation_status": "completed",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": p.status(now),
        "type": "bank_account",
    }


def _paid(books: AccountBooks, found: Sequence[accounts.BankAccountRecord]) -> list[Paid]:
    out = []
    for p in books.payouts:
        bank = accounts.default_at(found, p.created)
        out.append(Paid(p, bank["id"], accounts.failure(bank)))
    return out


async def settled(books: AccountBooks, objects: Objects) -> list[Paid]:
    """The account's payouts as Stripe shows them, oldest first, each to the bank
    account that was the default on its day."""
    return _paid(books, await accounts.bank_accounts(objects.of(accounts.BANK_ACCOUNTS)))


async def paid_out(ctx: Context, books: AccountBooks) -> list[Paid]:
    return _paid(books, await accounts.bank_accounts(ctx.objects(accounts.BANK_ACCOUNTS)))


def _amounts(by_currency: Mapping[str, int], currency: str) -> list[dict[str, Any]]:
    shown = dict(by_currency) or {currency: 0}
    return [{"amount": amount, "currency": code, "source_types": {"card": amount}}
            for code, amount in sorted(shown.items())]


# -- filters ---------------------------------------------------------------------------

def in_range(value: float, bound: Any) -> bool:
    """Stripe's `created=…` (exactly) or `created[gt|gte|lt|lte]=…`."""
    if isinstance(bound, int):
        return int(value) == bound
    v = int(value)
    return all(({"gt": v > n, "gte": v >= n, "lt": v < n, "lte": v <= n})[op]
               for op, n in bound.items())


def _page(items: Sequence[dict[str, Any]], *, limit: int, after: str | None,
          missing: Callable[[str], InvalidRequest]) -> tuple[list[dict[str, Any]], bool]:
    """A page of `items` after the last copy of the one whose id is `after`, and
    whether more follow. A line a scenario lists twice is listed twice in a row; a
    cursor names both copies, so a page never ends between them (it may hold one more
    than `limit`): a client paging through sees it twice, as the whole list shows it,
    not a third time."""
    start = 0
    if after:
        found = [n for n, t in enumerate(items) if t["id"] == after]
        if not found:
            raise missing(after)
        start = found[-1] + 1
    end = start + limit
    while start < end < len(items) and items[end]["id"] == items[end - 1]["id"]:
        end += 1
    return list(items[start:end]), end < len(items)


def _paged(params: Mapping[str, Any], items: Sequence[dict[str, Any]],
           url: str) -> dict[str, Any]:
    """A page of `items` (newest first) by `starting_after` or `ending_before`."""
    limit = params.get("limit", 10)
    before = params.get("ending_before")
    if before is not None and "starting_after" not in params:
        found, more = _page(list(reversed(items)), limit=limit, after=before,
                            missing=_before_missing)
        return wire.listing(url, list(reversed(found)), more)
    found, more = _page(items, limit=limit, after=params.get("starting_after"),
                        missing=cursor_missing)
    return wire.listing(url, found, more)


def _before_missing(before: str) -> InvalidRequest:
    return InvalidRequest(f"No such object: '{before}'", param="ending_before",
                          code="resource_missing")


def _transactions(books: AccountBooks, paid: Sequence[Paid],
                  now: float) -> list[dict[str, Any]]:
    """Every balance transaction of the account, newest first (a payout's after the
    entries it pays, which are older or of its day; its failure after it)."""
    made: list[tuple[float, int, int, dict[str, Any]]] = [
        (e.created, 0, n, balance_transaction(e, now)) for n, e in enumerate(books.entries)]
    made += [(p.payout.created, 1, n, payout_transaction(p, now))
             for n, p in enumerate(paid)]
    made += [(at, 2, n, payout_transaction(p, now, failure=True))
             for n, p in enumerate(paid) if (at := p.failed_at(now)) is not None]
    made.sort(key=lambda m: m[:3], reverse=True)
    return [m[3] for m in made]


def _returned(books: AccountBooks, paid: Sequence[Paid], now: float) -> dict[str, int]:
    """The available balance with the payouts a bank refused back in it (the ledger
    takes back only those a scenario failed)."""
    available = dict(books.balance.available)
    for p in paid:
        if not p.payout.failed and p.failed_at(now) is not None:
            code = p.payout.currency
            available[code] = available.get(code, 0) + p.payout.amount
    return available


# -- handlers -----------------------------------------------------------------------------

async def retrieve_balance(ctx: Context, params: dict[str, Any]) -> Any:
    books = await ctx.ledger()
    paid = await paid_out(ctx, books)
    currency = books.currency or "usd"
    available = _returned(books, paid, ctx.clock.now())
    return {"object": "balance", "available": _amounts(available, currency),
            "livemode": False, "pending": _amounts(books.balance.pending, currency)}


async def list_balance_transactions(ctx: Context, params: dict[str, Any]) -> Any:
    books = await ctx.ledger()
    paid = await paid_out(ctx, books)
    now = ctx.clock.now()
    found = _transactions(books, paid, now)
    if "payout" in params:
        po = next((p.payout for p in paid if p.payout.id == params["payout"]), None)
        if po is None:
            raise missing("payout", params["payout"], "payout")
        ids = {*po.entries, _payout_txn_id(po.id), _payout_txn_id(po.id, "payout_failure")}
        found = [t for t in found if t["id"] in ids]
    checks: list[Callable[[dict[str, Any]], bool]] = []
    if "type" in params:
        checks.append(lambda t: t["type"] == params["type"])
    if "source" in params:
        checks.append(lambda t: t["source"] == params["source"])
    if "currency" in params:
        checks.append(lambda t: t["currency"] == params["currency"].lower())
    if "created" in params:
        checks.append(lambda t: in_range(t["created"], params["created"]))
    found = [t for t in found if all(c(t) for c in checks)]
    return _paged(params, found, "/v1/balance_transactions")


async def retrieve_balance_transaction(ctx: Context, params: dict[str, Any]) -> Any:
    txn_id = ctx.path["id"]
    books = await ctx.ledger()
    paid = await paid_out(ctx, books)
    found = next((t for t in _transactions(books, paid, ctx.clock.now())
                  if t["id"] == txn_id), None)
    if found is None:
        raise missing("balance transaction", txn_id)
    return found


async def list_payouts(ctx: Context, params: dict[str, Any]) -> Any:
    books = await ctx.ledger()
    now = ctx.clock.now()
    found = [payout(p, now) for p in reversed(await paid_out(ctx, books))]
    if "status" in params:
        found = [p for p in found if p["status"] == params["status"]]
    if "destination" in params:
        found = [p for p in found if p["destination"] == params["destination"]]
    for field in ("created", "arrival_date"):
        if field in params:
            found = [p for p in found if in_range(p[field], params[field])]
    return _paged(params, found, "/v1/payouts")


async def retrieve_payout(ctx: Context, params: dict[str, Any]) -> Any:
    payout_id = ctx.path["id"]
    books = await ctx.ledger()
    found = next((p for p in await paid_out(ctx, books) if p.payout.id == payout_id), None)
    if found is None:
        raise missing("payout", payout_id)
    return payout(found, ctx.clock.now())
