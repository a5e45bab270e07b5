"""The sandbox's own books: every payment's money movements as ledger entries, priced.

The ledger is read from the payments the store keeps, when asked (the admin API's
`GET /__admin/ledger`), never written beside them: a capture is a charge entry (converted
to the account's settlement currency at the rates table, less the provider's fees), a
refund a debit, a chargeback a debit with the provider's dispute fee and, once won, a
reinstatement. So it costs a payment nothing, it is the same in every process of a
fleet, and it holds exactly what the store holds: as many payments per account as
retention keeps (`--retain-payments`).

`Books` is what prices them: a pricing model and a settlement (currency, delay in days,
home country) per provider, with the settlements of the accounts that differ (by the
credential as the user knows it: an API key, or a sub-account a provider settles on its
own such as an Adyen merchant account), from `pricing.yaml` (or the user's `--pricing`
file), and the exchange rates from `rates.yaml` (or `--rates`).

A provider that settles parts of one credential's account apart says which part a
payment is of (providers.hooks.SubAccounts): its entries and payouts carry that
`sub_account`, and its settlement is that sub-account's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped,unused-ignore]

from paysandbox.core.disputes import Dispute
from paysandbox.core.drift import (
    Drift,
    Injected,
    drift_entries,
    drift_lines,
    drift_payouts,
)
from paysandbox.core.fees import (
    Blended,
    FeeLine,
    InterchangePlusPlus,
    MethodPrice,
    PerMethod,
    Pricing,
    Rates,
)
from paysandbox.core.ledger import (
    Balance,
    Entry,
    EntryType,
    Payout,
    Settlement,
    balance,
    charge_entry,
    payouts,
)
from paysandbox.core.payments import HistoryEntry, Payment, Status

__all__ = ["AccountBooks", "Books", "BooksError", "SubAccount", "account_books",
           "charge_entry_id", "entries", "ledger_json", "load_books", "refund_entry_id"]

#: The history steps that capture money (an approval that captures at once, a finished
#: action, a capture).
_CAPTURING = frozenset({"authorize", "complete", "capture"})


class BooksError(ValueError):
    """A pricing or rates file that cannot be used: every problem, one per line."""


@dataclass(frozen=True, slots=True)
class Terms:
    """One provider's pricing and settlement, and the accounts that settle otherwise."""

    pricing: Pricing
    settlement: Settlement
    dispute_fee: int = 0
    arrival_days: int = 1  # from a payout's day to the money in the bank
    #: By a sub-account's name (see SubAccount) or an account's credential.
    accounts: Mapping[str, Settlement] = field(default_factory=dict)

    def settlement_of(self, namespace: str, sub_account: str = "") -> Settlement:
        """How one account settles: its sub-account's own terms, else its credential's,
        else the provider's."""
        if self.accounts:
            found = (sub_account and self.accounts.get(sub_account)) or \
                self.accounts.get(namespace)
            if found:
                return found
        return self.settlement


@dataclass(frozen=True, slots=True)
class Books:
    terms: Mapping[str, Terms]
    rates: Rates


#: Which sub-account of its namespace a payment settles to ("" for none): a provider's
#: `sub_account` (providers.hooks.SubAccounts).
SubAccount = Callable[[Payment], str]


def _read(path: Path | None, default: str) -> tuple[Any, str]:
    if path is None:
        text = resources.files(__name__).joinpath(default).read_text(encoding="utf-8")
        return yaml.safe_load(text), f"<packaged {default}>"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
    except (OSError, yaml.YAMLError) as exc:
        raise BooksError(f"{path}: {exc}") from None


def _schema() -> Draft202012Validator:
    text = resources.files(__name__).joinpath("pricing.schema.json").read_text("utf-8")
    return Draft202012Validator(json.loads(text))


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _pricing(doc: Mapping[str, Any]) -> Pricing:
    model, tax = doc["model"], _dec(doc.get("tax_percent", 0))
    if model == "blended":
        return Blended(_dec(doc["percent"]), dict(doc["fixed"]),
                       _dec(doc.get("international_percent", 0)),
                       _dec(doc.get("fx_percent", 0)), tax)
    if model == "interchange_plus_plus":
        return InterchangePlusPlus({k: _dec(v) for k, v in doc["interchange"].items()},
                                   _dec(doc["scheme_fee_percent"]),
                                   _dec(doc["markup_percent"]), dict(doc["commission"]), tax)
    return PerMethod({name: MethodPrice(dict(m.get("fixed") or {}),
                                        _dec(m.get("percent", 0)))
                      for name, m in doc["methods"].items()}, tax)


def load_books(pricing: Path | None = None, rates: Path | None = None) -> Books:
    """The books from a pricing and a rates file (the packaged ones when None); every
    problem of a file at once, as BooksError."""
    doc, where = _read(pricing, "pricing.yaml")
    problems = [f"{where}: $.{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in _schema().iter_errors(doc)]
    rates_doc, rates_where = _read(rates, "rates.yaml")
    if not (isinstance(rates_doc, dict) and isinstance(rates_doc.get("base"), str)
            and isinstance(rates_doc.get("rates"), dict)
            and all(isinstance(v, int | float) and v > 0
                    for v in rates_doc["rates"].values())):
        problems.append(f"{rates_where}: expected `base: <currency>` and `rates:` mapping "
                        "each currency to a positive number of units per one base unit")
    if problems:
        raise BooksError("\n".join(problems))
    per_base = {str(k).lower(): _dec(v) for k, v in rates_doc["rates"].items()}
    table = Rates(rates_doc["base"].lower(), per_base)
    terms: dict[str, Terms] = {}
    for provider, p in doc.items():
        s = p["settlement"]
        settlement = Settlement(s["currency"], s["delay_days"], s.get("country", "US"))
        pricing_ = _pricing(p)
        problems += _unsettled(pricing_, settlement.currency, per_base,
                               f"{where}: $.{provider}.settlement.currency", rates_where)
        accounts: dict[str, Settlement] = {}
        for name, a in (p.get("accounts") or {}).items():
            accounts[str(name)] = Settlement(a["currency"],
                                             a.get("delay_days", settlement.delay_days),
                                             settlement.country)
            problems += _unsettled(pricing_, a["currency"], per_base,
                                   f"{where}: $.{provider}.accounts.{name}.currency",
                                   rates_where)
        terms[provider] = Terms(pricing_, settlement, p.get("dispute_fee", 0),
                                s.get("arrival_days", 1), accounts)
    if problems:
        raise BooksError("\n".join(problems))
    return Books(terms, table)


def _unsettled(pricing: Pricing, code: str, per_base: Mapping[str, Decimal], at: str,
               rates_where: str) -> list[str]:
    """What keeps an account from settling in `code`: no exchange rate for it, or a
    fixed fee the pricing has in other currencies only."""
    problems = []
    if code not in per_base:
        problems.append(f"{at}: {code} has no rate in {rates_where}")
    for name, table in _fixed_tables(pricing):
        if table and code not in table:
            problems.append(f"{at}: {code} has no {name} (it has: "
                            f"{', '.join(sorted(table))}); add `{code}: <minor units>`")
    return problems


def _fixed_tables(pricing: Pricing) -> list[tuple[str, Mapping[str, int]]]:
    if isinstance(pricing, Blended):
        return [("fixed fee", pricing.fixed)]
    if isinstance(pricing, InterchangePlusPlus):
        return [("commission", pricing.commission)]
    return [(f"fixed fee for {m}", price.fixed) for m, price in pricing.methods.items()]


def _entry_id(payment_id: str, kind: str, source: str) -> str:
    digest = hashlib.blake2b(f"{payment_id}:{kind}:{source}".encode(), digest_size=12)
    return "txn_" + digest.hexdigest()


def _captures(p: Payment) -> Iterator[tuple[str, HistoryEntry]]:
    """Each step of `p`'s history that captured money, with its charge entry's id."""
    for n, h in enumerate(p.history):
        if h.action in _CAPTURING and h.status is Status.CAPTURED and h.amount:
            yield _entry_id(p.id, "charge", str(n)), h


def charge_entry_id(p: Payment) -> str | None:
    """The id of the entry `p`'s capture made (what a provider shows as the charge's
    balance transaction), None before it is captured."""
    return next((entry_id for entry_id, _ in _captures(p)), None)


def refund_entry_id(payment_id: str, refund_id: str) -> str:
    """The id of the entry a refund of payment `payment_id` made."""
    return _entry_id(payment_id, EntryType.REFUND.value, refund_id)


def _debit(p: Payment, settlement: Settlement, sub_account: str, books: Books,
           kind: EntryType, source: str, amount: int, at: float, fee: int = 0) -> Entry:
    """A movement that is not a charge, in the settlement currency, available at once."""
    target = settlement.currency
    converted = p.currency.lower() != target
    gross, rate = (books.rates.convert(amount, p.currency, target) if converted
                   else (amount, None))
    sign = -1 if kind in (EntryType.REFUND, EntryType.CHARGEBACK) else 1
    fees = (FeeLine("dispute_fee", fee, "chargeback fee"),) if fee else ()
    return Entry(_entry_id(p.id, kind.value, source), p.namespace, p.provider, kind, source,
                 p.id, target, sign * gross, fees, at, at,
                 sign * amount if converted else None,
                 p.currency.lower() if converted else None, rate, sub_account)


def _dispute_entries(p: Payment, d: Dispute, terms: Terms, settlement: Settlement,
                     sub_account: str, books: Books) -> list[Entry]:
    """Funds withdrawn when a chargeback opens or reopens, back when it is won."""
    out: list[Entry] = []
    held = False
    for n, h in enumerate(d.history):
        if h.action in ("opened", "reopened") and not held and \
                (h.action == "reopened" or d.funds_withdrawn or d.funds_reinstated):
            out.append(_debit(p, settlement, sub_account, books, EntryType.CHARGEBACK,
                              f"{d.id}:{n}", d.amount, h.at, terms.dispute_fee))
            held = True
        elif h.action == "won" and held:
            out.append(_debit(p, settlement, sub_account, books,
                              EntryType.CHARGEBACK_REVERSAL, f"{d.id}:{n}", d.amount, h.at))
            held = False
    return out


def entries(p: Payment, books: Books, sub_account: str = "") -> list[Entry]:
    """Payment `p`'s movements of funds, oldest first ([] for a provider the books do
    not price), in its account's settlement currency: that of `sub_account` (the part
    of its namespace it settles to, see SubAccount) or of its namespace, if either has
    its own, else the provider's."""
    terms = books.terms.get(p.provider)
    if terms is None:
        return []
    settlement = terms.settlement_of(p.namespace, sub_account)
    card = p.card
    out: list[Entry] = []
    for entry_id, h in _captures(p):
        assert h.amount is not None  # (a capture's step says how much)
        out.append(charge_entry(
            entry_id, account=p.namespace,
            provider=p.provider, payment_id=p.id, amount=h.amount,
            currency=p.currency, method=p.method,
            funding=card.funding if card else "credit",
            card_country=card.country if card else None, created=h.at,
            pricing=terms.pricing, settlement=settlement, rates=books.rates,
            sub_account=sub_account))
    out += [_debit(p, settlement, sub_account, books, EntryType.REFUND, r.id, r.amount,
                   r.created) for r in p.refunds]
    for d in p.disputes:
        out += _dispute_entries(p, d, terms, settlement, sub_account, books)
    out.sort(key=lambda e: e.created)
    return out


def entry_json(e: Entry) -> dict[str, Any]:
    return {
        "id": e.id, "type": e.type.value, "provider": e.provider, "source": e.source,
        "payment": e.payment_id, "currency": e.currency, "amount": e.amount,
        "fee": e.fee, "net": e.net, "created": e.created, "available_on": e.available_on,
        "fee_details": [{"type": f.kind, "amount": f.amount, "description": f.description}
                        for f in e.fees],
        "original_amount": e.original_amount, "original_currency": e.original_currency,
        "exchange_rate": None if e.exchange_rate is None else str(e.exchange_rate),
        "sub_account": e.sub_account or None}


@dataclass(frozen=True, slots=True)
class AccountBooks:
    """One account's books at a moment: its entries (oldest first), the daily payouts
    made of them so far, and what is left."""

    entries: list[Entry]
    payouts: list[Payout]
    balance: Balance
    #: The discrepancies a scenario's `settlement:` section put in (core/drift.py).
    injected: tuple[Injected, ...] = ()
    #: The account's settlement currency (None when the books do not price its
    #: provider): what an account with no movements yet shows its zero balance in.
    currency: str | None = None
    #: The payments the entries are of, as the store listed them (newest first): what a
    #: provider renders beside its books (a payment's reference, its merchant account).
    payments: Sequence[Payment] = ()


def account_books(found: Iterable[Payment], books: Books, now: float,
                  drift: Drift | None = None, *, provider: str | None = None,
                  namespace: str = "", sub_account: SubAccount | None = None
                  ) -> AccountBooks:
    """The books of the payments of one account (one provider, one namespace); with
    `drift`, as the provider reports them, discrepancies and all; with `provider` (and
    the `namespace`), in its settlement currency; with `sub_account`, each payment's
    entries and payouts in the part of the account it settles to."""
    found = list(found)
    kept = sorted((e for p in found
                   for e in entries(p, books, sub_account(p) if sub_account else "")),
                  key=lambda e: e.created)
    arrival = books.terms[kept[0].provider].arrival_days if kept else 1
    terms = books.terms.get(provider) if provider is not None else None
    currency = terms.settlement_of(namespace).currency.lower() if terms is not None \
        else None
    if drift is None:
        paid = payouts(kept, now, arrival_days=arrival)
        return AccountBooks(kept, paid, balance(kept, now, paid=paid), currency=currency,
                            payments=found)
    injected: list[Injected] = []
    moved = drift_entries(kept, drift, injected)
    paid = drift_payouts(payouts(moved, now, arrival_days=arrival), drift, injected)
    return AccountBooks(drift_lines(moved, drift, injected), paid,
                        balance(moved, now, paid=paid), tuple(injected), currency, found)


def payout_json(p: Payout, now: float) -> dict[str, Any]:
    return {"id": p.id, "provider": p.provider, "currency": p.currency, "amount": p.amount,
            "created": p.created, "arrival": p.arrival, "status": p.status(now),
            "entries": len(p.entries), "sub_account": p.sub_account or None}


def ledger_json(found: Iterable[Payment], books: Books, now: float, *,
                limit: int, drift: Drift | None = None,
                sub_accounts: Mapping[str, SubAccount] | None = None) -> dict[str, Any]:
    """Per account (provider and namespace, and the sub-account a provider in
    `sub_accounts` says a payment settles to): its balance per currency and payouts,
    and the discrepancies `drift` puts in what the provider reports of it; and the
    newest `limit` entries of them all (the truth)."""
    parts = sub_accounts or {}
    by_account: dict[tuple[str, str, str], list[Payment]] = {}
    for p in found:
        part = parts.get(p.provider)
        by_account.setdefault((p.provider, p.namespace, part(p) if part else ""),
                              []).append(p)
    accounts, every = [], []
    for (provider, namespace, sub), kept in sorted(by_account.items()):
        part = parts.get(provider)
        a = account_books(kept, books, now, sub_account=part)
        if not a.entries:
            continue
        every += a.entries
        reported = account_books(kept, books, now, drift, sub_account=part) \
            if drift is not None else a
        accounts.append({"provider": provider, "namespace": namespace[:8] + "…",
                         "sub_account": sub or None,
                         "entries": len(a.entries), "available": a.balance.available,
                         "pending": a.balance.pending,
                         "payouts": [payout_json(p, now) for p in a.payouts[-limit:]],
                         "injected": [{"kind": i.kind, "id": i.id, "detail": i.detail}
                                      for i in reported.injected]})
    every.sort(key=lambda e: e.created, reverse=True)
    return {"now": now, "accounts": accounts,
            "entries": [entry_json(e) for e in every[:limit]], "total_entries": len(every)}
